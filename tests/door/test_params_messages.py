"""Each bad param gets its own exact message and field (what the daemon's user reads), and a good
one parses into exactly the values sent: the door's params, case by case."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import pytest

from plexum_openai_provider.door import params as p
from plexum_openai_provider.errors import RpcError
from plexum_openai_provider.jsonrpc.messages import INVALID_PARAMS

TURN: dict[str, Any] = {
    "turn_id": "t1",
    "agent": {"id": "a1", "workspace": "/w"},
    "session_id": "s1",
    "input": "hi",
}


def refused(parse: Any, params: Any) -> tuple[str, str]:
    with pytest.raises(RpcError) as caught:
        parse(params)
    error = caught.value
    assert error.code == INVALID_PARAMS
    assert isinstance(error.data, dict)
    field = error.data["field"]
    assert error.message.startswith(f"{field}: ")
    return field, error.message[len(field) + 2 :]


def test_a_good_turn_parses_into_exactly_what_was_sent() -> None:
    png = base64.b64encode(b"\x89PNG").decode()
    params = {
        **TURN,
        "model": "gpt-5.5",
        "tools": [
            {"name": "echo", "description": "says", "input_schema": {"type": "object", "x": 1}},
            {"name": "plain", "description": ""},
        ],
        "images": [{"path": "/w/a.png"}, {"data": png}],
        "output_schema": {"type": "object"},
        "reasoning_effort": "high",
        "codex_options": {"model_verbosity": "low"},
    }
    turn = p.parse_turn(params)
    assert turn == p.TurnParams(
        "t1",
        "a1",
        Path("/w"),
        "s1",
        "gpt-5.5",
        "hi",
        (
            p.ToolParam("echo", "says", {"type": "object", "x": 1}),
            p.ToolParam("plain", "", {"type": "object", "properties": {}}),
        ),
        images=(Path("/w/a.png"), b"\x89PNG"),
        output_schema={"type": "object"},
        reasoning_effort="high",
        codex_options={"model_verbosity": "low"},
    )
    bare = p.parse_turn(TURN)
    assert (bare.model, bare.tools, bare.images) == ("codex", (), ())
    assert (bare.output_schema, bare.reasoning_effort, bare.codex_options) == (None, None, None)


@pytest.mark.parametrize(
    ("change", "field", "problem"),
    [
        ({"turn_id": None}, "params.turn_id", "must be a string, not null"),
        ({"turn_id": True}, "params.turn_id", "must be a string, not a boolean"),
        ({"turn_id": 3}, "params.turn_id", "must be a string, not a number"),
        ({"turn_id": 2.5}, "params.turn_id", "must be a string, not a number"),
        ({"turn_id": []}, "params.turn_id", "must be a string, not an array"),
        ({"turn_id": {}}, "params.turn_id", "must be a string, not an object"),
        ({"turn_id": ""}, "params.turn_id", "must not be empty"),
        ({"turn_id": "x" * 257}, "params.turn_id", "longer than 256 characters"),
        ({"turn_id": "a\x1fb"}, "params.turn_id", "must not contain control characters"),
        (
            {"turn_id": "a\ud800"},
            "params.turn_id",
            "holds a lone surrogate (an unpaired \\ud800-\\udfff escape): not Unicode text",
        ),
        ({"agent": "a"}, "params.agent", "must be an object, not a string"),
        ({"agent": {"workspace": "/w"}}, "params.agent.id", "missing (a string is required)"),
        ({"agent": {"id": "", "workspace": "/w"}}, "params.agent.id", "must not be empty"),
        (
            {"agent": {"id": "a", "workspace": 5}},
            "params.agent.workspace",
            "must be a string, not a number",
        ),
        ({"agent": {"id": "a"}}, "params.agent.workspace", "missing (a string is required)"),
        (
            {"agent": {"id": "a", "workspace": "rel"}},
            "params.agent.workspace",
            "must be an absolute path (the plugin's cwd is not the agent's)",
        ),
        (
            {"agent": {"id": "a", "workspace": ""}},
            "params.agent.workspace",
            "must be an absolute path (the plugin's cwd is not the agent's)",
        ),
        (
            {"agent": {"id": "a", "workspace": "/w\x00x"}},
            "params.agent.workspace",
            "must be an absolute path (the plugin's cwd is not the agent's)",
        ),
        ({"session_id": ""}, "params.session_id", "must not be empty"),
        ({"model": ""}, "params.model", "must not be empty"),
        ({"model": 5}, "params.model", "must be a string, not a number"),
        ({"input": 5}, "params.input", "must be a string, not a number"),
        ({"reasoning_effort": 1}, "params.reasoning_effort", "must be a string, not a number"),
        ({"tools": {}}, "params.tools", "must be an array, not an object"),
        ({"tools": [3]}, "params.tools[0]", "must be an object, not a number"),
        (
            {"tools": [{"description": "d"}]},
            "params.tools[0].name",
            "missing (a string is required)",
        ),
        (
            {"tools": [{"name": "", "description": "d"}]},
            "params.tools[0].name",
            "must not be empty",
        ),
        (
            {"tools": [{"name": "a", "description": "d"}, {"name": "a", "description": "e"}]},
            "params.tools[1].name",
            "duplicate tool name 'a'",
        ),
        (
            {"tools": [{"name": "a"}]},
            "params.tools[0].description",
            "missing (a string is required)",
        ),
        (
            {"tools": [{"name": "a", "description": "d", "input_schema": {"type": "string"}}]},
            "params.tools[0].input_schema",
            'must be a JSON Schema object with "type": "object"',
        ),
        (
            {"tools": [{"name": "a", "description": "d", "input_schema": []}]},
            "params.tools[0].input_schema",
            'must be a JSON Schema object with "type": "object"',
        ),
        ({"images": "x"}, "params.images", "must be an array, not a string"),
        (
            {"images": [{}]},
            "params.images[0]",
            'must be an object with one key, "path" or "data"',
        ),
        (
            {"images": [{"path": "/a", "data": "AA=="}]},
            "params.images[0]",
            'must be an object with one key, "path" or "data"',
        ),
        (
            {"images": [{"url": "x"}]},
            "params.images[0]",
            'must be an object with one key, "path" or "data"',
        ),
        (
            {"images": ["/a.png"]},
            "params.images[0]",
            'must be an object with one key, "path" or "data"',
        ),
        ({"images": [{"path": 1}]}, "params.images[0].path", "must be a string, not a number"),
        (
            {"images": [{"path": "a.png"}]},
            "params.images[0].path",
            "must be an absolute path (the plugin's cwd is not the agent's)",
        ),
        ({"images": [{"data": 1}]}, "params.images[0].data", "must be a string, not a number"),
        ({"images": [{"data": "no base64!"}]}, "params.images[0].data", "must be standard base64"),
        ({"output_schema": []}, "params.output_schema", "must be an object, not an array"),
        ({"codex_options": "x"}, "params.codex_options", "must be an object, not a string"),
        (
            {"codex_options": {"k": 1}},
            "params.codex_options.k",
            "must be a string, not a number",
        ),
    ],
)
def test_each_bad_turn_param_is_named_with_its_problem(
    change: dict[str, Any], field: str, problem: str
) -> None:
    assert refused(p.parse_turn, {**TURN, **change}) == (field, problem)


@pytest.mark.parametrize(
    ("missing", "field", "problem"),
    [
        ("turn_id", "params.turn_id", "missing (a string is required)"),
        ("agent", "params.agent", "missing (an object is required)"),
        ("session_id", "params.session_id", "missing (a string is required)"),
        ("input", "params.input", "missing (a string is required)"),
    ],
)
def test_each_missing_turn_param_is_named(missing: str, field: str, problem: str) -> None:
    params = {k: v for k, v in TURN.items() if k != missing}
    assert refused(p.parse_turn, params) == (field, problem)


def test_ids_at_the_length_limit_and_printable_text_are_accepted() -> None:
    turn = p.parse_turn({**TURN, "turn_id": "x" * 256, "input": "tab\tand\nnewline"})
    assert turn.turn_id == "x" * 256 and turn.input == "tab\tand\nnewline"
    assert p.parse_turn({**TURN, "turn_id": " "}).turn_id == " "


def test_initialize_parses_its_host_and_names_what_is_wrong() -> None:
    good = {"protocol_version": "1", "host": {"name": "plexum", "version": "2"}}
    assert p.parse_initialize(good) == p.InitializeParams("1", "plexum", "2")
    assert refused(p.parse_initialize, {"host": good["host"]}) == (
        "params.protocol_version",
        "missing (a string is required)",
    )
    assert refused(p.parse_initialize, {"protocol_version": "1"}) == (
        "params.host",
        "missing (an object is required)",
    )
    assert refused(p.parse_initialize, {**good, "host": {"version": "2"}}) == (
        "params.host.name",
        "missing (a string is required)",
    )
    assert refused(p.parse_initialize, {**good, "host": {"name": "n"}}) == (
        "params.host.version",
        "missing (a string is required)",
    )


def test_cancel_and_consume_parse_and_name_what_is_wrong() -> None:
    assert p.parse_cancel({"turn_id": "t9"}) == "t9"
    assert refused(p.parse_cancel, {"turn_id": ""}) == ("params.turn_id", "must not be empty")
    good = {"workspace": "/w", "session_id": "s", "block_ids": ["c1", "c2"]}
    assert p.parse_consume(good) == p.ConsumeParams(Path("/w"), "s", ("c1", "c2"))
    assert p.parse_consume({**good, "block_ids": []}).block_ids == ()
    cases = [
        (
            {"workspace": "w"},
            "params.workspace",
            "must be an absolute path (the plugin's cwd is not the agent's)",
        ),
        ({"session_id": ""}, "params.session_id", "must not be empty"),
        ({"workspace": 5}, "params.workspace", "must be a string, not a number"),
        ({"block_ids": None}, "params.block_ids", "must be an array of strings, not null"),
        ({"block_ids": "c1"}, "params.block_ids", "must be an array of strings, not a string"),
        (
            {"block_ids": ["c1", ""]},
            "params.block_ids[1]",
            "must be a non-empty string (a codex call id)",
        ),
        ({"block_ids": [3]}, "params.block_ids[0]", "must be a non-empty string (a codex call id)"),
    ]
    for change, field, problem in cases:
        assert refused(p.parse_consume, {**good, **change}) == (field, problem)
    no_ids = {k: v for k, v in good.items() if k != "block_ids"}
    assert refused(p.parse_consume, no_ids) == (
        "params.block_ids",
        "must be an array of strings, not null",
    )


def test_the_protocols_own_codes() -> None:
    codes = (
        p.UNSUPPORTED_PROTOCOL_VERSION,
        p.NOT_INITIALIZED,
        p.DUPLICATE_TURN,
        p.UNSUPPORTED_MODEL,
        p.LINE_TOO_LONG,
        p.SHUTTING_DOWN,
        p.CONSUME_FAILED,
    )
    assert codes == (-32000, -32001, -32002, -32003, -32004, -32005, -32006)
    assert p.MAX_ID_CHARS == 256
