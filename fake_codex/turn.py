"""One codex turn driven by a scenario `Turn`: model replies in, exec events and rollout out.

Each `Reply` answers one model request. A reply with local tool calls (exec_command,
apply_patch, unknown names) makes codex send another request, so the next reply is consumed;
a failed reply is retried (next reply, or the same one again when none is left) while the
provider's `stream_max_retries` allows, else the turn fails with codex's text.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fake_codex import exec_events as ev
from fake_codex.config import Settings
from fake_codex.model_errors import Failure, describe_failure, reconnecting
from fake_codex.recorder import Recorder
from fake_codex.scenario import (
    CustomToolCallItem,
    FunctionCallItem,
    MessageItem,
    ReasoningItem,
    Reply,
    Turn,
    Usage,
    WebSearchCallItem,
)
from fake_codex.versions import Behaviour


class FakeLimitation(Exception):
    """The scenario asks for something this fake cannot do (exit 70, never codex behaviour)."""


@dataclass
class TurnSetup:
    turn: Turn
    behaviour: Behaviour
    settings: Settings
    cwd: Path
    prompt: str
    emit: Callable[[Any], None]
    recorder: Recorder
    thread_totals: ev.Totals
    switched_from: str | None = None
    first_turn: bool = True
    label: str = "turn"


@dataclass(frozen=True)
class TurnOutcome:
    last_message: str | None
    failure: Failure | None


def _totals(usage: Usage | None) -> ev.Totals:
    if usage is None:
        return ev.Totals()
    return ev.Totals(
        usage.input_tokens,
        usage.cached_tokens,
        usage.cache_write_tokens,
        usage.output_tokens,
        usage.reasoning_tokens,
    )


class _Replies:
    def __init__(self, setup: TurnSetup) -> None:
        self._it: Iterator[Reply] = iter(setup.turn.requests)
        self._label = setup.label
        self.last: Reply | None = None
        self.count = 0

    def next(self, retry: bool = False) -> Reply:
        reply = next(self._it, None)
        if reply is None:
            if retry and self.last is not None:
                return self.last  # a persisting failure: codex would see the same error again
            raise FakeLimitation(
                f"{self._label}: codex would send model request #{self.count + 1}, but the "
                f"scenario has only {self.count} replies for this turn"
            )
        self.count += 1
        self.last = reply
        return reply


class TurnRunner:
    def __init__(self, setup: TurnSetup) -> None:
        self.s = setup
        self.ids = ev.ItemIds()
        self.replies = _Replies(setup)
        self.last_message: str | None = None
        self._responses = 0
        self._out_seq = 0

    def _delay(self, reply: Reply) -> None:
        if reply.delay_ms:
            time.sleep(reply.delay_ms / 1000)

    def _account(self, reply: Reply) -> ev.Totals:
        last = _totals(reply.usage)
        self.s.thread_totals.add(last)
        self.s.recorder.usage_record(f"resp_{self._responses}", last, self.s.thread_totals)
        self._responses += 1
        return last

    def _compaction(self) -> Failure | None:
        """A model switch on resume: codex first asks the old model for a summary."""
        assert self.s.switched_from is not None
        reply = self.replies.next()
        failure = describe_failure(reply, self.s.behaviour, self.s.settings.url)
        if failure is not None:
            return failure
        summary = "\n".join(i.text for i in reply.output if isinstance(i, MessageItem))
        last = self._account(reply)
        self.s.recorder.token_count(last, self.s.thread_totals)
        self.s.recorder.compacted(summary)
        return None

    def run(self) -> TurnOutcome:
        s = self.s
        if s.switched_from is not None:
            text = (
                f"This session was recorded with model `{s.switched_from}` but is resuming with "
                f"`{s.recorder.t.model}`. Consider switching back to `{s.switched_from}` as it "
                "may affect Codex performance."
            )
            s.emit(ev.item_completed(ev.error_item(self.ids.new(), text)))
        s.emit(ev.turn_started())
        s.recorder.task_started()
        s.recorder.context(s.first_turn)
        if s.switched_from is not None:
            failure = self._compaction()
            if failure is not None:
                return self._fail(failure)
        s.recorder.user_message(s.prompt)
        retries = 0
        max_retries = s.settings.stream_max_retries
        while True:
            reply = self.replies.next(retry=retries > 0)
            self._delay(reply)
            failure = describe_failure(reply, s.behaviour, s.settings.url)
            if failure is not None:
                if reply.end == "cut":
                    self._model_items(reply, tools=False)
                if failure.retryable and retries < max_retries:
                    retries += 1
                    s.emit(ev.error_event(reconnecting(retries, max_retries, failure.message)))
                    continue
                return self._fail(failure)
            retries = 0
            more = self._model_items(reply, tools=True)
            if not more:
                last = self._account(reply)
                s.recorder.token_count(last, s.thread_totals)
                break
        s.emit(ev.turn_completed(s.thread_totals, s.behaviour.has_cache_write))
        s.recorder.task_complete(self.last_message, None)
        return TurnOutcome(self.last_message, None)

    def _fail(self, failure: Failure) -> TurnOutcome:
        self.s.emit(ev.error_event(failure.message))
        self.s.emit(ev.turn_failed(failure.message))
        self.s.recorder.task_complete(None, failure)
        return TurnOutcome(None, failure)

    def _model_items(self, reply: Reply, tools: bool) -> bool:
        """Emit the reply's items; run its tools when `tools`. True when a tool ran."""
        s, rec = self.s, self.s.recorder
        calls: list[FunctionCallItem | CustomToolCallItem] = []
        for item in reply.output:
            self._out_seq += 1
            n = self._out_seq
            if isinstance(item, MessageItem):
                s.emit(ev.item_completed(ev.agent_message(self.ids.new(), item.text)))
                self.last_message = item.text
                rec.agent_message(f"msg_{n}", item.text)
            elif isinstance(item, ReasoningItem):
                if item.summary:
                    text = "\n".join(item.summary)
                    s.emit(ev.item_completed(ev.reasoning(self.ids.new(), text)))
                rec.reasoning(f"rs_{n}", item.summary)
            elif isinstance(item, WebSearchCallItem):
                ws = ev.web_search(self.ids.new(), item.id, item.query)
                s.emit(ev.item_started(ws))
                s.emit(ev.item_completed(ws))
                rec.web_search(item.id, item.query)
            elif isinstance(item, FunctionCallItem):
                self._check_supported(item.namespace, item.name, item.call_id)
                rec.function_call(f"fc_{n}", item.name, item.arguments_json, item.call_id)
                calls.append(item)
            else:
                self._check_supported(item.namespace, item.name, item.call_id)
                rec.custom_tool_call(f"ctc_{n}", item.name, item.input, item.call_id)
                calls.append(item)
        if not tools or not calls:
            return False
        last = self._account(reply)
        for call in calls:
            self._run_tool(call)
        rec.token_count(last, s.thread_totals)
        return True

    def _check_supported(self, namespace: str | None, name: str, call_id: str) -> None:
        if (namespace or "").startswith("mcp__") or name.startswith("mcp__") or name == "exec":
            what = f"{namespace}/{name}" if namespace else name
            raise FakeLimitation(
                f"{self.s.label}: tool call {what!r} (call_id {call_id!r}) needs MCP or code mode, "
                "which this fake does not support yet (a later issue); this is NOT codex behaviour"
            )

    def _run_tool(self, call: FunctionCallItem | CustomToolCallItem) -> None:
        from fake_codex.tools import PatchError, apply_patch, display_command, run_shell

        s, rec = self.s, self.s.recorder
        if isinstance(call, FunctionCallItem) and call.name in ("exec_command", "shell"):
            cmd = call.arguments.get("cmd")
            if not isinstance(cmd, str):
                raise FakeLimitation(f"{s.label}: exec_command call {call.call_id!r} has no `cmd`")
            workdir = call.arguments.get("workdir")
            cwd = s.cwd / workdir if isinstance(workdir, str) else s.cwd
            item_id = self.ids.new()
            display = display_command(cmd)
            s.emit(ev.item_started(ev.command(item_id, display, "", None)))
            started_ms = time.time_ns() // 1_000_000
            result = run_shell(cmd, cwd)
            s.emit(ev.item_completed(ev.command(item_id, display, result.output, result.exit_code)))
            rec.shell_result(call.call_id, result, started_ms)
        elif isinstance(call, CustomToolCallItem) and call.name == "apply_patch":
            try:
                patch = apply_patch(call.input, s.cwd)
            except PatchError as exc:
                # codex shows nothing for a patch that fails verification; the model gets the error
                rec.patch_result(call.call_id, None, f"apply_patch verification failed: {exc}")
                return
            changes = [(path, kind) for path, kind, _ in patch.changes]
            item_id = self.ids.new()
            s.emit(ev.item_started(ev.file_change(item_id, changes, done=False)))
            s.emit(ev.item_completed(ev.file_change(item_id, changes, done=True)))
            rec.patch_result(call.call_id, patch, patch.model_output)
        else:
            kind = "function_call_output" if isinstance(call, FunctionCallItem) else None
            kind = kind or "custom_tool_call_output"
            prefix = "fco" if isinstance(call, FunctionCallItem) else "ctco"
            rec.tool_output(kind, prefix, call.call_id, f"unsupported call: {call.name}")
