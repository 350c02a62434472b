"""Edit one rollout line by replacing value spans in place, never by re-serialising it.

`blank_line(text, ids, marker)` finds the `response_item` payload(s) of a JSON line whose
`call_id` is in `ids` and swaps the bytes of the heavy field (arguments/input/output/tools) for a
fixed literal. Key order, separators, escapes, number spelling and duplicate keys all survive.
With duplicate keys every copy is examined and blanked, so neither a first-wins nor a last-wins
reader sees the original payload.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

# What a consumed tool output becomes (the Go plugin's marker); config.json may change it.
DEFAULT_MARKER = "...(tool called)"
_WS = re.compile(r"[ \t\n\r]*")
_DECODER = json.JSONDecoder()

# payload type → (field, replacement literal). Outputs get the marker (see `marker_literal`).
# `tools` of a tool_search_output is an array of tool specs: a string there would make codex
# drop the whole line on resume, so it becomes an empty array instead.
_CALL_FIELDS: dict[str, tuple[str, str]] = {
    "function_call": ("arguments", '"{}"'),
    "custom_tool_call": ("input", '""'),
    "tool_search_call": ("arguments", "{}"),
    "tool_search_output": ("tools", "[]"),
}


@dataclass(frozen=True)
class Member:
    key: str
    start: int  # first character of the value
    end: int  # one past its last character
    # The members of an object value under a `descend` key, parsed on the way (None otherwise).
    children: list[Member] | None = None


def members(text: str, pos: int, descend: frozenset[str] = frozenset()) -> list[Member] | None:
    """The members of the JSON object at `text[pos]`, or None if there is no valid object.

    Object values under a key in `descend` are split into their members in the same pass, so a
    heavy payload is decoded once, not once per level.
    """
    parsed = _object(text, pos, descend)
    return None if parsed is None else parsed[0]


def _object(text: str, pos: int, descend: frozenset[str]) -> tuple[list[Member], int] | None:
    """(members, index one past the closing brace) of the object at `text[pos]`."""
    if pos >= len(text) or text[pos] != "{":
        return None
    out: list[Member] = []
    pos = _skip(text, pos + 1)
    if text.startswith("}", pos):
        return out, pos + 1
    try:
        while True:
            if not text.startswith('"', pos):
                return None
            key, pos = json.decoder.scanstring(text, pos + 1)  # type: ignore[attr-defined]
            pos = _skip(text, pos)
            if not text.startswith(":", pos):
                return None
            start = _skip(text, pos + 1)
            nested = _object(text, start, frozenset()) if key in descend else None
            if nested is not None:
                children, end = nested
                out.append(Member(key, start, end, children))
            else:
                _, end = _DECODER.raw_decode(text, start)
                out.append(Member(key, start, end))
            pos = _skip(text, end)
            if text.startswith("}", pos):
                return out, pos + 1
            if not text.startswith(",", pos):
                return None
            pos = _skip(text, pos + 1)
    except (ValueError, IndexError, RecursionError):
        # RecursionError: a value nested deeper than the decoder follows. Such a line is not
        # edited (consume then reports its ids as unknown) rather than crashing the rewrite.
        return None


def _skip(text: str, pos: int) -> int:
    """Index of the first non-whitespace character at or after `pos`."""
    match = _WS.match(text, pos)
    return match.end() if match else pos


def marker_literal(marker: str) -> str:
    return json.dumps(marker, ensure_ascii=False)


def blank_line(text: str, ids: frozenset[str], marker: str) -> tuple[str, frozenset[str]]:
    """(the line with the targeted fields blanked, the requested ids this line carries)."""
    start = _skip(text, 0)
    top = members(text, start, descend=frozenset({"payload"}))
    if not top or "response_item" not in _values(text, top, "type"):
        return text, frozenset()
    edits: list[tuple[int, int, str]] = []
    found: set[str] = set()
    for member in top:
        if member.key != "payload":
            continue
        payload = member.children
        if payload is None:
            continue
        hit = {v for v in _values(text, payload, "call_id") if isinstance(v, str) and v in ids}
        if not hit:
            continue
        found |= hit
        kinds = [k for k in _values(text, payload, "type") if isinstance(k, str)]
        rule = _rule(kinds[-1] if kinds else "", marker)
        if rule is None:
            continue  # e.g. local_shell_call: its `action` is structure codex needs to resume
        field, literal = rule
        edits.extend((m.start, m.end, literal) for m in payload if m.key == field)
    if not edits:
        return text, frozenset(found)
    pieces: list[str] = []
    cursor = 0
    for begin, end, literal in sorted(edits):
        pieces += [text[cursor:begin], literal]
        cursor = end
    pieces.append(text[cursor:])
    return "".join(pieces), frozenset(found)


def _rule(kind: str, marker: str) -> tuple[str, str] | None:
    if kind in _CALL_FIELDS:
        return _CALL_FIELDS[kind]
    if kind.endswith("_output"):  # function_call_output, custom_tool_call_output, and newer ones
        return ("output", marker_literal(marker))
    return None


def _values(text: str, obj: list[Member], key: str) -> list[object]:
    out: list[object] = []
    for member in obj:
        if member.key == key:
            try:
                out.append(_DECODER.raw_decode(text, member.start)[0])
            except ValueError:
                continue
    return out
