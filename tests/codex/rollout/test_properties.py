"""Properties of mirror and consume over generated rollouts.

Each generated record knows its own lines twice: as written, and as consume must leave them for a
given set of ids (an independent oracle built from the same key/value pairs, not from the code).
Records mix every call kind, unicode, huge payloads, unknown line types, garbage, duplicate keys,
compact and spaced separators.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from plexum_openai_provider.codex.rollout import consume_rollout, parse_tool_calls, read_tool_calls

MARKER = "...(tool called)"
Pairs = list[tuple[str, Any]]

# Which payload field consume replaces, and with what (the documented contract, restated).
BLANK: dict[str, tuple[str, Any]] = {
    "function_call": ("arguments", "{}"),
    "custom_tool_call": ("input", ""),
    "tool_search_call": ("arguments", {}),
    "function_call_output": ("output", MARKER),
    "custom_tool_call_output": ("output", MARKER),
    "tool_search_output": ("tools", []),
}


@dataclass(frozen=True)
class Style:
    compact: bool
    ascii: bool

    def dumps(self, value: Any) -> str:
        seps = (",", ":") if self.compact else (", ", ": ")
        return json.dumps(value, separators=seps, ensure_ascii=self.ascii)

    def obj(self, pairs: Pairs) -> str:
        """An object from pairs (duplicates allowed); a Pairs value nests as an object."""
        comma, colon = (",", ":") if self.compact else (", ", ": ")
        body = comma.join(
            self.dumps(k) + colon + (self.obj(v) if _is_pairs(v) else self.dumps(v))
            for k, v in pairs
        )
        return "{" + body + "}"


def _is_pairs(value: Any) -> bool:
    return isinstance(value, list) and bool(value) and all(isinstance(x, tuple) for x in value)


@dataclass(frozen=True)
class Line:
    raw: bytes
    call_id: str | None = None  # set on consumable response_item lines
    pairs: Pairs | None = None  # the payload, for the oracle
    envelope: Pairs | None = None
    style: Style | None = None

    def after(self, ids: frozenset[str]) -> bytes:
        if self.call_id not in ids or self.pairs is None:
            return self.raw
        assert self.envelope is not None and self.style is not None
        kind = dict(self.pairs)["type"]
        if kind not in BLANK:
            return self.raw
        field, value = BLANK[kind]
        payload = [(k, value if k == field else v) for k, v in self.pairs]
        env = [(k, payload if k == "payload" else v) for k, v in self.envelope]
        return self.style.obj(env).encode() + b"\n"


def response_item(style: Style, payload: Pairs, extra: Pairs) -> Line:
    envelope: Pairs = [("timestamp", "2026-11-22T01:19:33.792Z"), *extra[:1]]
    envelope += [("type", "response_item"), ("payload", payload), *extra[1:]]
    raw = style.obj(envelope).encode() + b"\n"
    call_id = dict(payload)["call_id"]
    return Line(raw, call_id, payload, envelope, style)


def plain(style: Style, pairs: Pairs) -> Line:
    return Line(style.obj(pairs).encode() + b"\n")


texts = st.text(st.characters(codec="utf-8"), max_size=40)
huge = st.builds(lambda n, s: s * n, st.integers(1, 40_000), st.sampled_from(["x", "é☃", '\n"\\']))
payload_text = st.one_of(texts, texts, huge)
styles = st.builds(Style, st.booleans(), st.booleans())
call_ids = st.one_of(st.sampled_from(["call_a", "call_b", "dup"]), st.uuids().map(str), texts)
extras = st.lists(
    st.tuples(st.sampled_from(["metadata", "ordinal", "timestamp", "x-unknown"]), texts), max_size=3
)


@st.composite
def call_record(draw: st.DrawFn) -> list[Line]:
    style, cid = draw(styles), draw(call_ids)
    kind = draw(
        st.sampled_from(
            ["function_call", "mcp", "custom_tool_call", "exec", "tool_search_call", "local_shell"]
        )
    )
    body = draw(payload_text)
    if kind in ("function_call", "mcp"):
        call: Pairs = [("type", "function_call"), ("name", draw(texts))]
        call += [("namespace", "mcp__srv")] if kind == "mcp" else []
        call += [("arguments", json.dumps({"q": body})), ("call_id", cid)]
        out_kind, output = "function_call_output", draw(st.one_of(payload_text, st.just([])))
    elif kind in ("custom_tool_call", "exec"):
        name = "exec" if kind == "exec" else "apply_patch"
        call = [("type", "custom_tool_call"), ("call_id", cid), ("name", name), ("input", body)]
        out_kind, output = "custom_tool_call_output", [{"type": "input_text", "text": body}]
    elif kind == "tool_search_call":
        call = [("type", "tool_search_call"), ("call_id", cid), ("arguments", {"query": body})]
        out_kind, output = "tool_search_output", [{"type": "namespace", "name": body}]
    else:
        call = [("type", "local_shell_call"), ("call_id", cid), ("action", {"command": [body]})]
        out_kind, output = "function_call_output", body
    out_field = "tools" if out_kind == "tool_search_output" else "output"
    out: Pairs = [("type", out_kind), ("call_id", cid), (out_field, output)]
    if draw(st.booleans()):
        out.append((out_field, output))  # a duplicate key: both copies must be blanked
    lines = [response_item(style, call, draw(extras))]
    if kind in ("mcp", "exec") and draw(st.booleans()):
        item = [
            ("type", "McpToolCall"),
            ("id", cid if kind == "mcp" else "exec-1"),
            ("server", "srv"),
            ("tool", "t"),
            ("status", "completed"),
            ("result", body),
        ]
        event = [("type", "item_completed"), ("item", item)]
        lines.append(plain(style, [("type", "event_msg"), ("payload", event)]))
    if draw(st.booleans()):
        lines.append(response_item(style, out, draw(extras)))
    return lines


@st.composite
def other_record(draw: st.DrawFn) -> list[Line]:
    style = draw(styles)
    choice = draw(st.sampled_from(["unknown", "event", "garbage", "message", "web", "dupkeys"]))
    if choice == "unknown":
        return [plain(style, [("type", "mystery_" + draw(texts)), ("payload", draw(texts))])]
    if choice == "event":  # names a call id but is not a response_item: never rewritten
        event = [("type", "mcp_tool_call_end"), ("call_id", draw(call_ids)), ("x", draw(texts))]
        return [plain(style, [("type", "event_msg"), ("payload", event)])]
    if choice == "garbage":
        return [Line(b'{"type":"response_item","payload":{"call_id":"call_a","output":"x\n')]
    if choice == "web":
        web = [("type", "web_search_call"), ("id", "ws_1"), ("status", "completed")]
        return [plain(style, [("type", "response_item"), ("payload", web)])]
    if choice == "dupkeys":
        pairs: Pairs = [("timestamp", "a"), ("timestamp", draw(texts)), ("type", "turn_context")]
        return [plain(style, [*pairs, ("payload", [("k", 1), ("k", draw(texts))])])]
    msg = [("type", "message"), ("role", "user"), ("content", draw(payload_text))]
    return [plain(style, [("type", "response_item"), ("payload", msg)])]


rollouts = st.lists(st.one_of(call_record(), other_record()), max_size=12)
SETTINGS = settings(suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


def write(tmp: Path, records: list[list[Line]]) -> Path:
    tmp.mkdir(parents=True, exist_ok=True)
    path = tmp / "rollout-x.jsonl"
    path.write_bytes(b"".join(line.raw for rec in records for line in rec))
    return path


def known_ids(records: list[list[Line]]) -> set[str]:
    return {line.call_id for rec in records for line in rec if line.call_id is not None}


@SETTINGS
@given(records=rollouts, data=st.data())
def test_consume_changes_exactly_the_targeted_lines_and_reports_unknown_ids(
    tmp_path_factory: Any, records: list[list[Line]], data: st.DataObject
) -> None:
    path = write(tmp_path_factory.mktemp("p"), records)
    known = sorted(known_ids(records))
    chosen = data.draw(st.lists(st.sampled_from(known), unique=True)) if known else []
    targets = frozenset(chosen) | data.draw(st.frozensets(st.sampled_from(["zz1", "zz2"])))
    result = consume_rollout(path, targets)
    lines = [line for rec in records for line in rec]
    assert path.read_bytes() == b"".join(line.after(targets) for line in lines)
    assert result.consumed == targets & set(known)
    assert result.unknown == targets - set(known)


@SETTINGS
@given(records=rollouts)
def test_consume_is_idempotent(tmp_path_factory: Any, records: list[list[Line]]) -> None:
    path = write(tmp_path_factory.mktemp("p"), records)
    ids = known_ids(records)
    consume_rollout(path, ids)
    once, inode = path.read_bytes(), path.stat().st_ino
    assert consume_rollout(path, ids).consumed == ids
    assert path.read_bytes() == once and path.stat().st_ino == inode


@SETTINGS
@given(records=rollouts, chunk=st.sampled_from([3, 64, 1 << 20]))
def test_consume_all_then_mirror_yields_the_same_blocks(
    tmp_path_factory: Any, records: list[list[Line]], chunk: int
) -> None:
    path = write(tmp_path_factory.mktemp("p"), records)
    before = read_tool_calls(path, 0, chunk_size=chunk)
    assert {e.block_id for e in before.events} == known_ids(records)
    consume_rollout(path, {e.block_id for e in before.events}, chunk_size=chunk)
    after = read_tool_calls(path, 0, chunk_size=chunk)
    assert [(e.type, e.block_id) for e in after.events] == [
        (e.type, e.block_id) for e in before.events
    ]
    assert after.offset == path.stat().st_size


@SETTINGS
@given(records=rollouts, data=st.data())
def test_mirror_from_a_record_boundary_is_the_tail_of_mirror_from_zero(
    tmp_path_factory: Any, records: list[list[Line]], data: st.DataObject
) -> None:
    path = write(tmp_path_factory.mktemp("p"), records)
    k = data.draw(st.integers(0, len(records)))
    offset = sum(len(line.raw) for rec in records[:k] for line in rec)
    full = read_tool_calls(path, 0).events
    head = parse_tool_calls(line.raw for rec in records[:k] for line in rec)
    tail = read_tool_calls(path, offset, chunk_size=data.draw(st.sampled_from([5, 1 << 20])))
    assert head + tail.events == full
    assert tail.offset == path.stat().st_size


@SETTINGS
@given(records=rollouts, data=st.data())
def test_offsets_are_translated_to_the_same_line_starts(
    tmp_path_factory: Any, records: list[list[Line]], data: st.DataObject
) -> None:
    path = write(tmp_path_factory.mktemp("p"), records)
    lines = [line for rec in records for line in rec]
    ids = frozenset(data.draw(st.sets(st.sampled_from(sorted(known_ids(records)) or ["-"]))))
    old = [sum(len(x.raw) for x in lines[:i]) for i in range(len(lines) + 1)]
    new = [sum(len(x.after(ids)) for x in lines[:i]) for i in range(len(lines) + 1)]
    assert consume_rollout(path, ids, offsets=old).offsets == tuple(new)


def test_the_oracle_agrees_with_a_hand_written_consumed_line(tmp_path: Path) -> None:
    """A fixed example through the same oracle, so a broken generator cannot pass silently."""
    style = Style(compact=True, ascii=False)
    call = [("type", "function_call"), ("name", "é"), ("arguments", '{"q":1}'), ("call_id", "c")]
    line = response_item(style, call, [("metadata", "m")])
    assert line.after(frozenset({"c"})) == (
        b'{"timestamp":"2026-11-22T01:19:33.792Z","metadata":"m","type":"response_item",'
        b'"payload":{"type":"function_call","name":"\xc3\xa9","arguments":"{}","call_id":"c"}}\n'
    )
    path = tmp_path / "r.jsonl"
    path.write_bytes(line.raw)
    consume_rollout(path, ["c"])
    assert path.read_bytes() == line.after(frozenset({"c"}))
