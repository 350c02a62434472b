"""One codex turn driven by a scenario `Turn`: model replies in, exec events and rollout out.

Each `Reply` answers one model request. A reply with local tool calls (exec_command,
apply_patch, unknown names) makes codex send another request, so the next reply is consumed;
a failed reply is retried (next reply, or the same one again when none is left) while the
provider's `stream_max_retries` allows, else the turn fails with codex's text.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fake_codex.agent import compaction
from fake_codex.agent.model_errors import Failure, describe_failure, reconnecting
from fake_codex.agent.recorder import Recorder
from fake_codex.agent.tool_calls import ToolCalls
from fake_codex.core import events as ev
from fake_codex.core import pairing
from fake_codex.core.config import Settings
from fake_codex.core.scenario import (
    CustomToolCallItem,
    FakeLimitation,
    FunctionCallItem,
    MessageItem,
    ReasoningItem,
    Reply,
    Turn,
    Usage,
    WebSearchCallItem,
)
from fake_codex.core.versions import Behaviour

if TYPE_CHECKING:
    from fake_codex.agent.images import ImageParts
    from fake_codex.mcp.client import McpManager


HEADS_UP = (
    "Heads up: Long threads and multiple compactions can cause the model to be less accurate. "
    "Start a new thread when possible to keep threads small and targeted."
)


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
    mcp: McpManager | None = None
    images: ImageParts | None = None
    effort_changed: bool = False  # a resumed turn with another effort than the thread's last
    # The input a model request carries now (the model-visible history): checked like the API.
    history: Callable[[], Sequence[Any]] = lambda: ()
    # app-server names a tool item by its call id and shows each patched file's diff: told here
    # (exec item id, call id, {path: diff}) before the item's events are emitted.
    tool_item: Callable[[str, str, dict[str, str]], None] | None = None
    # Holds a reply's gate (core/gates.py) until the test releases it.
    hold: Callable[[str], None] = lambda name: None
    # app-server with `approvalPolicy: on-request`: asks the client before an escalated command
    # (item id, command, cwd, the model's justification) → approved?
    approve: Callable[[str, str, str, Any], bool] | None = None


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
        self._last_usage = ev.Totals()
        self._out_seq = 0
        self._item_ids: dict[str, str] = {}  # call_id -> response item id (fc_N / ctc_N)
        self.tools = ToolCalls(setup, self.ids, self._item_ids)

    def _delay(self, reply: Reply) -> None:
        if reply.delay_ms:
            time.sleep(reply.delay_ms / 1000)

    def _account(self, reply: Reply) -> ev.Totals:
        last = _totals(reply.usage)
        self.s.thread_totals.add(last)
        self.s.recorder.usage_record(f"resp_{self._responses}", last, self.s.thread_totals)
        self._responses += 1
        self._last_usage = last
        return last

    def _summary(self, with_message: bool) -> str | Failure:
        """The summary request of a compaction and its reply's text (0.150+ record it as an
        assistant message); the restored thread usage is counted before the request."""
        s, rec = self.s, self.s.recorder
        rec.token_count(None, s.thread_totals)
        rejected = self._rejected()
        if rejected is not None:
            return rejected
        reply = self._take()
        failure = describe_failure(reply, s.behaviour, s.settings.url)
        if failure is not None:
            return failure
        summary = "\n".join(i.text for i in reply.output if isinstance(i, MessageItem))
        if with_message:
            self._out_seq += 1
            rec.assistant_item(f"msg_{self._out_seq}", summary)
        last = self._account(reply)
        rec.token_count(last, s.thread_totals)
        return summary

    def _compaction(self) -> Failure | None:
        """A model switch on resume (0.150+): codex first asks the old model for a summary,
        then writes the new context (real 0.150.1 / 0.169.0 rollouts, line for line)."""
        s, rec = self.s, self.s.recorder
        assert s.switched_from is not None
        started_ms = time.time_ns() // 1_000_000
        summary = self._summary(with_message=True)
        if isinstance(summary, Failure):
            return summary
        rec.compacted(summary)
        estimate = 1000 + len(summary) // 4  # codex's estimate of the compacted history
        if s.behaviour.family >= 169:
            rec.context(env=False, world=True, settings=True)
            rec.compaction_estimate(s.thread_totals, estimate)
            rec.compaction_item(started_ms)
        else:
            rec.compaction_estimate(s.thread_totals, estimate)
            rec.compaction_item(started_ms)
            rec.context(env=True)
        return None

    def _auto_compaction(self, mid_turn: bool) -> Failure | None:
        """codex's automatic compaction (`model_auto_compact_token_limit`): a summary request,
        then a `compacted` line whose history keeps the messages and drops the tool calls; the
        lines around it as the real 0.135.0 / 0.150.1 / 0.169.0 / 0.171.0 write them."""
        s, rec = self.s, self.s.recorder
        family = s.behaviour.family
        started_ms = time.time_ns() // 1_000_000
        summary = self._summary(with_message=family >= 150)
        if isinstance(summary, Failure):
            return summary
        message, summary_item = compaction.summary_message(summary)
        kept = compaction.replacement_history(s.history(), summary_item, family)
        rec.auto_compacted(message, kept)
        estimate = 1000 + len(message) // 4  # codex's estimate of the compacted history
        if family >= 169:
            rec.context(env=False, world=True, settings=True)
        elif mid_turn:
            rec.context(env=False, world=True, settings=False)
        rec.compaction_estimate(s.thread_totals, estimate)
        if family >= 150:
            rec.compaction_item(started_ms)
        else:
            rec.context_compacted()
        if family == 150:
            s.emit(ev.item_completed(ev.error_item(self.ids.new(), HEADS_UP)))
        return None

    def run(self) -> TurnOutcome:
        s = self.s
        family = s.behaviour.family
        model = s.recorder.t.model
        # 0.135 neither warns nor compacts on a model switch (real 0.135.0).
        switched = s.switched_from is not None and family >= 150
        compact = switched and s.behaviour.compacts_on_switch(s.switched_from or "", model)
        if switched:
            text = (
                f"This session was recorded with model `{s.switched_from}` but is resuming with "
                f"`{model}`. Consider switching back to `{s.switched_from}` as it "
                "may affect Codex performance."
            )
            s.emit(ev.item_completed(ev.error_item(self.ids.new(), text)))
        if s.behaviour.model_metadata_warning and not s.behaviour.knows_model(model):
            text = (
                f"Model metadata for `{model}` not found. Defaulting to fallback metadata; this "
                "can degrade performance and cause issues."
            )
            s.emit(ev.item_completed(ev.error_item(self.ids.new(), text)))
        s.emit(ev.turn_started())
        if not s.first_turn:
            # a resumed turn applies the thread settings first (twice when 0.169 switches the
            # model or the reasoning effort: real 0.169.0)
            twice = (switched or s.effort_changed) and family >= 169
            for _ in range(2 if twice else 1):
                s.recorder.thread_settings()
        s.recorder.task_started()
        limit = s.settings.auto_compact_limit
        if compact:
            failure = self._compaction()
            if failure is not None:
                return self._fail(failure)
            if family < 169:
                s.emit(ev.item_completed(ev.error_item(self.ids.new(), HEADS_UP)))
        elif switched:
            # no compaction (a model without metadata): the new model's world_state, no env
            s.recorder.context(env=False, world=True, settings=False)
        elif not s.first_turn and compaction.due(s.recorder.last_usage, limit):
            failure = self._auto_compaction(mid_turn=False)
            if failure is not None:
                return self._fail(failure)
            if family < 169:  # 0.135 / 0.150 write the initial context again after it
                s.recorder.context(env=True)
        else:
            s.recorder.context(env=s.first_turn)
        s.recorder.user_message(s.prompt, s.images)
        retries = 0
        max_retries = s.settings.stream_max_retries
        while True:
            rejected = self._rejected()
            if rejected is not None:
                return self._fail(rejected)
            reply = self._take(retry=retries > 0)
            self._delay(reply)
            failure = describe_failure(reply, s.behaviour, s.settings.url)
            if failure is not None:
                if reply.end in ("cut", "incomplete"):
                    self._model_items(reply, tools=False)  # the items that were done
                if reply.end in ("cut", "failed", "incomplete"):
                    # a failed SSE stream: codex writes a token count without new usage
                    s.recorder.token_count(None, s.thread_totals)
                    if reply.error_code == "context_length_exceeded":
                        s.recorder.context_full()
                if failure.retryable and retries < max_retries:
                    retries += 1
                    s.emit(ev.error_event(reconnecting(retries, max_retries, failure.message)))
                    continue
                return self._fail(failure)
            retries = 0
            more = self._model_items(reply, tools=True)
            if more and compaction.due(self._last_usage, limit):
                failure = self._auto_compaction(mid_turn=True)
                if failure is not None:
                    return self._fail(failure)
            if not more:
                last = self._account(reply)
                s.recorder.token_count(last, s.thread_totals)
                break
        s.emit(ev.turn_completed(s.thread_totals, s.behaviour.has_cache_write))
        s.recorder.task_complete(self.last_message, None)
        return TurnOutcome(self.last_message, None)

    def _take(self, retry: bool = False) -> Reply:
        """The reply to the request codex sends now, held at its gate if it has one."""
        reply = self.replies.next(retry=retry)
        if reply.gate is not None:
            self.s.hold(reply.gate)
        return reply

    def _rejected(self) -> Failure | None:
        """The API's 400 when this request's input breaks the tool-call pairing (no reply is
        used: the model never saw it), reported so the test suite fails too."""
        problems = pairing.violations(self.s.history())
        if not problems:
            return None
        pairing.report(self.s.label, problems)
        refused = Reply(end="http_error", http_status=400, body=pairing.api_error(problems))
        return describe_failure(refused, self.s.behaviour, self.s.settings.url)

    def _fail(self, failure: Failure) -> TurnOutcome:
        self.s.emit(ev.error_event(failure.message))
        self.s.emit(ev.turn_failed(failure.message))
        self.s.recorder.task_complete(None, failure)
        return TurnOutcome(None, failure)

    def _model_items(self, reply: Reply, tools: bool) -> bool:
        """Emit the reply's items; run its tools when `tools`. True when a tool ran."""
        s, rec = self.s, self.s.recorder
        calls: list[FunctionCallItem | CustomToolCallItem] = []
        if tools and s.mcp is not None:
            self.tools.available = s.mcp.available()  # what this model request could call
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
                self._item_ids[item.call_id] = f"fc_{n}"
                rec.function_call(
                    f"fc_{n}", item.name, item.arguments_json, item.call_id, item.namespace
                )
                calls.append(item)
            else:
                self._item_ids[item.call_id] = f"ctc_{n}"
                rec.custom_tool_call(
                    f"ctc_{n}", item.name, item.input, item.call_id, item.namespace
                )
                calls.append(item)
        if not tools or not calls:
            return False
        last = self._account(reply)
        for call in calls:
            self.tools.run(call)
        rec.token_count(last, s.thread_totals)
        return True
