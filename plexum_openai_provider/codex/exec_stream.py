"""Parse one line of `codex exec --json` stdout into a typed `ExecEvent`.

`parse_exec_line` is pure and never raises: bad bytes, non-JSON, non-objects and events missing
their fields become `MalformedLine`; event types this parser does not know become `UnknownEvent`.
Duplicate keys keep their FIRST value, so a `web_search` item (which carries `"id"` twice) keeps
its `item_N` id; the provider's second id is kept as `fields["provider_id"]`.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ..events import ItemPhase

EXCERPT_CHARS = 200

_PHASES: dict[str, ItemPhase] = {
    "item.started": "started",
    "item.updated": "updated",
    "item.completed": "completed",
}


@dataclass(frozen=True)
class ThreadStarted:
    thread_id: str


@dataclass(frozen=True)
class TurnStarted:
    pass


@dataclass(frozen=True)
class ItemEvent:
    """`item.started|updated|completed`; `fields` is the item minus its `id` and `type`."""

    phase: ItemPhase
    item_id: str
    item_type: str
    fields: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class TurnCompleted:
    """`usage` is codex's running total for the whole thread, not this turn."""

    usage: dict[str, Any]


@dataclass(frozen=True)
class TurnFailed:
    message: str


@dataclass(frozen=True)
class StreamError:
    """The top-level `error` event: often a retry notice, fatal only if `turn.failed` follows."""

    message: str


@dataclass(frozen=True)
class UnknownEvent:
    event_type: str


@dataclass(frozen=True)
class MalformedLine:
    reason: str
    excerpt: str


ExecEvent = (
    ThreadStarted
    | TurnStarted
    | ItemEvent
    | TurnCompleted
    | TurnFailed
    | StreamError
    | UnknownEvent
    | MalformedLine
)


def parse_exec_line(line: bytes) -> ExecEvent:
    """One framed line (no newline) → one event. Never raises."""
    try:
        text = line.decode("utf-8")
    except UnicodeDecodeError as exc:
        return _malformed(line, f"invalid UTF-8 at byte {exc.start}")
    try:
        obj = _loads(text)
    except (ValueError, RecursionError) as exc:
        if not text.strip():  # checked only here: a parsed line is never blank
            return _malformed(line, "empty line")
        # ValueError covers JSONDecodeError and the int-digits limit; RecursionError deep nesting.
        return _malformed(line, f"not JSON: {type(exc).__name__}")
    if not isinstance(obj, dict):
        return _malformed(line, f"JSON {type(obj).__name__}, not an object")
    event_type = obj.get("type")
    if not isinstance(event_type, str):
        return _malformed(line, "no string `type`")
    return _build(event_type, obj, line)


def is_reconnect_notice(ev: ExecEvent) -> bool:
    """True for codex's retry notices (`Reconnecting... 2/5 (...)`), which never end a turn."""
    return isinstance(ev, StreamError) and ev.message.startswith("Reconnecting...")


def _build(event_type: str, obj: dict[str, Any], line: bytes) -> ExecEvent:
    if event_type == "thread.started":
        thread_id = obj.get("thread_id")
        if not isinstance(thread_id, str) or not thread_id:
            return _malformed(line, "thread.started without a string `thread_id`")
        return ThreadStarted(thread_id)
    if event_type == "turn.started":
        return TurnStarted()
    phase = _PHASES.get(event_type)
    if phase is not None:
        item = obj.get("item")
        if not isinstance(item, dict):
            return _malformed(line, f"{event_type} without an `item` object")
        item_id, item_type = item.get("id"), item.get("type")
        if not isinstance(item_id, str) or not isinstance(item_type, str):
            return _malformed(line, f"{event_type} item without string `id` and `type`")
        fields = dict(item)  # copied in C, then the two keys dropped: this runs on every line
        del fields["id"], fields["type"]
        return ItemEvent(phase, item_id, item_type, fields)
    if event_type == "turn.completed":
        # Lenient on purpose: dropping the only success signal over a bad usage field would turn
        # a finished turn into a protocol error; Usage.from_mapping zeroes what is missing.
        usage = obj.get("usage")
        return TurnCompleted(usage if isinstance(usage, dict) else {})
    if event_type == "turn.failed":
        # Lenient for the same reason: the failure must end the turn even without its text.
        error = obj.get("error")
        message = error.get("message") if isinstance(error, dict) else error
        if not isinstance(message, str):
            message = "codex reported turn.failed without a message"
        return TurnFailed(message)
    if event_type == "error":
        message = obj.get("message")
        if not isinstance(message, str):
            return _malformed(line, "error event without a string `message`")
        return StreamError(message)
    return UnknownEvent(event_type)


def _first_key_wins(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """json object hook: the first value of a repeated key wins (serde emits `item_N` first)."""
    fast = dict(pairs)
    if len(fast) == len(pairs):
        return fast  # no repeated key (nearly every object): built in C
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key not in out:
            out[key] = value
        elif key == "id" and "provider_id" not in out:
            # web_search: {"id":"item_3","type":"web_search","id":"ws_1",...}
            out["provider_id"] = value
    return out


# One decoder for every line: `json.loads(..., object_pairs_hook=...)` builds a new one per call,
# which cost a third of the parse time on short lines.
_DECODER = json.JSONDecoder(object_pairs_hook=_first_key_wins)
# The C scanner set by JSONDecoder.__init__ (not in typeshed); decode() adds frames and regexes.
_SCAN: Callable[[str, int], tuple[Any, int]] = _DECODER.scan_once  # type: ignore[attr-defined]


def _loads(text: str) -> Any:
    """`_DECODER.decode(text)`, minus its Python-level overhead on the common, clean line."""
    try:
        obj, end = _SCAN(text, 0)
    except StopIteration:
        return _DECODER.decode(text)  # leading whitespace, or not JSON: decode decides (or raises)
    if end != len(text) and text[end:].strip():
        return _DECODER.decode(text)  # raises "Extra data" just as decode would
    return obj


def _malformed(line: bytes, reason: str) -> MalformedLine:
    # Decode only a bounded prefix: the line may be tens of megabytes.
    head = line[: EXCERPT_CHARS * 4].decode("utf-8", errors="replace")
    return MalformedLine(reason, head[:EXCERPT_CHARS])
