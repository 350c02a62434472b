"""app-server notifications of one turn → canonical events, the same ones the exec backend emits.

Pure and tolerant: an unknown method or item type is logged at debug and skipped. `text_delta`
carries fragments as codex streams them (`item/agentMessage/delta`); the fragments of one message
concatenate to the message (a message that arrives with no or partial deltas is completed from
its `item/completed` text). Usage comes in `thread/tokenUsage/updated` after each model request
(`last` is that request, `total` the thread), before `turn/completed`, which ends the turn.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from ...events import (
    USAGE_KEYS,
    CanonicalEvent,
    Item,
    ItemPhase,
    Reasoning,
    TextDelta,
    Usage,
    WarningEvent,
)

log = logging.getLogger(__name__)

# app-server item types shown live, as the exec backend names them.
ITEM_KINDS = {
    "commandExecution": "command_execution",
    "fileChange": "file_change",
    "mcpToolCall": "mcp_tool_call",
    "webSearch": "web_search",
}
# While one of these runs, codex may be silent for long: the idle clock waits.
BUSY_KINDS = frozenset({"command_execution", "mcp_tool_call"})


@dataclass(frozen=True)
class TurnEnded:
    """`turn/completed`: status `completed`, `interrupted` or `failed` (with codex's message)."""

    status: str
    error: str | None


def usage_from(raw: object) -> Usage:
    """A `TokenUsageBreakdown` (camelCase) as canonical usage; missing fields are 0."""
    if not isinstance(raw, dict):
        return Usage()

    def count(key: str) -> int:
        value = raw.get(key, 0)
        return value if isinstance(value, int) and not isinstance(value, bool) else 0

    return Usage(
        input_tokens=count("inputTokens"),
        cached_input_tokens=count("cachedInputTokens"),
        cache_write_input_tokens=count("cacheWriteInputTokens"),
        output_tokens=count("outputTokens"),
        reasoning_output_tokens=count("reasoningOutputTokens"),
    )


def _plus(a: Usage, b: Usage) -> Usage:
    return Usage(*(getattr(a, k) + getattr(b, k) for k in USAGE_KEYS))


class NotificationMapper:
    """The state of one turn's notification stream (one thread, one turn id once known)."""

    def __init__(self) -> None:
        self.turn_id: str | None = None
        self.ended: TurnEnded | None = None
        self.usage: Usage | None = None  # this turn: the sum of its requests' `last`
        self.thread_usage: Usage | None = None  # the thread so far (`total`)
        # The last request's `totalTokens` (what the context holds now) and the model's window.
        self.context_tokens: int | None = None
        self.context_window: int | None = None
        self.failure: str | None = None  # the last `error` codex will not retry
        self.last_text: str | None = None  # the last completed agent message (structured output)
        self._streamed: dict[str, str] = {}  # agent message item id → text sent so far
        self._running: set[str] = set()  # busy items started and not completed

    @property
    def busy(self) -> bool:
        return bool(self._running)

    def feed(self, method: str, params: dict[str, Any]) -> list[CanonicalEvent]:
        if self.ended is not None:
            return []
        if method == "item/agentMessage/delta":
            return self._delta(params)
        if method in ("item/started", "item/completed"):
            item = params.get("item")
            if isinstance(item, dict):
                return self._item("started" if method == "item/started" else "completed", item)
            return []
        if method == "thread/tokenUsage/updated":
            token_usage = params.get("tokenUsage")
            if isinstance(token_usage, dict):
                # `last` is one model request's, and a turn makes one per tool round: add them up.
                last = usage_from(token_usage.get("last"))
                self.usage = last if self.usage is None else _plus(self.usage, last)
                self.thread_usage = usage_from(token_usage.get("total"))
                self._context(token_usage)
            return []
        if method == "error":
            return self._error(params)
        if method == "warning":
            message = params.get("message")
            return [WarningEvent(message)] if isinstance(message, str) and message else []
        if method == "turn/started":
            turn = params.get("turn")
            if isinstance(turn, dict) and isinstance(turn.get("id"), str):
                self.turn_id = self.turn_id or turn["id"]
            return []
        if method == "turn/completed":
            return self._completed(params)
        log.debug("skipping app-server notification %s", method)
        return []

    def _context(self, token_usage: dict[str, Any]) -> None:
        last = token_usage.get("last")
        if isinstance(last, dict):
            total = last.get("totalTokens")
            if isinstance(total, int) and not isinstance(total, bool) and total >= 0:
                self.context_tokens = total
            else:
                used = usage_from(last)
                self.context_tokens = used.input_tokens + used.output_tokens
        window = token_usage.get("modelContextWindow")
        if isinstance(window, int) and not isinstance(window, bool) and window > 0:
            self.context_window = window

    def _delta(self, params: dict[str, Any]) -> list[CanonicalEvent]:
        item_id, delta = params.get("itemId"), params.get("delta")
        if not isinstance(item_id, str) or not isinstance(delta, str) or not delta:
            return []
        self._streamed[item_id] = self._streamed.get(item_id, "") + delta
        return [TextDelta(delta)]

    def _item(self, phase: ItemPhase, item: dict[str, Any]) -> list[CanonicalEvent]:
        item_type, item_id = item.get("type"), item.get("id")
        if not isinstance(item_type, str) or not isinstance(item_id, str):
            return []
        if item_type == "agentMessage":
            return self._message_done(item_id, item) if phase == "completed" else []
        if item_type == "reasoning":
            if phase != "completed":
                return []
            summary = item.get("summary")
            parts = [s for s in summary if isinstance(s, str)] if isinstance(summary, list) else []
            text = "\n".join(parts)
            return [Reasoning(text)] if text else []
        kind = ITEM_KINDS.get(item_type)
        if kind is None:
            log.debug("skipping app-server item type %r (%s)", item_type, item_id)
            return []
        if kind in BUSY_KINDS:
            if phase == "started":
                self._running.add(item_id)
            else:
                self._running.discard(item_id)
        detail = {k: v for k, v in item.items() if k not in ("id", "type")}
        return [Item(phase, item_id, kind, detail)]

    def _message_done(self, item_id: str, item: dict[str, Any]) -> list[CanonicalEvent]:
        text = item.get("text")
        sent = self._streamed.pop(item_id, "")
        if isinstance(text, str):
            self.last_text = text
        if not isinstance(text, str) or text == sent:
            return []
        if text.startswith(sent):
            return [TextDelta(text[len(sent) :])]
        # The deltas disagree with the final text: say so, and keep what was already sent.
        log.warning("agent message %s: streamed text differs from the final text", item_id)
        return []

    def _error(self, params: dict[str, Any]) -> list[CanonicalEvent]:
        error = params.get("error")
        message = error.get("message") if isinstance(error, dict) else None
        if not isinstance(message, str) or not message:
            return []
        if params.get("willRetry") is True:
            return [WarningEvent(message)]
        self.failure = message
        return []

    def _completed(self, params: dict[str, Any]) -> list[CanonicalEvent]:
        turn = params.get("turn")
        if not isinstance(turn, dict):
            return []
        status = turn.get("status")
        error = turn.get("error")
        message = error.get("message") if isinstance(error, dict) else None
        self.ended = TurnEnded(
            status if isinstance(status, str) else "failed",
            message if isinstance(message, str) else self.failure,
        )
        return []
