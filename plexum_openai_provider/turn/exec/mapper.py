"""Map one turn's exec events to canonical events: a pure state machine, one per turn.

`TurnMapper.feed` returns the canonical events an exec event produces; it never emits a terminal
event. The turn reads `outcome` (Completed with per-turn usage, or Failed) and builds
`message_end`/`error` itself, after anything else it has to emit. `busy` says a command or MCP call
is running, so the turn can pause its idle timer.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from ...codex.exec_stream import (
    ExecEvent,
    ItemEvent,
    MalformedLine,
    StreamError,
    ThreadStarted,
    TurnCompleted,
    TurnFailed,
    TurnStarted,
    UnknownEvent,
    is_reconnect_notice,
)
from ...events import CanonicalEvent, Item, Reasoning, TextDelta, Usage, WarningEvent

logger = logging.getLogger(__name__)

# Item types shown to the host as live tool activity.
TOOL_ITEM_TYPES = frozenset(
    {
        "command_execution",
        "file_change",
        "mcp_tool_call",
        "web_search",
        "todo_list",
        "collab_tool_call",  # a sub-agent spawned, messaged or waited for (codex 0.169+)
    }
)
# Items that can legitimately run for minutes without codex printing anything.
BUSY_ITEM_TYPES = frozenset({"command_execution", "mcp_tool_call", "collab_tool_call"})


@dataclass(frozen=True)
class Completed:
    """`thread_usage` is codex's running total; `turn_usage` is this turn alone."""

    thread_usage: Usage
    turn_usage: Usage


@dataclass(frozen=True)
class Failed:
    message: str


Outcome = Completed | Failed


class TurnMapper:
    """Feed exec events in order; read `outcome` once the stream ends."""

    def __init__(self, *, previous_total: Usage) -> None:
        self._previous_total = previous_total
        self._thread_id: str | None = None
        self._outcome: Outcome | None = None
        self._running: set[str] = set()
        # A non-retry `error` waits for the next event: codex prints a fatal text twice (`error`,
        # then `turn.failed`), and the turn reports the failure once, from `outcome`.
        self._held: str | None = None
        self._plan: str | None = None  # the last completed `plan` item's text
        self._said_text = False

    @property
    def thread_id(self) -> str | None:
        return self._thread_id

    @property
    def outcome(self) -> Outcome | None:
        return self._outcome

    @property
    def busy(self) -> bool:
        return bool(self._running)

    def feed(self, ev: ExecEvent) -> list[CanonicalEvent]:
        if self._outcome is not None:
            logger.debug("ignoring exec event after the turn ended: %r", ev)
            return []
        if isinstance(ev, MalformedLine):
            # Not a reason to release a held error: garbage must not change what the user sees.
            logger.warning(
                "plexum-openai-provider: skipping malformed codex line (%s): %r",
                ev.reason,
                ev.excerpt,
            )
            return []
        if isinstance(ev, UnknownEvent):
            logger.debug("skipping unknown codex event type %r", ev.event_type)
            return []
        out: list[CanonicalEvent] = []
        if self._held is not None:
            held, self._held = self._held, None
            if not (isinstance(ev, TurnFailed) and ev.message == held):
                out.append(WarningEvent(held))
        out.extend(self._map(ev))
        return out

    def finish(self) -> list[CanonicalEvent]:
        """End of stream: release a held error as a warning."""
        if self._held is None:
            return []
        held, self._held = self._held, None
        return [WarningEvent(held)]

    def _map(self, ev: ExecEvent) -> list[CanonicalEvent]:
        if isinstance(ev, ItemEvent):
            return self._map_item(ev)
        if isinstance(ev, StreamError):
            if is_reconnect_notice(ev):
                return [WarningEvent(ev.message)]
            self._held = ev.message
            return []
        if isinstance(ev, ThreadStarted):
            if self._thread_id is None:
                self._thread_id = ev.thread_id
            elif ev.thread_id != self._thread_id:
                logger.warning(
                    "second thread.started (%s) ignored; keeping %s", ev.thread_id, self._thread_id
                )
            return []
        if isinstance(ev, TurnCompleted):
            thread_usage = Usage.from_mapping(ev.usage)
            self._end(Completed(thread_usage, thread_usage.minus(self._previous_total)))
            if self._plan is not None and not self._said_text:
                # codex answers with the plan when the model wrote no message: so does the host.
                return [TextDelta(self._plan)]
            return []
        if isinstance(ev, TurnFailed):
            self._end(Failed(ev.message))
            return []
        if isinstance(ev, TurnStarted):
            return []
        logger.debug("no mapping for exec event %r", ev)
        return []

    def _map_item(self, ev: ItemEvent) -> list[CanonicalEvent]:
        kind = ev.item_type
        if kind in TOOL_ITEM_TYPES:
            if kind in BUSY_ITEM_TYPES:
                if ev.phase == "started":
                    self._running.add(ev.item_id)
                elif ev.phase == "completed":
                    self._running.discard(ev.item_id)
            return [Item(ev.phase, ev.item_id, kind, ev.fields)]
        if kind in ("agent_message", "reasoning", "error"):
            if ev.phase != "completed":
                # codex only completes these; an earlier phase carries nothing final to show.
                logger.debug("ignoring %s %s item %s", ev.phase, kind, ev.item_id)
                return []
            key = "message" if kind == "error" else "text"
            text = ev.fields.get(key)
            if not isinstance(text, str):
                logger.warning("%s item %s has no string %r; skipped", kind, ev.item_id, key)
                return []
            if kind == "agent_message":
                self._said_text = True
                return [TextDelta(text)]
            if kind == "reasoning":
                return [Reasoning(text)]
            return [WarningEvent(text)]
        if kind == "plan" and ev.phase == "completed" and isinstance(ev.fields.get("text"), str):
            self._plan = str(ev.fields["text"])
        # `plan` and item types newer than this mapper still reach the host, typed by codex's name.
        return [Item(ev.phase, ev.item_id, kind, ev.fields)]

    def _end(self, outcome: Outcome) -> None:
        self._outcome = outcome
        # The turn is over: whatever codex never reported as completed is not running any more.
        self._running.clear()
