"""The stdlib warm MCP server held to the official `mcp` SDK: its client drives it end to end, and
every raw reply parses as the SDK's own wire models. The SDK is a test dependency only."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import mcp_types as types
import pytest
from mcp_types.version import HANDSHAKE_PROTOCOL_VERSIONS, LATEST_HANDSHAKE_VERSION

from plexum_openai_provider import __version__
from plexum_openai_provider.bridge import mcp_server as stdlib_server
from plexum_openai_provider.bridge.mcp_server import serve_tools
from plexum_openai_provider.bridge.socket_path import stable_socket_path
from plexum_openai_provider.bridge.spec import ToolReply, ToolSpec
from tests.bridge.mcp_client import mcp_host_session

ECHO = ToolSpec("echo", "Return `text`.", {"type": "object", "properties": {"text": {}}})
RICH = ToolSpec("rich", "Every content block type.")
BAD = ToolSpec("bad", "Returns a text block without text.")
SLOW = ToolSpec("slow", "Waits until cancelled.")

RICH_CONTENT = (
    {"type": "text", "text": "t", "annotations": {"audience": ["user"], "priority": 0.5}},
    {"type": "image", "data": "iVBORw0=", "mimeType": "image/png", "unknown_key": 1},
    {"type": "audio", "data": "AAAA", "mimeType": "audio/wav"},
    {"type": "resource_link", "uri": "file:///a.txt", "name": "a.txt", "size": 3},
    {"type": "resource", "resource": {"uri": "file:///b.txt", "text": "bee"}},
)


class Host:
    def __init__(self) -> None:
        self.slow_started = asyncio.Event()
        self.slow_cancelled = asyncio.Event()

    async def __call__(self, name: str, arguments: dict[str, Any]) -> ToolReply | str:
        if name == "rich":
            return ToolReply(RICH_CONTENT, structured_content={"n": 5})
        if name == "bad":
            return ToolReply(({"type": "text"},))
        if name == "slow":
            self.slow_started.set()
            try:
                await asyncio.Event().wait()
            except asyncio.CancelledError:
                self.slow_cancelled.set()
                raise
        return str(arguments.get("text"))


def test_the_servers_protocol_versions_are_the_sdks_handshake_versions() -> None:
    assert stdlib_server.HANDSHAKE_PROTOCOL_VERSIONS == HANDSHAKE_PROTOCOL_VERSIONS


async def test_the_sdk_client_initializes_pings_lists_and_reads_every_content_type(
    sock_dir: Path,
) -> None:
    path = stable_socket_path("carol", socket_dir=sock_dir / "s")
    async with (
        serve_tools(path, [ECHO, RICH, BAD], Host(), agent_id="carol"),
        mcp_host_session(path, "carol") as session,
    ):
        init = await session.initialize()
        assert init.protocol_version == LATEST_HANDSHAKE_VERSION
        assert init.server_info.name == "plexum-host" and init.server_info.version == __version__
        assert init.capabilities.tools is not None and not init.capabilities.tools.list_changed
        await session.send_ping()
        listed = (await session.list_tools()).tools
        assert [t.name for t in listed] == ["echo", "rich", "bad"]
        assert listed[1].input_schema == {"type": "object", "properties": {}}
        rich = await session.call_tool("rich", {})
        assert not rich.is_error and rich.structured_content == {"n": 5}
        assert [type(b).__name__ for b in rich.content] == [
            "TextContent",
            "ImageContent",
            "AudioContent",
            "ResourceLink",
            "EmbeddedResource",
        ]
        assert rich.content[0].annotations is not None
        assert rich.content[0].annotations.priority == 0.5
        assert rich.content[3].size == 3
        bad = await session.call_tool("bad", {})
        assert bad.is_error
        assert "returned invalid MCP content: block 0 (text): `text` is required" in (
            bad.content[0].text  # type: ignore[union-attr]
        )


async def _exchange(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, message: Any
) -> dict[str, Any]:
    writer.write((message if isinstance(message, bytes) else json.dumps(message).encode()) + b"\n")
    await writer.drain()
    line = await asyncio.wait_for(reader.readline(), 10)
    types.jsonrpc_message_adapter.validate_json(line, by_name=False)  # the SDK can read it
    reply: dict[str, Any] = json.loads(line)
    return reply


INIT = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {
        "protocolVersion": "2025-06-18",
        "capabilities": {},
        "clientInfo": {"name": "codex-mcp-client", "version": "0.169.0"},
    },
}


async def test_raw_replies_match_the_sdks_codes_and_parse_as_its_models(sock_dir: Path) -> None:
    path = stable_socket_path("dave", socket_dir=sock_dir / "s")
    async with serve_tools(path, [ECHO, RICH], Host(), agent_id="dave"):
        reader, writer = await asyncio.open_unix_connection(str(path))
        early = await _exchange(reader, writer, {"jsonrpc": "2.0", "id": 0, "method": "tools/list"})
        assert early["error"]["code"] == -32602  # the SDK's init gate
        pong = await _exchange(reader, writer, {"jsonrpc": "2.0", "id": "p", "method": "ping"})
        assert pong == {"jsonrpc": "2.0", "id": "p", "result": {}}
        init = await _exchange(reader, writer, INIT)
        result = types.InitializeResult.model_validate(init["result"], by_name=False)
        assert result.protocol_version == "2025-06-18"
        writer.write(b'{"jsonrpc":"2.0","method":"notifications/initialized"}\n')
        old = await _exchange(reader, writer, {**INIT, "id": 2, "params": {
            **INIT["params"], "protocolVersion": "1999-01-01"}})  # fmt: skip
        assert old["result"]["protocolVersion"] == LATEST_HANDSHAKE_VERSION
        list_tools = {"jsonrpc": "2.0", "id": 3, "method": "tools/list"}
        listed = await _exchange(reader, writer, list_tools)
        types.ListToolsResult.model_validate(listed["result"], by_name=False)
        call = {"name": "rich", "arguments": {}}
        rich = await _exchange(reader, writer, {"jsonrpc": "2.0", "id": 4, "method": "tools/call",
                                                "params": call})  # fmt: skip
        parsed = types.CallToolResult.model_validate(rich["result"], by_name=False)
        assert parsed.structured_content == {"n": 5}
        assert "unknown_key" not in rich["result"]["content"][1]  # dropped, as the SDK drops it
        missing = await _exchange(
            reader, writer, {"jsonrpc": "2.0", "id": 5, "method": "resources/list"}
        )
        assert missing["error"] == {
            "code": -32601,
            "message": "Method not found",
            "data": "resources/list",
        }
        bad_params = await _exchange(
            reader, writer, {"jsonrpc": "2.0", "id": 6, "method": "tools/call", "params": {}}
        )
        assert bad_params["error"]["code"] == -32602
        garbage = await _exchange(reader, writer, b"not json at all")
        assert garbage["id"] is None and garbage["error"]["code"] == -32700
        not_rpc = await _exchange(reader, writer, "a JSON string")
        assert not_rpc["id"] is None and not_rpc["error"]["code"] == -32600
        writer.close()
        await writer.wait_closed()


async def test_a_cancelled_call_stops_the_host_and_a_ping_is_answered_while_it_runs(
    sock_dir: Path,
) -> None:
    path = stable_socket_path("erin", socket_dir=sock_dir / "s")
    host = Host()
    async with serve_tools(path, [SLOW], host, agent_id="erin"):
        reader, writer = await asyncio.open_unix_connection(str(path))
        await _exchange(reader, writer, INIT)
        slow = {"jsonrpc": "2.0", "id": 7, "method": "tools/call", "params": {"name": "slow"}}
        writer.write(json.dumps(slow).encode() + b"\n")
        await asyncio.wait_for(host.slow_started.wait(), 10)
        pong = await _exchange(reader, writer, {"jsonrpc": "2.0", "id": 8, "method": "ping"})
        assert pong["id"] == 8
        cancel = {"jsonrpc": "2.0", "method": "notifications/cancelled",
                  "params": {"requestId": 7, "reason": "user"}}  # fmt: skip
        writer.write(json.dumps(cancel).encode() + b"\n")
        await asyncio.wait_for(host.slow_cancelled.wait(), 10)
        # No reply for the cancelled call: the next line is the answer to the next request.
        after = await _exchange(reader, writer, {"jsonrpc": "2.0", "id": 9, "method": "ping"})
        assert after["id"] == 9
        writer.close()
        await writer.wait_closed()


def test_the_warm_server_imports_neither_the_sdk_nor_pydantic() -> None:
    code = "import plexum_openai_provider.bridge.mcp_server, sys; print(sorted(sys.modules))"
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True,
        env={**os.environ, "PYTHONWARNINGS": "ignore"},
    ).stdout  # fmt: skip
    loaded = {m.split(".")[0] for m in json.loads(out.replace("'", '"'))}
    assert loaded.isdisjoint({"mcp", "mcp_types", "pydantic", "pydantic_core", "anyio"})
    assert "plexum_openai_provider" in loaded


@pytest.mark.parametrize(
    ("block", "problem"),
    [
        ({"type": "video", "data": "x"}, "`type` must be one of"),
        ({"type": "image", "data": "x"}, "`mimeType` is required"),
        ({"type": "text", "text": 3}, "`text` must be a string"),
        ({"type": "text", "text": "t", "annotations": {"priority": 2}}, "priority"),
        ({"type": "resource", "resource": {"uri": "u"}}, "`text` or `blob`"),
        ({"type": "resource_link", "uri": "u", "name": "n", "size": "big"}, "integer"),
    ],
)
def test_content_the_sdk_would_reject_is_reported(block: dict[str, Any], problem: str) -> None:
    from plexum_openai_provider.bridge.content import invalid_content

    found = invalid_content([block])
    assert found is not None and problem in found
    with pytest.raises(ValueError):
        types.CallToolResult.model_validate({"content": [block]}, by_name=False)
