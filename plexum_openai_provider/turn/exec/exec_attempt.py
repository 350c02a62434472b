"""The exec backend's attempt: one `codex exec [resume]` process, from spawn to reaped, as events.

The contract is the seam's (`turn/backend.py`): canonical events, then exactly one terminal event,
or `ThreadLost` when codex prints that it has no rollout for the thread it was asked to resume.
The prompt goes to stdin; stdout is read by `stdout_loop`, mapped by `mapper`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import AsyncGenerator, AsyncIterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from ...codex.argv import build_exec_argv, redact_argv
from ...codex.thread_id import is_plain_id
from ...config import codex_env
from ...events import CanonicalEvent, ErrorEvent, TextDelta, Usage, WarningEvent
from ...process import (
    StderrTail,
    adopt,
    exited,
    release_pipes,
    signal_group,
    spawn,
    terminate_group,
    write_and_close,
)
from ..backend import (
    Attempt,
    AttemptEvents,
    ThreadBusy,
    ThreadLost,
    message_end,
    prompt_for_log,
)
from ..clock import Stop
from ..inputs import turn_end
from ..messages import spawn_failed, stderr_tail_text, stop_event
from ..mirror import RolloutPosition

if TYPE_CHECKING:
    from ...sessions import ThreadRecord
    from .mapper import TurnMapper

log = logging.getLogger(__name__)

# What codex prints on stderr when `exec resume` finds no rollout for the thread.
NO_ROLLOUT = "no rollout found"


def signal_text(number: int) -> str:
    """`signal 9 (SIGKILL)`; a real-time or unknown signal has no name: `signal 40`."""
    try:
        return f"signal {number} ({signal.Signals(number).name})"
    except ValueError:
        return f"signal {number}"


@dataclass
class ExecAttempt(Attempt):
    """One `codex exec` attempt: what codex has said so far."""

    extra_args: tuple[str, ...] = ()  # the turn's MCP options, effort and codex options
    mapper: TurnMapper = field(init=False)
    fresh_thread: bool = field(init=False)
    last_text: str | None = field(default=None, init=False)  # the final agent message so far
    prompt_error: BaseException | None = field(default=None, init=False)

    def __post_init__(self) -> None:
        self.fresh_thread = self.record is None

    async def run(self) -> AttemptEvents:
        config, request, record = self.config, self.request, self.record
        limits = self.limits
        argv = build_exec_argv(
            config.binary,
            resume_thread_id=record.thread_id if record else None,
            model_arg=self.setup.model_arg,
            extra_args=[*config.extra_args, *self.extra_args, *self.setup.turn_config],
            turn_args=self.setup.turn_args,
            sandbox_args=self.setup.sandbox.exec_args(),
        )
        log.debug("starting %s in %s", redact_argv(argv), request.workspace)
        prompt = request.prompt.encode("utf-8")  # checked by the turn before anything started
        if log.isEnabledFor(logging.DEBUG):  # a digest for nobody to read otherwise
            log.debug("prompt: %s", prompt_for_log(request.prompt, verbatim=config.log_prompts))
        # A head-started codex passed the same busy check before it was spawned (`head_start`).
        proc = await self._adopt(argv, record)
        if proc is None:
            busy = await self.busy_before_resume()
            if busy is not None:
                yield busy
                return
            # Before codex starts: once it runs it appends this turn's lines to the same file.
            self.start = await self.locate_start()
            try:
                proc = await spawn(argv, cwd=request.workspace, env=codex_env(config))
            except OSError as exc:
                yield spawn_failed(config, exc)
                return
        # From here on codex runs: every step sits inside this try, so none can skip the teardown.
        helpers: list[asyncio.Task[None]] = []
        try:
            self.setup.on_spawn(proc.pid)
            # Imported only now, so a cold `say` loads the stream machinery while codex starts up.
            from .mapper import TurnMapper

            self.mapper = TurnMapper(previous_total=self.previous_total)
            stderr = StderrTail()
            helpers.append(asyncio.create_task(self._feed(proc, prompt)))
            helpers.append(asyncio.create_task(stderr.drain(proc.stderr)))
            try:
                async with contextlib.aclosing(self._stream(proc)) as stream:
                    async for event in stream:
                        yield event
            except Stop as stop:
                for event in self.mapper.finish():
                    yield event
                await terminate_group(proc, grace_s=limits.kill_grace_s)
                async for event in self._mirror():
                    yield event
                yield stop_event(config, stop.code)
                return
            self.clock.settle()  # codex's stdout has ended: a cancel from now on is too late
            for event in self.mapper.finish():
                yield event
            await self._wait_exit(proc)
            await asyncio.wait(helpers, timeout=1.0)
            async for event in self._mirror():
                yield event
            final = self._finish(proc, stderr)
            for end in turn_end(final, request.output_schema, self.last_text):
                yield end
        finally:
            for task in helpers:
                task.cancel()
            try:
                # Stops codex if it still runs, reaps it, and sweeps what it left in its group.
                await terminate_group(proc, grace_s=limits.kill_grace_s)
                release_pipes(proc)
            except BaseException:
                # Even a failing (or cancelled) graceful stop leaves no process behind.
                signal_group(proc.pid, signal.SIGKILL)
                raise
            finally:
                await self.settle_save()

    async def _adopt(
        self, argv: list[str], record: ThreadRecord | None
    ) -> asyncio.subprocess.Process | None:
        """The codex a cold `say` started before the loop ran (`head_start`), if it is the one
        this attempt would start: where the rollout ended was taken then, the prompt written."""
        early = self.setup.head_start
        if early is None or not early.matches(argv, record):
            if early is not None:
                early.stop_process()  # not this attempt's codex: the attempt starts its own
            return None
        try:
            proc = await adopt(early.popen, early.marker)
        except OSError:
            early.stop_process()
            return None
        except BaseException:
            early.stop_process()
            raise
        early.process_taken = True
        self.start, self.prompt_error = early.start, early.prompt_error
        return proc

    async def _feed(self, proc: asyncio.subprocess.Process, prompt: bytes) -> None:
        """Write the prompt and close stdin; if that fails, stop codex rather than let it wait
        for EOF forever (or answer half a prompt)."""
        try:
            await write_and_close(proc, prompt)
        except BaseException as exc:
            self.prompt_error = exc
            signal_group(proc.pid, signal.SIGKILL)
            raise

    async def _stream(
        self, proc: asyncio.subprocess.Process
    ) -> AsyncGenerator[CanonicalEvent, None]:
        from ...codex.exec_stream import ThreadStarted
        from .stdout_loop import stream_events

        stream_gen = stream_events(
            proc,
            self.mapper,
            self.clock,
            max_line_bytes=self.limits.max_line_bytes,
            post_exit_drain_s=self.limits.post_exit_drain_s,
            kill_grace_s=self.limits.kill_grace_s,
        )
        async with contextlib.aclosing(stream_gen) as stream:
            async for item in stream:
                if isinstance(item, ThreadStarted):
                    async for event in self._thread_started(item.thread_id):
                        yield event
                else:
                    if isinstance(item, TextDelta):
                        self.last_text = item.text
                    yield item

    async def _wait_exit(self, proc: asyncio.subprocess.Process) -> None:
        exit_task = asyncio.create_task(exited(proc))
        try:
            await self.clock.wait(exit_task, idle=False)
        except Stop:
            await terminate_group(proc, grace_s=self.limits.kill_grace_s)
        finally:
            exit_task.cancel()

    async def _thread_started(self, thread_id: str) -> AsyncIterator[CanonicalEvent]:
        record = self.record
        self.thread_id = thread_id
        self.fresh_thread = record is None or thread_id != record.thread_id
        if record is not None and thread_id != record.thread_id:
            yield WarningEvent(
                f"codex started a new thread {thread_id} instead of resuming "
                f"{record.thread_id}; the earlier conversation is not in its context"
            )
        if not is_plain_id(thread_id):
            yield WarningEvent(
                f"codex reported thread id {thread_id!r}, which is not a plain id; it is not "
                "stored, so the next turn of this session starts a new thread"
            )
            return
        if record is None or thread_id != record.thread_id:
            self.save_new_thread(thread_id)

    def _mirror(self) -> AsyncIterator[CanonicalEvent]:
        """This turn's tool calls from the rollout; then the thread's record is updated."""
        from .mapper import Completed

        record, outcome = self.record, self.mapper.outcome
        same_thread = record is not None and record.thread_id == self.thread_id
        start = self.start if same_thread else RolloutPosition(None, 0)
        reported = outcome.thread_usage if isinstance(outcome, Completed) else None
        return self.mirror_and_save(start, reported)

    def _finish(
        self, proc: asyncio.subprocess.Process, stderr: StderrTail
    ) -> CanonicalEvent | ThreadLost | ThreadBusy:
        """The attempt's last word once codex has exited: terminal event, `ThreadLost` or
        `ThreadBusy` (codex refused the thread: another process writes it; empty stdout)."""
        from ..failures import classify_failure
        from .mapper import Completed, Failed

        outcome, thread_id = self.mapper.outcome, self.thread_id
        if isinstance(outcome, Completed) and thread_id is not None:
            before = Usage() if self.fresh_thread else self.previous_total
            return message_end(thread_id, outcome.thread_usage, before=before, context=self.context)
        if isinstance(outcome, Completed):
            return ErrorEvent(
                "protocol",
                "codex reported turn.completed but never thread.started, so the turn has no "
                "thread id and the session cannot continue it. Check that `binary` is codex "
                "(`codex --version`).",
            )
        if isinstance(outcome, Failed):
            code, message = classify_failure(outcome.message)
            return ErrorEvent(code, message)
        if self.prompt_error is not None:
            return ErrorEvent(
                "spawn",
                f"the prompt could not be written to codex's stdin ({self.prompt_error!r}); "
                "codex was stopped before it could answer",
            )
        tail = stderr.text().strip()
        returncode = proc.returncode
        if self.record is not None and thread_id is None and NO_ROLLOUT in tail:
            return ThreadLost(self.record.thread_id)
        busy = self.busy_from_codex(tail) if thread_id is None else None
        if busy is not None:
            return busy
        if returncode is not None and returncode != 0:
            how = (
                f"was killed by {signal_text(-returncode)}"
                if returncode < 0
                else f"exited with code {returncode}"
            )
            return ErrorEvent("exit", f"codex {how} before the turn ended.{stderr_tail_text(tail)}")
        return ErrorEvent(
            "protocol",
            "codex exited without reporting the end of the turn (no turn.completed or "
            f"turn.failed).{stderr_tail_text(tail)}",
        )
