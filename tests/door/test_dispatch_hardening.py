"""The door in-process (`PluginServer` fed lines, its output collected): every request gets one
answer, a response is never answered, ids are echoed as the schema says, and a lone surrogate is
refused where it comes in, naming the field. Every line the door writes is valid UTF-8 JSON and
valid against docs/protocol.schema.json."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest

from plexum_openai_provider import HostConfig
from plexum_openai_provider.door.dispatch import PluginServer
from plexum_openai_provider.door.stdio import ProtocolOutput
from plexum_openai_provider.jsonrpc.messages import encode_line

from ..protocol_schema import schema_problems

# A path component over NAME_MAX: stat() fails with ENAMETOOLONG, so `Path.is_dir()` raises.
TOO_LONG = "/" + "a" * 300


class Wire:
    """A door with its output collected as the bytes it would write."""

    def __init__(self, tmp_path: Path) -> None:
        config = HostConfig(
            binary=str(tmp_path / "no-codex"),
            codex_home=str(tmp_path / "home"),
            socket_dir=str(tmp_path / "sock"),
        )
        self.lines: list[bytes] = []
        self.arrived = asyncio.Event()
        output = ProtocolOutput(self._write)
        self.server = PluginServer(config, output.send, max_line_bytes=1 << 20)

    async def _write(self, line: bytes) -> None:
        self.lines.append(line)
        self.arrived.set()

    def messages(self) -> list[dict[str, Any]]:
        out = []
        for line in self.lines:
            assert line.endswith(b"\n") and b"\n" not in line[:-1]
            message = json.loads(line.decode("utf-8"))  # strict: valid UTF-8
            assert schema_problems("to_daemon", message, None) == [], message
            out.append(message)
        return out

    async def feed(self, message: Any) -> None:
        line = message if isinstance(message, bytes) else json.dumps(message).encode()
        await self.server.handle_line(line)

    async def answer(self, request_id: Any, timeout: float = 10) -> dict[str, Any]:
        """The response to `request_id`, once it arrives (bounded)."""
        async with asyncio.timeout(timeout):
            while True:
                for message in self.messages():
                    if "method" not in message and message.get("id") == request_id:
                        return message
                self.arrived.clear()
                await self.arrived.wait()

    async def initialized(self) -> None:
        params = {"protocol_version": "1", "host": {"name": "t", "version": "0"}}
        await self.feed({"jsonrpc": "2.0", "id": "init", "method": "initialize", "params": params})
        assert "result" in await self.answer("init")

    async def close(self) -> None:
        await self.server.shutdown()


@pytest.fixture
async def wire(tmp_path: Path) -> Any:
    w = Wire(tmp_path)
    await w.initialized()
    yield w
    await w.close()


def turn(turn_id: str, workspace: str, **over: Any) -> dict[str, Any]:
    params = {
        "turn_id": turn_id,
        "agent": {"id": "a", "workspace": workspace},
        "session_id": "s",
        "input": "hi",
        **over,
    }
    return {"jsonrpc": "2.0", "id": turn_id, "method": "turn", "params": params}


# -- item 9: every request gets a response ----------------------------------------------------


async def test_a_workspace_that_cannot_be_stat_ed_gets_an_answer_to_consume_and_config_on_turn(
    wire: Wire,
) -> None:
    params = {"workspace": TOO_LONG, "session_id": "s", "block_ids": ["call_1"]}
    await wire.feed({"jsonrpc": "2.0", "id": 7, "method": "consume", "params": params})
    answer = await wire.answer(7)
    assert answer["error"]["code"] == -32602, answer
    assert answer["error"]["data"] == {"field": "params.workspace"}
    assert "File name too long" in answer["error"]["message"]

    await wire.feed(turn("t-long", TOO_LONG))
    response = await wire.answer("t-long")
    event = response["result"]["event"]
    assert (event["type"], event["code"]) == ("error", "config"), event
    assert "File name too long" in event["message"]


# -- item 10: ids, and never answering a response ---------------------------------------------


PROBE = {"jsonrpc": "2.0", "id": "probe", "method": "cancel", "params": {"turn_id": "x"}}


@pytest.mark.parametrize(
    "response",
    [
        {"jsonrpc": "2.0", "id": None, "error": {"code": -32600, "message": "bad"}},
        {"jsonrpc": "2.0", "id": 1.5, "result": {}},
        {"jsonrpc": "2.0", "id": True, "error": {"code": 1, "message": "x"}},
        {"jsonrpc": "2.0", "id": "plugin-99", "result": 1, "error": {}},
        {"id": None, "error": {"code": -32600, "message": "no jsonrpc member"}},
        {"jsonrpc": "2.0", "result": {"content": []}},
    ],
    ids=["null-id-error", "fraction-id", "boolean-id", "both", "untagged", "no-id"],
)
async def test_a_response_is_never_answered_whatever_its_id(
    wire: Wire, response: dict[str, Any]
) -> None:
    before = len(wire.lines)
    await wire.feed(response)
    await wire.feed(PROBE)
    await wire.answer("probe")
    # Only the probe's answer: two peers that each answered the other's errors would loop.
    assert [m.get("id") for m in wire.messages()[before:]] == ["probe"]


@pytest.mark.parametrize(
    ("request_id", "echoed"),
    [(1.5, 1.5), (-2.25, -2.25), (1e-300, 1e-300), (None, None), (True, None), ([1], None)],
)
async def test_a_request_with_an_invalid_id_is_answered_with_the_id_echoed_when_it_is_a_number(
    wire: Wire, request_id: Any, echoed: Any
) -> None:
    await wire.feed({"jsonrpc": "2.0", "id": request_id, "method": "cancel", "params": {}})
    answer = wire.messages()[-1]
    assert answer["error"]["code"] == -32600 and "`id`" in answer["error"]["message"]
    assert answer["id"] == echoed and type(answer["id"]) is type(echoed)


@pytest.mark.parametrize("request_id", [0, -7, "r-1", "", 1.5, 2.0, None, True, [1], {"a": 1}])
async def test_the_schema_and_the_door_agree_on_which_request_ids_are_valid(
    wire: Wire, request_id: Any
) -> None:
    request = {"jsonrpc": "2.0", "id": request_id, "method": "cancel", "params": {"turn_id": "x"}}
    schema_says = schema_problems("to_plugin", request, None) == []
    await wire.feed(request)
    answer = wire.messages()[-1]
    door_says = "result" in answer
    assert schema_says == door_says, (request_id, answer)
    if door_says:
        assert answer["id"] == request_id


# -- items 11 and 16: lone surrogates ---------------------------------------------------------


SURROGATE_PLACES = [
    (
        "tools",
        {
            "tools": [
                {
                    "name": "t",
                    "description": "d",
                    "input_schema": {
                        "type": "object",
                        "properties": {"x": {"description": "\ud800"}},
                    },
                }
            ]
        },
        "params.tools[0].input_schema.properties.x.description",
    ),
    (
        "schema-key",
        {
            "tools": [
                {
                    "name": "t",
                    "description": "d",
                    "input_schema": {"type": "object", "properties": {"\udfff": {}}},
                }
            ]
        },
        "params.tools[0].input_schema.properties",
    ),
    (
        "output_schema",
        {"output_schema": {"type": "object", "title": "a\udc80b"}},
        "params.output_schema.title",
    ),
    ("input", {"input": "hi \ud83d"}, "params.input"),
]


@pytest.mark.parametrize(
    ("place", "over", "field"), SURROGATE_PLACES, ids=[p[0] for p in SURROGATE_PLACES]
)
async def test_a_lone_surrogate_anywhere_in_a_turn_is_refused_naming_the_field(
    wire: Wire, tmp_path: Path, place: str, over: dict[str, Any], field: str
) -> None:
    await wire.feed(turn(f"t-{place}", str(tmp_path), **over))
    answer = await wire.answer(f"t-{place}")
    assert answer["error"]["code"] == -32602, answer
    assert answer["error"]["data"]["field"].startswith(field), answer
    assert "lone surrogate" in answer["error"]["message"]


async def test_a_lone_surrogate_written_as_raw_bytes_is_not_utf_8(wire: Wire) -> None:
    line = b'{"jsonrpc": "2.0", "id": 3, "method": "cancel", "params": {"turn_id": "\xed\xa0\x80"}}'
    await wire.feed(line)
    answer = wire.messages()[-1]
    assert answer["error"]["code"] == -32700 and answer["id"] is None


async def test_a_tools_call_answer_holding_a_lone_surrogate_becomes_an_error_result(
    wire: Wire,
) -> None:
    call = asyncio.ensure_future(wire.server.tool_calls.call("t", "a", "echo", {}))
    async with asyncio.timeout(10):
        while wire.messages()[-1].get("method") != "tools/call":
            wire.arrived.clear()
            await wire.arrived.wait()
    request_id = wire.messages()[-1]["id"]
    answer = {"content": [{"type": "text", "text": "bad \udfff"}]}
    await wire.feed({"jsonrpc": "2.0", "id": request_id, "result": answer})
    reply = await asyncio.wait_for(call, 10)
    assert reply.is_error
    text = reply.content[0]["text"]
    assert "content[0].text" in text and "lone surrogate" in text
    text.encode("utf-8")  # what reaches codex is text


def test_encoding_a_line_never_raises_and_replaces_a_lone_surrogate() -> None:
    line = encode_line({"id": "x\ud800", "result": {"k\udfff": ["é", "\U0001f600"]}})
    assert json.loads(line.decode("utf-8")) == {
        "id": "x\ufffd",
        "result": {"k\ufffd": ["é", "\U0001f600"]},
    }
    assert line.endswith(b"\n") and line.count(b"\n") == 1
