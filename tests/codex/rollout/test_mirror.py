"""The mirror: codex's rollout lines → canonical tool_call/tool_result events, from an offset."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from syrupy.assertion import SnapshotAssertion
from syrupy.extensions.json import JSONSnapshotExtension

from plexum_openai_provider.codex.rollout import parse_tool_calls, read_tool_calls
from plexum_openai_provider.errors import RolloutError
from plexum_openai_provider.events import ToolCall, ToolResult

ROLLOUTS = Path(__file__).parents[2] / "fixtures" / "rollouts"
CAPTURED = ["tools_gpt55", "mcp_flow_gpt55", "codemode_mcp", "resume", "v135_tools", "v150_tools"]


def rollout(name: str) -> Path:
    return ROLLOUTS / f"{name}.rollout.trimmed.jsonl"


def line(kind: str, payload: dict[str, Any]) -> bytes:
    return json.dumps({"timestamp": "t", "type": kind, "payload": payload}).encode() + b"\n"


def item(item: dict[str, Any]) -> bytes:
    return line("event_msg", {"type": "item_completed", "item": item})


@pytest.mark.parametrize("name", CAPTURED)
def test_captured_rollouts_mirror_to_the_expected_events(
    name: str, snapshot: SnapshotAssertion
) -> None:
    result = read_tool_calls(rollout(name), 0)
    assert result.offset == rollout(name).stat().st_size
    assert [e.to_json() for e in result.events] == snapshot.use_extension(JSONSnapshotExtension)


def test_a_rollout_without_tool_calls_mirrors_to_nothing() -> None:
    assert read_tool_calls(rollout("basic"), 0).events == []


def test_block_ids_are_codex_call_ids_and_web_search_is_not_a_block() -> None:
    events = read_tool_calls(rollout("tools_gpt55"), 0).events
    assert [(e.type, e.block_id) for e in events] == [
        ("tool_call", "call_exec1"),
        ("tool_result", "call_exec1"),
        ("tool_call", "call_patch1"),
        ("tool_result", "call_patch1"),
    ]


def test_an_mcp_call_takes_server_and_tool_from_codex_item_event() -> None:
    events = read_tool_calls(rollout("mcp_flow_gpt55"), 0).events
    call = next(e for e in events if isinstance(e, ToolCall) and e.block_id == "call_mcp1")
    assert (call.namespace, call.server, call.tool, call.name) == (
        "mcp__echo1",
        "echo1",
        "echo",
        "echo",
    )
    assert call.input == '{"text":"ping 42"}'  # the JSON string exactly as in the rollout


def test_an_mcp_call_without_an_event_derives_its_server_from_the_namespace() -> None:
    events = parse_tool_calls(
        [
            line(
                "response_item",
                {
                    "type": "function_call",
                    "name": "echo",
                    "namespace": "mcp__my_srv",
                    "arguments": "{}",
                    "call_id": "c1",
                },
            ),
        ]
    )
    assert events == [
        ToolCall("c1", "function_call", "echo", "mcp__my_srv", "my_srv", "echo", "{}")
    ]


def test_v135_mcp_tool_call_end_gives_server_tool_and_error_state() -> None:
    call = {
        "type": "function_call",
        "name": "echo",
        "namespace": "mcp__fast",
        "arguments": "{}",
        "call_id": "c1",
    }
    end = {
        "type": "mcp_tool_call_end",
        "call_id": "c1",
        "invocation": {"server": "fast", "tool": "echo", "arguments": {}},
        "result": {"Ok": {"content": [], "isError": True}},
    }
    out = {"type": "function_call_output", "call_id": "c1", "output": "Wall time: 0\nOutput:\n[]"}
    events = parse_tool_calls(
        [line("response_item", call), line("event_msg", end), line("response_item", out)]
    )
    assert isinstance(events[0], ToolCall)
    assert (events[0].server, events[0].tool) == ("fast", "echo")
    assert events[1] == ToolResult("c1", "Wall time: 0\nOutput:\n[]", is_error=True)


@pytest.mark.parametrize(
    ("event", "is_error"),
    [
        ({"type": "McpToolCall", "status": "completed", "result": {"isError": False}}, False),
        ({"type": "McpToolCall", "status": "completed", "result": {"isError": True}}, True),
        ({"type": "McpToolCall", "status": "failed", "result": None}, True),
        ({"type": "McpToolCall", "status": "completed", "error": {"message": "x"}}, True),
    ],
)
def test_an_mcp_result_is_an_error_when_codex_says_it_failed(
    event: dict[str, Any], is_error: bool
) -> None:
    call = {
        "type": "function_call",
        "name": "t",
        "namespace": "mcp__s",
        "arguments": "{}",
        "call_id": "c1",
    }
    out = {"type": "function_call_output", "call_id": "c1", "output": "Wall time: 0\nOutput:\nok"}
    events = parse_tool_calls(
        [line("response_item", call), item({**event, "id": "c1"}), line("response_item", out)]
    )
    assert events[1] == ToolResult("c1", "Wall time: 0\nOutput:\nok", is_error=is_error)


@pytest.mark.parametrize(
    ("output", "is_error"),
    [
        ("Chunk ID: a\nWall time: 0\nProcess exited with code 0\nOutput:\n", False),
        ("Chunk ID: a\nWall time: 0\nProcess exited with code 2\nOutput:\n", True),
        ("Exit code: 1\nWall time: 0 seconds\nOutput:\nfailed", True),
        ("Chunk ID: a\nOutput:\nProcess exited with code 9\n", False),  # in the body: not ours
        ([{"type": "input_text", "text": "Exit code: 4\nOutput:\n"}], True),
        ("Process running with session ID 7\nOutput:\n", False),
    ],
)
def test_a_shell_result_is_an_error_when_its_header_reports_a_nonzero_exit(
    output: Any, is_error: bool
) -> None:
    events = parse_tool_calls(
        [
            line(
                "response_item",
                {
                    "type": "function_call",
                    "name": "exec_command",
                    "arguments": "{}",
                    "call_id": "c",
                },
            ),
            line(
                "response_item", {"type": "function_call_output", "call_id": "c", "output": output}
            ),
        ]
    )
    assert events[1] == ToolResult("c", output, is_error=is_error)


def test_code_mode_exec_lists_the_calls_it_made_by_position() -> None:
    events = read_tool_calls(rollout("codemode_mcp"), 0).events
    call = events[0]
    assert isinstance(call, ToolCall)
    assert (call.kind, call.name, call.namespace) == ("custom_tool_call", "exec", "functions")
    assert [(c["kind"], c.get("server"), c.get("tool"), c["status"]) for c in call.inner_calls] == [
        ("mcp_tool_call", "fast", "echo", "completed"),
        ("command_execution", None, None, "completed"),
    ]
    result = events[1]
    assert isinstance(result, ToolResult) and isinstance(result.output, list)


def test_a_call_without_an_output_yet_is_a_call_without_a_result() -> None:
    events = parse_tool_calls(
        [
            line(
                "response_item",
                {"type": "custom_tool_call", "name": "apply_patch", "input": "x", "call_id": "p"},
            )
        ]
    )
    assert events == [ToolCall("p", "custom_tool_call", "apply_patch", input="x")]


def test_parallel_calls_are_each_followed_by_their_own_result() -> None:
    def call(cid: str) -> bytes:
        return line(
            "response_item",
            {"type": "function_call", "name": "f", "arguments": "{}", "call_id": cid},
        )

    def out(cid: str) -> bytes:
        return line(
            "response_item", {"type": "function_call_output", "call_id": cid, "output": cid}
        )

    events = parse_tool_calls([call("a"), call("b"), out("b"), out("a")])
    assert [(e.type, e.block_id) for e in events] == [
        ("tool_call", "a"),
        ("tool_result", "a"),
        ("tool_call", "b"),
        ("tool_result", "b"),
    ]


def test_a_reused_call_id_gives_two_blocks_with_the_same_id() -> None:
    def call(n: int) -> bytes:
        return line(
            "response_item",
            {"type": "function_call", "name": "f", "arguments": str(n), "call_id": "dup"},
        )

    out = line("response_item", {"type": "function_call_output", "call_id": "dup", "output": "o"})
    events = parse_tool_calls([call(1), out, call(2), out])
    assert [(e.type, getattr(e, "input", None)) for e in events] == [
        ("tool_call", "1"),
        ("tool_result", None),
        ("tool_call", "2"),
        ("tool_result", None),
    ]


def test_garbage_and_unknown_lines_are_skipped() -> None:
    good = line(
        "response_item", {"type": "function_call", "name": "f", "arguments": "{}", "call_id": "c"}
    )
    junk = [
        b'{"call_id": ',
        b"[1, 2]",
        b'"call_id"',
        b'{"type": "mystery", "call_id": "z"}',
        b"\xff\xfe call_id",
    ]
    assert [e.block_id for e in parse_tool_calls([*junk, good])] == ["c"]


def test_mirroring_from_the_stored_offset_returns_only_the_new_calls(tmp_path: Path) -> None:
    path = tmp_path / "r.jsonl"
    shutil.copy(rollout("mcp_flow_gpt55"), path)
    lines = path.read_bytes().splitlines(keepends=True)
    first = read_tool_calls(path, 0)
    offset_after_search = sum(len(raw) for raw in lines[:19])
    tail = read_tool_calls(path, offset_after_search)
    assert [e.block_id for e in tail.events] == ["call_mcp1", "call_mcp1"]
    assert tail.events == first.events[-2:]
    assert tail.offset == first.offset


def test_a_result_whose_call_lies_before_the_offset_is_still_emitted(tmp_path: Path) -> None:
    path = tmp_path / "r.jsonl"
    shutil.copy(rollout("tools_gpt55"), path)
    lines = path.read_bytes().splitlines(keepends=True)
    offset = sum(len(raw) for raw in lines[:12])  # just after the function_call line
    events = read_tool_calls(path, offset).events
    assert isinstance(events[0], ToolResult) and events[0].block_id == "call_exec1"
    assert events[0].is_error is True  # the CommandExecution event after the offset says so


def test_a_partial_last_line_is_left_for_the_next_read(tmp_path: Path) -> None:
    path = tmp_path / "r.jsonl"
    whole = rollout("tools_gpt55").read_bytes()
    cut = whole.index(b'"call_patch1", "output"')  # mid-way through the apply_patch output line
    path.write_bytes(whole[:cut])
    first = read_tool_calls(path, 0)
    assert first.offset == whole.rfind(b"\n", 0, cut) + 1
    assert [e.type for e in first.events][-1] == "tool_call"  # apply_patch, no result yet
    path.write_bytes(whole)
    second = read_tool_calls(path, first.offset)
    assert [(e.type, e.block_id) for e in second.events] == [("tool_result", "call_patch1")]
    assert second.offset == len(whole)


def test_lines_longer_than_a_read_chunk_are_parsed_whole(tmp_path: Path) -> None:
    path = tmp_path / "r.jsonl"
    shutil.copy(rollout("codemode_mcp"), path)
    assert read_tool_calls(path, 0, chunk_size=7) == read_tool_calls(path, 0)


def test_an_offset_past_the_end_or_inside_a_line_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "r.jsonl"
    shutil.copy(rollout("tools_gpt55"), path)
    size = path.stat().st_size
    with pytest.raises(RolloutError, match="past the end"):
        read_tool_calls(path, size + 1)
    with pytest.raises(RolloutError, match="not a line start"):
        read_tool_calls(path, 5)
    assert read_tool_calls(path, size).events == []


def test_a_missing_rollout_is_a_rollout_error(tmp_path: Path) -> None:
    with pytest.raises(RolloutError, match="cannot read"):
        read_tool_calls(tmp_path / "gone.jsonl", 0)


def test_the_call_lines_extract_mirrors_without_its_session_header() -> None:
    events = read_tool_calls(ROLLOUTS / "mcp_flow_gpt55.rollout.call_lines.jsonl", 0).events
    assert [e.block_id for e in events] == ["call_search1"] * 2 + ["call_mcp1"] * 2


def _mcp_call(namespace: str = "mcp__plexum_host_a", name: str = "do_thing") -> bytes:
    payload = {"type": "function_call", "name": name, "namespace": namespace, "call_id": "c1"}
    return line("response_item", {**payload, "arguments": "{}"})


def _output(**extra: Any) -> bytes:
    payload = {"type": "function_call_output", "call_id": "c1", "output": "done"}
    return line("response_item", {**payload, **extra})


def _v135_end(server: Any, tool: Any, result: Any = None) -> bytes:
    invocation = {"server": server, "tool": tool, "arguments": {}}
    payload = {"type": "mcp_tool_call_end", "call_id": "c1", "invocation": invocation}
    return line("event_msg", {**payload, "result": result or {"Ok": {"content": []}}})


@pytest.mark.parametrize(
    "event",
    [
        _v135_end("plexum-host-a", "do-thing"),
        item({"type": "McpToolCall", "id": "c1", "server": "plexum-host-a", "tool": "do-thing"}),
    ],
    ids=["0.135 mcp_tool_call_end", "item_completed"],
)
def test_an_mcp_servers_real_name_wins_over_its_sanitised_namespace(event: bytes) -> None:
    # codex maps `plexum-host-a` to the namespace `mcp__plexum_host_a`; only its own event says
    # which server it really was, and that is the name a host knows.
    call = parse_tool_calls([_mcp_call(), event, _output()])[0]
    assert isinstance(call, ToolCall)
    assert (call.server, call.tool, call.name) == ("plexum-host-a", "do-thing", "do_thing")


@pytest.mark.parametrize(
    ("first", "later"),
    [
        (
            _v135_end("plexum-host-a", "do-thing"),
            item({"type": "McpToolCall", "id": "c1", "server": None, "status": "failed"}),
        ),
        (
            item(
                {"type": "McpToolCall", "id": "c1", "server": "plexum-host-a", "tool": "do-thing"}
            ),
            _v135_end(None, None, {"Err": "failed"}),
        ),
    ],
    ids=["end-then-item", "item-then-end"],
)
def test_a_later_event_without_names_keeps_the_names_already_known(
    first: bytes, later: bytes
) -> None:
    events = parse_tool_calls([_mcp_call(), first, later])
    assert isinstance(events[0], ToolCall)
    assert (events[0].server, events[0].tool) == ("plexum-host-a", "do-thing")


@pytest.mark.parametrize(
    ("result", "is_error"),
    [
        ({"Err": "tool call failed: connection closed"}, True),
        ({"Ok": {"content": [], "isError": False}}, False),
        ({"Ok": {"content": []}}, False),
    ],
)
def test_a_v135_mcp_result_is_an_error_exactly_when_codex_says_err(
    result: dict[str, Any], is_error: bool
) -> None:
    events = parse_tool_calls([_mcp_call(), _v135_end("s", "t", result), _output()])
    assert events[1] == ToolResult("c1", "done", is_error=is_error)


def _patch_lines(event: bytes, output: str = "Success.") -> list[bytes]:
    call = {"type": "custom_tool_call", "name": "apply_patch", "input": "*** Begin", "call_id": "p"}
    out = {"type": "custom_tool_call_output", "call_id": "p", "output": output}
    return [line("response_item", call), event, line("response_item", out)]


@pytest.mark.parametrize(
    ("event", "is_error"),
    [
        ({"type": "patch_apply_end", "call_id": "p", "success": False}, True),
        ({"type": "patch_apply_end", "call_id": "p", "success": True}, False),
        ({"type": "exec_command_end", "call_id": "p", "exit_code": 2}, True),
        ({"type": "exec_command_end", "call_id": "p", "exit_code": 1}, True),
        ({"type": "exec_command_end", "call_id": "p", "exit_code": 0}, False),
        # Only patch_apply_end's `success` is a verdict: other events' flags are not read.
        ({"type": "view_image_end", "call_id": "p", "success": False}, False),
    ],
)
def test_codex_v135_end_events_decide_whether_a_call_failed(
    event: dict[str, Any], is_error: bool
) -> None:
    lines = _patch_lines(line("event_msg", event))
    assert parse_tool_calls(lines)[1] == ToolResult("p", "Success.", is_error)


def test_codex_verdict_wins_over_the_output_header() -> None:
    end = line("event_msg", {"type": "exec_command_end", "call_id": "p", "exit_code": 0})
    lines = _patch_lines(end, output="Exit code: 1\nOutput:\n")
    assert parse_tool_calls(lines)[1] == ToolResult("p", "Exit code: 1\nOutput:\n", False)


@pytest.mark.parametrize(("status", "is_error"), [("failed", True), ("completed", False)])
def test_a_file_change_codex_reports_as_failed_is_an_error(status: str, is_error: bool) -> None:
    lines = _patch_lines(item({"type": "FileChange", "id": "p", "changes": {}, "status": status}))
    assert parse_tool_calls(lines)[1] == ToolResult("p", "Success.", is_error)


@pytest.mark.parametrize(
    ("extra", "is_error"),
    [
        ({"success": False}, True),
        ({"success": True}, False),
        ({"status": "incomplete"}, True),
        ({"status": "completed"}, False),
        ({"status": 3}, False),
    ],
)
def test_without_a_codex_verdict_the_output_payload_says_whether_it_failed(
    extra: dict[str, Any], is_error: bool
) -> None:
    events = parse_tool_calls([_mcp_call(), _output(**extra)])
    assert events[1] == ToolResult("c1", "done", is_error=is_error)


def test_a_nonzero_exit_in_the_header_is_found_however_long_the_output_is() -> None:
    text = "Exit code: 3\nWall time: 0 seconds\nOutput:\n" + "".join(f"{i}\n" for i in range(40))
    events = parse_tool_calls([_mcp_call(), _output(output=text)])
    assert events[1] == ToolResult("c1", text, is_error=True)


def test_text_lines_mirror_the_same_as_byte_lines() -> None:
    lines = [_mcp_call(), _v135_end("plexum-host-a", "do-thing"), _output()]
    assert parse_tool_calls([x.decode() for x in lines]) == parse_tool_calls(lines)
    assert len(parse_tool_calls([x.decode() for x in lines])) == 2


def test_events_whose_ids_are_not_strings_are_skipped() -> None:
    odd = [
        line("response_item", {"type": "function_call_output", "call_id": ["c1"], "output": "x"}),
        line("response_item", {"type": ["function_call_output"], "call_id": "c1", "output": "x"}),
        line("event_msg", {"type": "exec_command_end", "call_id": ["c1"], "exit_code": 1}),
        item({"type": "McpToolCall", "id": {"c1": 1}, "status": "failed"}),
    ]
    events = parse_tool_calls([_mcp_call(), *odd, _output()])
    assert events[1] == ToolResult("c1", "done", is_error=False)


@pytest.mark.parametrize(
    ("payload", "name"),
    [
        ({"type": "local_shell_call", "call_id": "c1"}, "local_shell"),
        ({"type": "image_generation_call", "call_id": "c1"}, "image_generation_call"),
    ],
)
def test_a_call_without_a_name_is_named_after_its_kind(payload: dict[str, Any], name: str) -> None:
    call = parse_tool_calls([line("response_item", payload)])[0]
    assert call == ToolCall("c1", payload["type"], name, input=None)


def test_a_namespace_that_is_not_a_string_is_no_namespace() -> None:
    payload = {"type": "function_call", "name": "f", "namespace": 5, "call_id": "c1"}
    call = parse_tool_calls([line("response_item", payload)])[0]
    assert isinstance(call, ToolCall)
    assert (call.namespace, call.server, call.name) == (None, None, "f")


def test_an_output_that_mentions_codex_item_type_names_is_still_mirrored() -> None:
    # e.g. a tool that searched codex's own sources: the pre-filter must not drop the line.
    text = "src/items.rs: McpToolCall CommandExecution FileChange"
    events = parse_tool_calls([_mcp_call(), _output(output=text)])
    assert events[1] == ToolResult("c1", text, is_error=False)


def test_a_code_mode_exec_keeps_its_inner_calls_while_other_calls_finish() -> None:
    exec_call = {"type": "custom_tool_call", "name": "exec", "input": "js", "call_id": "x"}
    other = {"type": "function_call", "name": "f", "arguments": "{}", "call_id": "f"}
    other_out = {"type": "function_call_output", "call_id": "f", "output": "ok"}
    inner = {"type": "McpToolCall", "id": "inner1", "server": "s", "tool": "t", "status": "done"}
    events = parse_tool_calls(
        [
            line("response_item", exec_call),
            line("response_item", other),
            line("response_item", other_out),
            item(inner),
        ]
    )
    call = events[0]
    assert isinstance(call, ToolCall) and call.block_id == "x"
    assert [c["id"] for c in call.inner_calls] == ["inner1"]


@pytest.mark.parametrize(
    "opener",
    [
        {"type": "function_call", "name": "exec", "arguments": "{}", "call_id": "x"},
        {"type": "custom_tool_call", "name": "apply_patch", "input": "p", "call_id": "x"},
    ],
    ids=["mcp-tool-named-exec", "apply_patch"],
)
def test_only_code_modes_exec_collects_the_calls_that_follow_it(opener: dict[str, Any]) -> None:
    inner = {"type": "McpToolCall", "id": "inner1", "server": "s", "tool": "t", "status": "done"}
    call = parse_tool_calls([line("response_item", opener), item(inner)])[0]
    assert isinstance(call, ToolCall)
    assert call.inner_calls == ()


def test_a_line_nested_deeper_than_the_decoder_follows_is_skipped_like_garbage() -> None:
    deep = line("event_msg", {"type": "exec_command_end", "call_id": "c1", "exit_code": 1})
    deep = deep.replace(
        b'"exit_code": 1', b'"exit_code": 1, "x": ' + b"[" * 100_000 + b"]" * 100_000
    )
    events = parse_tool_calls([_mcp_call(), deep, _output()])
    assert events[1] == ToolResult("c1", "done", is_error=False)
