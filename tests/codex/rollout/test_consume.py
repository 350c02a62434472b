"""Consume: blank chosen tool calls in a rollout; everything else stays byte-identical."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

import pytest
from syrupy.assertion import SnapshotAssertion
from syrupy.extensions.json import JSONSnapshotExtension

from plexum_openai_provider.codex.rollout import consume_rollout, parse_tool_calls, read_tool_calls
from plexum_openai_provider.errors import RolloutError

ROLLOUTS = Path(__file__).parents[2] / "fixtures" / "rollouts"
MARKER = "...(tool called)"


def copy_of(name: str, tmp_path: Path) -> Path:
    path = tmp_path / f"rollout-2026-11-22T01-19-33-{name}.jsonl"
    shutil.copy(ROLLOUTS / f"{name}.rollout.trimmed.jsonl", path)
    return path


def payloads(path: Path) -> list[dict[str, Any]]:
    out = []
    for raw in path.read_bytes().splitlines():
        obj = json.loads(raw)
        if obj["type"] == "response_item" and "call_id" in obj["payload"]:
            out.append(obj["payload"])
    return out


def changed_lines(before: bytes, after: bytes) -> list[int]:
    old, new = before.splitlines(), after.splitlines()
    assert len(old) == len(new)
    return [i for i, (a, b) in enumerate(zip(old, new, strict=True)) if a != b]


def test_the_rollout_after_consuming_every_call_matches_the_snapshot(
    tmp_path: Path, snapshot: SnapshotAssertion
) -> None:
    path = copy_of("tools_gpt55", tmp_path)
    ids = {e.block_id for e in read_tool_calls(path, 0).events}
    result = consume_rollout(path, ids)
    assert result.consumed == ids and not result.unknown
    lines = path.read_text(encoding="utf-8").splitlines()
    assert lines == snapshot.use_extension(JSONSnapshotExtension)


def test_calls_and_outputs_are_blanked_and_nothing_else_changes(tmp_path: Path) -> None:
    path = copy_of("tools_gpt55", tmp_path)
    before = path.read_bytes()
    consume_rollout(path, ["call_exec1"])
    assert changed_lines(before, path.read_bytes()) == [11, 14]
    call, output, *_ = payloads(path)
    assert call["arguments"] == "{}" and output["output"] == MARKER
    assert list(call) == [
        "type",
        "id",
        "name",
        "arguments",
        "call_id",
        "internal_chat_message_metadata_passthrough",
    ]  # key order kept


def test_an_array_output_becomes_the_marker_string(tmp_path: Path) -> None:
    path = copy_of("codemode_mcp", tmp_path)
    consume_rollout(path, ["call_cm1"])
    call, output = payloads(path)
    assert call["input"] == "" and output["output"] == MARKER


def test_tool_search_keeps_its_shapes_an_empty_query_and_no_tools(tmp_path: Path) -> None:
    path = copy_of("mcp_flow_gpt55", tmp_path)
    consume_rollout(path, ["call_search1"])
    search = [p for p in payloads(path) if p["call_id"] == "call_search1"]
    assert [(p["type"], p.get("arguments"), p.get("tools")) for p in search] == [
        ("tool_search_call", {}, None),
        ("tool_search_output", None, []),
    ]


def test_the_mirror_sees_the_consumed_values_afterwards(tmp_path: Path) -> None:
    path = copy_of("mcp_flow_gpt55", tmp_path)
    consume_rollout(path, ["call_mcp1"])
    events = {(e.type, e.block_id): e for e in read_tool_calls(path, 0).events}
    assert events[("tool_call", "call_mcp1")].input == "{}"  # type: ignore[attr-defined]
    assert events[("tool_result", "call_mcp1")].output == MARKER  # type: ignore[attr-defined]


def test_event_msg_lines_keep_their_copy(tmp_path: Path) -> None:
    path = copy_of("mcp_flow_gpt55", tmp_path)
    consume_rollout(path, ["call_mcp1"])
    assert b'"echo: ping 42"' in path.read_bytes()  # item_completed McpToolCall is untouched


def test_unknown_ids_are_reported_and_known_ones_still_consumed(tmp_path: Path) -> None:
    path = copy_of("tools_gpt55", tmp_path)
    result = consume_rollout(path, ["call_patch1", "nope", "ws_1"])
    assert result.consumed == {"call_patch1"}
    assert result.unknown == {"nope", "ws_1"}  # web search has no call_id: not a block
    assert result.to_json() == {"consumed": ["call_patch1"], "unknown": ["nope", "ws_1"]}


def test_a_reused_call_id_is_consumed_everywhere(tmp_path: Path) -> None:
    def rec(payload: dict[str, Any]) -> str:
        return json.dumps({"type": "response_item", "payload": payload}, separators=(",", ":"))

    call = {"type": "function_call", "name": "f", "arguments": '{"a":1}', "call_id": "dup"}
    out = {"type": "function_call_output", "call_id": "dup", "output": "heavy"}
    path = tmp_path / "r.jsonl"
    path.write_text("\n".join([rec(call), rec(out), rec(call), rec(out)]) + "\n")
    consume_rollout(path, ["dup"])
    assert (
        path.read_text()
        == (
            '{"type":"response_item","payload":{"type":"function_call","name":"f","arguments":"{}",'
            '"call_id":"dup"}}\n'
            '{"type":"response_item","payload":{"type":"function_call_output","call_id":"dup",'
            '"output":"...(tool called)"}}\n'
        )
        * 2
    )


def test_consuming_twice_changes_nothing_the_second_time(tmp_path: Path) -> None:
    path = copy_of("tools_gpt55", tmp_path)
    consume_rollout(path, ["call_exec1", "call_patch1"])
    once = path.read_bytes()
    inode = path.stat().st_ino
    again = consume_rollout(path, ["call_exec1", "call_patch1"])
    assert again.consumed == {"call_exec1", "call_patch1"}
    assert path.read_bytes() == once
    assert path.stat().st_ino == inode  # not even rewritten


def test_nothing_to_change_means_the_file_is_not_rewritten(tmp_path: Path) -> None:
    path = copy_of("basic", tmp_path)
    stat = path.stat()
    result = consume_rollout(path, ["x"], offsets=[10])
    assert result.unknown == {"x"} and result.offsets == (10,)
    assert (path.stat().st_ino, path.stat().st_mtime_ns) == (stat.st_ino, stat.st_mtime_ns)


def test_the_file_mode_is_kept_and_no_temp_file_is_left(tmp_path: Path) -> None:
    path = copy_of("tools_gpt55", tmp_path)
    path.chmod(0o640)
    consume_rollout(path, ["call_exec1"])
    assert path.stat().st_mode & 0o777 == 0o640
    assert sorted(p.name for p in tmp_path.iterdir()) == [path.name]


def test_a_custom_marker_is_written_as_a_json_string(tmp_path: Path) -> None:
    path = copy_of("tools_gpt55", tmp_path)
    consume_rollout(path, ["call_exec1"], marker='«gone» "quoted"')
    assert payloads(path)[1]["output"] == '«gone» "quoted"'


def test_stored_offsets_move_with_the_shortened_lines(tmp_path: Path) -> None:
    path = copy_of("tools_gpt55", tmp_path)
    old_lines = path.read_bytes().splitlines(keepends=True)
    starts = [sum(len(x) for x in old_lines[:i]) for i in range(len(old_lines) + 1)]
    result = consume_rollout(path, ["call_exec1", "call_patch1"], offsets=starts)
    new_lines = path.read_bytes().splitlines(keepends=True)
    assert list(result.offsets) == [sum(len(x) for x in new_lines[:i]) for i in range(len(starts))]
    # The mirror resumes from a translated offset exactly where it would have before.
    tail = read_tool_calls(path, result.offsets[15])
    assert [e.block_id for e in tail.events] == ["call_patch1", "call_patch1"]


def test_an_offset_inside_a_rewritten_line_maps_to_that_line_start(tmp_path: Path) -> None:
    path = copy_of("tools_gpt55", tmp_path)
    data = path.read_bytes()
    start = data.index(b'{"timestamp": "2026-11-22T01:19:34.107Z"')
    result = consume_rollout(path, ["call_exec1"], offsets=[start + 40])
    new = path.read_bytes()
    assert result.offsets == (new.index(b'{"timestamp": "2026-11-22T01:19:34.107Z"'),)


def test_an_unterminated_last_line_is_copied_untouched(tmp_path: Path) -> None:
    path = copy_of("tools_gpt55", tmp_path)
    partial = (
        b'{"type":"response_item","payload":{"type":"function_call_output","call_id":"call_exec1"'
    )
    path.write_bytes(path.read_bytes() + partial)
    consume_rollout(path, ["call_exec1"])
    assert path.read_bytes().endswith(b"\n" + partial)


def test_lines_longer_than_a_chunk_are_consumed_the_same(tmp_path: Path) -> None:
    small, big = copy_of("codemode_mcp", tmp_path), tmp_path / "big.jsonl"
    shutil.copy(small, big)
    consume_rollout(small, ["call_cm1"], chunk_size=5)
    consume_rollout(big, ["call_cm1"])
    assert small.read_bytes() == big.read_bytes()


def test_a_line_with_duplicate_keys_has_every_copy_blanked(tmp_path: Path) -> None:
    path = tmp_path / "r.jsonl"
    path.write_bytes(
        b'{"type":"response_item","payload":{"type":"function_call_output","call_id":"c",'
        b'"output":"one","output":["two"]}}\n'
    )
    consume_rollout(path, ["c"])
    assert path.read_bytes() == (
        b'{"type":"response_item","payload":{"type":"function_call_output","call_id":"c",'
        b'"output":"...(tool called)","output":"...(tool called)"}}\n'
    )


def test_an_escaped_call_id_is_still_found(tmp_path: Path) -> None:
    path = tmp_path / "r.jsonl"
    path.write_bytes(
        b'{"type":"response_item","payload":{"type":"custom_tool_call","call_id":"caf\\u00e9",'
        b'"input":"x"}}\n'
    )
    assert consume_rollout(path, ["café"]).consumed == {"café"}
    assert b'"input":""' in path.read_bytes()


def test_other_line_types_naming_the_id_are_not_touched(tmp_path: Path) -> None:
    path = tmp_path / "r.jsonl"
    body = (
        b'{"type":"event_msg","payload":{"type":"mcp_tool_call_end","call_id":"c","output":"x"}}\n'
        b'{"type":"compacted","payload":{"call_id":"c","output":"x"}}\n'
    )
    path.write_bytes(body)
    result = consume_rollout(path, ["c"])
    assert result.unknown == {"c"} and path.read_bytes() == body


def test_a_local_shell_call_keeps_its_action_but_loses_its_output(tmp_path: Path) -> None:
    path = tmp_path / "r.jsonl"
    path.write_bytes(
        b'{"type":"response_item","payload":{"type":"local_shell_call","call_id":"s",'
        b'"action":{"type":"exec","command":["ls"]}}}\n'
        b'{"type":"response_item","payload":{"type":"function_call_output","call_id":"s",'
        b'"output":"a b c"}}\n'
    )
    assert consume_rollout(path, ["s"]).consumed == {"s"}
    events = parse_tool_calls(path.read_bytes().splitlines())
    assert [getattr(e, "input", None) or getattr(e, "output", None) for e in events] == [
        {"type": "exec", "command": ["ls"]},
        MARKER,
    ]


def test_a_missing_file_is_a_rollout_error(tmp_path: Path) -> None:
    with pytest.raises(RolloutError):
        consume_rollout(tmp_path / "nope.jsonl", ["x"])


def test_the_temp_file_is_removed_when_the_rewrite_fails(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = copy_of("tools_gpt55", tmp_path)
    before = path.read_bytes()

    def refuse(*_: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", refuse)
    with pytest.raises(RolloutError, match="No space left"):
        consume_rollout(path, ["call_exec1"])
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == [path.name]


def test_an_id_whose_value_crosses_the_scanned_head_of_a_line_is_still_found(
    tmp_path: Path,
) -> None:
    """The scan looks for `call_id` keys in a line's first bytes; the value may run past them."""
    call_id = "call_" + "x" * 1000
    prefix = '{"timestamp":"t","type":"response_item","payload":{"type":"function_call_output",'
    pad = " " * (480 - len(prefix))
    line = f'{prefix}{pad}"call_id":"{call_id}","output":"heavy"}}}}\n'
    path = tmp_path / "rollout.jsonl"
    path.write_text(line)
    result = consume_rollout(path, [call_id])
    assert result.consumed == {call_id}
    assert "heavy" not in path.read_text()
