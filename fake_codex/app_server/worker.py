"""One app-server turn on a worker thread: the scenario turn picked and checked (prompt, loaded
history), the shared `TurnRunner` run with an `AppRecorder`, its exec events translated to
notifications; a refused turn or a fake limitation fails the turn (`turn/completed` failed).
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fake_codex.agent.history import check_history, for_prompt, history_text
from fake_codex.agent.lines import TurnInfo
from fake_codex.agent.runner import TurnRunner, TurnSetup
from fake_codex.app_server.controls import Requests, approve_command
from fake_codex.app_server.notes import Notes, Translator, TurnAbandoned, user_message_item
from fake_codex.app_server.state import AppRecorder, Job, JobWriter, LoadedThread
from fake_codex.core import events as ev
from fake_codex.core import gates
from fake_codex.core.config import settings_from
from fake_codex.core.home import claim_turn
from fake_codex.core.scenario import FakeLimitation, default_turn

if TYPE_CHECKING:
    from fake_codex.app_server.turn_log import TurnLog
    from fake_codex.core.events import Totals
    from fake_codex.core.scenario import Scenario, Turn
    from fake_codex.core.versions import Behaviour


class _TurnRefused(Exception):
    """The scenario refuses this turn (prompt or history mismatch, no turn left): it fails."""


@dataclass(frozen=True)
class TurnWorker:
    """What a turn needs from the server: the scenario, the version, the notification writer."""

    scenario: Scenario | None
    b: Behaviour
    out: Notes
    home: Path
    turn_log: TurnLog  # thread id → its completed turns, in full
    requests: Requests | None = None

    def info(self, thread: LoadedThread, turn_id: str) -> TurnInfo:
        settings = settings_from(thread.config, thread.model)
        return TurnInfo(
            thread_id=thread.id,
            cwd=str(thread.cwd),
            model=settings.model or self.b.default_model,
            provider_id=settings.provider_id,
            approval_policy="never",
            sandbox="danger-full-access",
            turn_id=turn_id,
        )

    def start(self, thread: LoadedThread, job: Job, prompt: str) -> None:
        """Run the turn on a daemon thread: the JSON-RPC loop keeps reading (interrupt, steer)."""
        threading.Thread(target=self._run, args=(thread, job, prompt), daemon=True).start()

    def _run(self, thread: LoadedThread, job: Job, prompt: str) -> None:
        translator = Translator(self.out, thread.id, job, self.b, self.scenario)
        translator.cwd = str(thread.cwd)
        translator.on_end = lambda turn: self.turn_log.append(thread.id, turn)
        try:
            translator.begin(user_message_item(prompt, self.b.family))
            turn = self._pick_turn(thread, prompt)
            translator.expect(turn)
            writer = JobWriter(thread.writer, job)
            recorder = AppRecorder(writer, self.b, self.info(thread, job.turn_id))

            def on_usage(last: Totals, total: Totals) -> None:
                thread.last = last
                translator.usage(last, total)

            recorder.on_usage = on_usage
            if not thread.first_turn:
                recorder.restore_last(thread.last)
            setup = TurnSetup(
                turn=turn,
                behaviour=self.b,
                settings=settings_from(thread.config, thread.model),
                cwd=thread.cwd,
                prompt=prompt,
                emit=translator.feed,
                recorder=recorder,
                thread_totals=thread.totals,
                first_turn=thread.first_turn,
                label=self._label(),
                mcp=thread.mcp,
                history=lambda: for_prompt(list(thread.items), self.b.family),
                tool_item=translator.tool_item,
                hold=lambda name: gates.hold(self.home, name),
                approve=self._approver(thread, job, translator),
                steered=lambda: _take_steers(job, translator, self.b.family),
            )
            TurnRunner(setup).run()
            thread.first_turn = False
        except TurnAbandoned:
            pass  # interrupted during a silent model (fault): nothing more is sent or written
        except (FakeLimitation, _TurnRefused) as exc:
            sys.stderr.write(f"{exc}\n")
            translator.fail(str(exc))
        finally:
            if not job.hung:
                job.done.set()

    def _approver(
        self, thread: LoadedThread, job: Job, translator: Translator
    ) -> Callable[[str, str, str, Any], bool] | None:
        requests = self.requests
        if requests is None or job.approval_policy != "on-request":
            return None

        def approve(item_id: str, command: str, cwd: str, reason: Any) -> bool:
            # Real 0.171: active (waiting on approval), the item started, the request; then a
            # declined item before the status clears, or the status before the item runs.
            translator.status_active(["waitingOnApproval"])
            translator.feed(ev.item_started(ev.command(item_id, command, "", None)))
            shown = translator.client_item_id(item_id)
            approved = approve_command(requests, job, thread.id, shown, command, cwd, reason)
            if not approved:
                declined = {**ev.command(item_id, command, "", None), "status": "declined"}
                translator.feed(ev.item_completed({**declined, "aggregated_output": None}))
            translator.status_active([])
            return approved

        return approve

    def _label(self) -> str:
        return f"fake-codex: scenario {self.scenario.source}" if self.scenario else "fake-codex"

    def _pick_turn(self, thread: LoadedThread, prompt: str) -> Turn:
        if self.scenario is None:
            return default_turn(prompt, False)
        index = claim_turn(self.home, str(Path(self.scenario.source).resolve()))
        where = f"{self._label()}, turn {index}"
        if index >= len(self.scenario.turns):
            raise _TurnRefused(
                f"{self._label()} has {len(self.scenario.turns)} turn(s), but this is turn "
                f"#{index + 1} with it"
            )
        turn = self.scenario.turns[index]
        if turn.expect_prompt is not None and prompt != turn.expect_prompt:
            raise _TurnRefused(f"{where}: prompt {prompt!r} != expect_prompt")
        if turn.expect_prompt_contains is not None and turn.expect_prompt_contains not in prompt:
            raise _TurnRefused(f"{where}: prompt {prompt!r} lacks expect_prompt_contains")
        if turn.expect_history_contains or turn.expect_history_excludes:
            # The loaded history, not the file: a loaded thread ignores edits (codex-facts §11).
            problem = check_history(
                history_text(for_prompt(list(thread.items), self.b.family), prompt),
                turn.expect_history_contains,
                turn.expect_history_excludes,
            )
            if problem is not None:
                raise _TurnRefused(f"{where}: {problem}")
        return turn


def _take_steers(job: Job, translator: Translator, family: int) -> list[str]:
    """The steers the turn took since the last model request, each announced as a user item
    when it joins the history (the real codex shows it then, not when `turn/steer` answers)."""
    taken = job.steers[:]
    del job.steers[: len(taken)]  # `turn/steer` may append meanwhile, from the reader thread
    for text in taken:
        translator.steer(user_message_item(text, family))
    return taken
