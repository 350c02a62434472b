"""The warm MCP server's replies can never fail to encode: a lone surrogate in a tool's schema or
in a host's reply reaches codex as U+FFFD in valid UTF-8, and the session goes on."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

from plexum_openai_provider.bridge.mcp_server import serve_tools
from plexum_openai_provider.bridge.socket_path import stable_socket_path
from plexum_openai_provider.bridge.spec import ToolReply, ToolSpec

ODD = ToolSpec("odd", "A tool \ud800", {"type": "object", "properties": {"\udfff": {}}})
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


async def host(name: str, arguments: dict[str, Any]) -> ToolReply:
    return ToolReply.text("half a pair: \ud83d")


async def exchange(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, message: dict[str, Any]
) -> dict[str, Any]:
    writer.write(json.dumps(message).encode() + b"\n")
    line = await asyncio.wait_for(reader.readline(), 10)
    answer: dict[str, Any] = json.loads(line.decode("utf-8"))  # strict UTF-8
    return answer


async def test_lone_surrogates_in_schemas_and_replies_reach_codex_as_replacement_characters(
    sock_dir: Path,
) -> None:
    path = stable_socket_path("sur", socket_dir=sock_dir / "s")
    async with serve_tools(path, [ODD], host, agent_id="sur"):
        reader, writer = await asyncio.open_unix_connection(str(path))
        await exchange(reader, writer, INIT)
        listed = await exchange(reader, writer, {"jsonrpc": "2.0", "id": 2, "method": "tools/list"})
        tool = listed["result"]["tools"][0]
        assert tool["description"] == "A tool \ufffd"
        assert tool["inputSchema"]["properties"] == {"\ufffd": {}}
        call = {"name": "odd", "arguments": {}}
        called = await exchange(
            reader, writer, {"jsonrpc": "2.0", "id": 3, "method": "tools/call", "params": call}
        )
        assert called["result"]["content"][0]["text"] == "half a pair: \ufffd"
        pong = await exchange(reader, writer, {"jsonrpc": "2.0", "id": 4, "method": "ping"})
        assert pong["id"] == 4  # the session is still up
        writer.close()
        await writer.wait_closed()
