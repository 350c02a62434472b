"""The warm MCP server of one turn: the turn's dynamic tools on the agent's unix socket.

`serve_tools(socket_path, tools, call, agent_id=…, allow_peer=…)` listens (via `bind_listener`)
for the length of a turn. Each accepted connection — an `mcp-host` relay started by codex — gets
its own session of the official SDK's low-level `Server` over the socket, after its peer pid passes
`allow_peer`. `tools/call` goes to the host callback; a host exception becomes an `isError` result,
and so does any call after `end_turn()`. Import cost (~1 s for `mcp`) is paid by the plugin only.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import sys
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any

import anyio
import mcp_types as types
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream
from mcp.server.context import ServerRequestContext
from mcp.server.lowlevel import Server
from mcp.shared.message import SessionMessage
from pydantic import TypeAdapter

from plexum_openai_provider.bridge.peers import peer_credentials
from plexum_openai_provider.bridge.relay import MAX_LINE_BYTES, SERVER_NAME
from plexum_openai_provider.bridge.socket_path import Listener, bind_listener
from plexum_openai_provider.bridge.spec import PeerCheck, ToolCallback, ToolReply, ToolSpec
from plexum_openai_provider.version import __version__

log = logging.getLogger(__name__)

_REFUSAL_READ_TIMEOUT = 5.0  # how long a refused peer gets to send the request we answer
_CONTENT = TypeAdapter(list[types.ContentBlock])


def _error_result(message: str) -> types.CallToolResult:
    return types.CallToolResult(content=[types.TextContent(text=message)], is_error=True)


class TurnToolServer:
    """The tools of one running turn, served on one socket; see `serve_tools`."""

    def __init__(
        self,
        listener: Listener,
        tools: Sequence[ToolSpec],
        call: ToolCallback,
        *,
        agent_id: str,
        allow_peer: PeerCheck | None,
    ) -> None:
        self.listener = listener
        self.agent_id = agent_id
        self._tools = {t.name: t for t in tools}
        self._call = call
        self._allow_peer = allow_peer
        self._ended = False
        self._server: asyncio.AbstractServer | None = None
        self._connections: set[asyncio.Task[None]] = set()
        self.accepted = 0  # sessions served
        self.refused = 0  # connections refused by allow_peer
        self._mcp = Server[Any](
            SERVER_NAME,
            version=__version__,
            on_list_tools=self._on_list_tools,
            on_call_tool=self._on_call_tool,
        )

    @property
    def path(self) -> Path:
        return self.listener.path

    def end_turn(self) -> None:
        """From now on every `tools/call` gets an error result; nothing reaches the host."""
        self._ended = True

    async def _on_list_tools(
        self, ctx: ServerRequestContext[Any], params: types.PaginatedRequestParams | None
    ) -> types.ListToolsResult:
        tools = [] if self._ended else list(self._tools.values())
        return types.ListToolsResult(
            tools=[
                types.Tool(
                    name=t.name, description=t.description, input_schema=dict(t.input_schema)
                )
                for t in tools
            ]
        )

    async def _on_call_tool(
        self, ctx: ServerRequestContext[Any], params: types.CallToolRequestParams
    ) -> types.CallToolResult:
        if self._ended:
            return _error_result(
                f"the Plexum turn of agent {self.agent_id!r} has ended; "
                f"tool {params.name!r} can no longer be called"
            )
        if params.name not in self._tools:
            return _error_result(f"unknown tool {params.name!r} for agent {self.agent_id!r}")
        try:
            result = await self._call(params.name, dict(params.arguments or {}))
        except Exception as exc:  # a host failure is the model's business, never a crashed server
            log.warning("host tool %r raised", params.name, exc_info=True)
            return _error_result(f"tool {params.name!r} failed: {type(exc).__name__}: {exc}")
        if isinstance(result, str):
            result = ToolReply.text(result)
        try:
            content = _CONTENT.validate_python([dict(c) for c in result.content])
        except ValueError as exc:
            return _error_result(f"tool {params.name!r} returned invalid MCP content: {exc}")
        structured = dict(result.structured_content) if result.structured_content else None
        return types.CallToolResult(
            content=content, structured_content=structured, is_error=result.is_error
        )

    async def start(self) -> None:
        self._server = await asyncio.start_unix_server(self._on_connection, sock=self.listener.sock)

    async def close(self) -> None:
        """Stop accepting, end every session, remove our socket (only if still ours)."""
        self._ended = True
        if self._server is not None:
            self._server.close()
        for task in list(self._connections):
            task.cancel()
        if self._connections:
            await asyncio.gather(*self._connections, return_exceptions=True)
        if self._server is not None:
            with contextlib.suppress(Exception):
                await self._server.wait_closed()
        self.listener.close()

    def _on_connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.ensure_future(self._serve_connection(reader, writer))
        self._connections.add(task)
        task.add_done_callback(self._connections.discard)

    def _peer_allowed(self, writer: asyncio.StreamWriter) -> tuple[bool, str]:
        if self._allow_peer is None:
            return True, ""
        sock = writer.get_extra_info("socket")
        creds = peer_credentials(sock) if sock is not None else None
        if creds is None:
            # No SO_PEERCRED (not Linux): like descends_from there, rely on the 0700 socket dir.
            return not sys.platform.startswith("linux"), "caller unknown (no SO_PEERCRED)"
        try:
            allowed = self._allow_peer(creds.pid)
        except Exception:
            log.warning("allow_peer raised for pid %d", creds.pid, exc_info=True)
            allowed = False
        return allowed, f"pid {creds.pid}"

    async def _serve_connection(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        try:
            allowed, who = self._peer_allowed(writer)
            if allowed:
                self.accepted += 1
                await self._run_session(reader, writer)
            else:
                self.refused += 1
                log.warning("refused MCP caller %s on agent %r's socket", who, self.agent_id)
                await self._refuse(reader, writer)
        except (ConnectionError, asyncio.IncompleteReadError):
            pass  # the relay went away mid-session: nothing left to answer
        except Exception:
            log.exception("MCP session on %s failed", self.path)
        finally:
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    async def _refuse(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """Answer the caller's first request with an error naming the agent, then hang up."""
        message = (
            f"this socket serves only the running turn of agent {self.agent_id!r}; "
            "the caller is not that turn's codex"
        )
        with contextlib.suppress(TimeoutError, ValueError, ConnectionError):
            async with asyncio.timeout(_REFUSAL_READ_TIMEOUT):
                async for line in _lines(reader):
                    try:
                        request = json.loads(line)
                    except ValueError:
                        request = None
                    if isinstance(request, dict) and "id" in request and "method" in request:
                        error = {"code": -32001, "message": message}
                        reply = {"jsonrpc": "2.0", "id": request["id"], "error": error}
                        writer.write(json.dumps(reply).encode() + b"\n")
                        await writer.drain()
                        return

    async def _run_session(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        to_server: MemoryObjectSendStream[SessionMessage | Exception]
        from_client: MemoryObjectReceiveStream[SessionMessage | Exception]
        to_server, from_client = anyio.create_memory_object_stream[SessionMessage | Exception](0)
        to_client: MemoryObjectSendStream[SessionMessage]
        from_server: MemoryObjectReceiveStream[SessionMessage]
        to_client, from_server = anyio.create_memory_object_stream[SessionMessage](0)

        async def read_socket() -> None:
            async with to_server:
                async for line in _lines(reader):
                    try:
                        message = types.jsonrpc_message_adapter.validate_json(line, by_name=False)
                    except ValueError as exc:
                        await to_server.send(exc)
                        continue
                    await to_server.send(SessionMessage(message))

        async def write_socket() -> None:
            async with from_server:
                async for item in from_server:
                    data = item.message.model_dump_json(by_alias=True, exclude_unset=True)
                    writer.write(data.encode() + b"\n")
                    await writer.drain()

        async with asyncio.TaskGroup() as group:
            group.create_task(read_socket())
            group.create_task(write_socket())
            group.create_task(
                self._mcp.run(from_client, to_client, self._mcp.create_initialization_options())
            )


async def _lines(reader: asyncio.StreamReader) -> AsyncIterator[bytes]:
    """Newline-framed messages up to MAX_LINE_BYTES (StreamReader.readline stops at 64 KiB)."""
    buffer = bytearray()
    while chunk := await reader.read(65536):
        buffer += chunk
        while (end := buffer.find(b"\n")) >= 0:
            line = bytes(buffer[:end])
            del buffer[: end + 1]
            if line.strip():
                yield line
        if len(buffer) > MAX_LINE_BYTES:
            raise ValueError(f"MCP message over {MAX_LINE_BYTES} bytes")
    if buffer.strip():
        yield bytes(buffer)


@contextlib.asynccontextmanager
async def serve_tools(
    socket_path: Path,
    tools: Sequence[ToolSpec],
    call: ToolCallback,
    *,
    agent_id: str,
    allow_peer: PeerCheck | None = None,
) -> AsyncIterator[TurnToolServer]:
    """Serve `tools` on `socket_path` until the block exits (then the socket is removed).

    Raises `SocketInUseError`/`UnsafeSocketDirError` before yielding when the path is not ours.
    """
    server = TurnToolServer(
        bind_listener(socket_path), tools, call, agent_id=agent_id, allow_peer=allow_peer
    )
    try:
        await server.start()
        yield server
    finally:
        await server.close()
