"""The warm MCP server of one turn: the turn's tools on the agent's unix socket. STDLIB ONLY.

`serve_tools(socket_path, tools, call, agent_id=…, allow_peer=…)` listens (via `bind_listener`)
for the length of a turn. Each accepted connection — an `mcp-host` relay started by codex — is one
MCP session, served after its peer pid passes `allow_peer`. The MCP methods codex uses
(`initialize`, `notifications/initialized`, `ping`, `tools/list`, `tools/call`,
`notifications/cancelled`) are answered here as the official SDK's low-level server answers them
(tests/bridge/test_mcp_server_conformance.py drives this with the SDK's client); the SDK is not
imported, because its ~1 s of imports landed on every cold turn with tools. `tools/call` goes to
the host callback; a host exception becomes an `isError` result, and so does any call after
`end_turn()`. JSON-RPC messages and errors come from `jsonrpc/messages.py`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import sys
from collections.abc import AsyncIterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from plexum_openai_provider.bridge.content import invalid_content, normalise_content
from plexum_openai_provider.bridge.peers import peer_credentials
from plexum_openai_provider.bridge.relay import (
    HANDSHAKE_PROTOCOL_VERSIONS as HANDSHAKE_PROTOCOL_VERSIONS,  # the tests read it here
)
from plexum_openai_provider.bridge.relay import (
    MAX_LINE_BYTES,
    SERVER_NAME,
    negotiate_protocol,
)
from plexum_openai_provider.bridge.socket_path import Listener, bind_listener
from plexum_openai_provider.bridge.spec import PeerCheck, ToolCallback, ToolReply, ToolSpec
from plexum_openai_provider.errors import RpcError
from plexum_openai_provider.jsonrpc.messages import (
    INVALID_PARAMS,
    INVALID_REQUEST,
    METHOD_NOT_FOUND,
    PARSE_ERROR,
    encode_line,
    error_message,
    result_message,
)
from plexum_openai_provider.version import __version__

log = logging.getLogger(__name__)

_REFUSAL_READ_TIMEOUT = 5.0  # how long a refused peer gets to send the request we answer

# The SDK's wording for INVALID_PARAMS; the code for a caller that is not the turn's codex.
_INVALID_PARAMS = "Invalid request parameters"
_NOT_THIS_TURN = -32001
_SERVED = frozenset({"initialize", "ping", "tools/list", "tools/call"})
_BEFORE_INITIALIZE = frozenset({"initialize", "ping"})  # the SDK's init gate lets these through

JsonObject = dict[str, Any]


def _error_result(message: str) -> JsonObject:
    return {"content": [{"type": "text", "text": message}], "isError": True}


def _reply_line(payload: JsonObject) -> bytes:
    return encode_line(payload)  # never raises: a lone surrogate reaches codex as U+FFFD


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

    @property
    def path(self) -> Path:
        return self.listener.path

    def end_turn(self) -> None:
        """From now on every `tools/call` gets an error result; nothing reaches the host."""
        self._ended = True

    # -- the MCP methods ---------------------------------------------------------------------

    def initialize_result(self, params: Any) -> JsonObject:
        if not isinstance(params, dict) or not isinstance(params.get("protocolVersion"), str):
            raise RpcError(INVALID_PARAMS, _INVALID_PARAMS, "")
        if not isinstance(params.get("capabilities"), dict) or not isinstance(
            params.get("clientInfo"), dict
        ):
            raise RpcError(INVALID_PARAMS, _INVALID_PARAMS, "")
        return {
            "capabilities": {"tools": {"listChanged": False}},
            "protocolVersion": negotiate_protocol(params["protocolVersion"]),
            "serverInfo": {"name": SERVER_NAME, "version": __version__},
        }

    def list_tools_result(self) -> JsonObject:
        tools = [] if self._ended else list(self._tools.values())
        return {
            "tools": [
                {"name": t.name, "description": t.description, "inputSchema": dict(t.input_schema)}
                for t in tools
            ]
        }

    async def call_tool_result(self, params: Any) -> JsonObject:
        if not isinstance(params, dict) or not isinstance(params.get("name"), str):
            raise RpcError(INVALID_PARAMS, _INVALID_PARAMS, "")
        arguments = params.get("arguments")
        if arguments is not None and not isinstance(arguments, dict):
            raise RpcError(INVALID_PARAMS, _INVALID_PARAMS, "")
        name: str = params["name"]
        if self._ended:
            return _error_result(
                f"the Plexum turn of agent {self.agent_id!r} has ended; "
                f"tool {name!r} can no longer be called"
            )
        if name not in self._tools:
            return _error_result(f"unknown tool {name!r} for agent {self.agent_id!r}")
        try:
            result = await self._call(name, dict(arguments or {}))
        except Exception as exc:  # a host failure is the model's business, never a crashed server
            log.warning("host tool %r raised", name, exc_info=True)
            return _error_result(f"tool {name!r} failed: {type(exc).__name__}: {exc}")
        if isinstance(result, str):
            result = ToolReply.text(result)
        if not isinstance(result, ToolReply):
            kind = type(result).__name__
            return _error_result(f"tool {name!r} returned a {kind}, not a ToolReply or str")
        problem = invalid_content(result.content)
        if problem is not None:
            return _error_result(f"tool {name!r} returned invalid MCP content: {problem}")
        out: JsonObject = {"content": normalise_content(result.content)}
        if result.structured_content:
            out["structuredContent"] = dict(result.structured_content)
        out["isError"] = bool(result.is_error)
        return out

    # -- the socket --------------------------------------------------------------------------

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
                await _Session(self, writer).run(reader)
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
                        error = RpcError(_NOT_THIS_TURN, message)
                        writer.write(_reply_line(error_message(request["id"], error)))
                        await writer.drain()
                        return


class _Session:
    """One relay's MCP session: requests run as tasks, so a `ping` is answered during a call."""

    def __init__(self, server: TurnToolServer, writer: asyncio.StreamWriter) -> None:
        self.server = server
        self.writer = writer
        self.initialized = False
        self.calls: dict[Any, asyncio.Task[None]] = {}  # request id -> running tools/call

    async def run(self, reader: asyncio.StreamReader) -> None:
        try:
            async for line in _lines(reader):
                await self._dispatch(line)
        finally:
            for task in self.calls.values():
                task.cancel()  # the relay is gone: nobody is left to read these results
            if self.calls:
                await asyncio.gather(*self.calls.values(), return_exceptions=True)

    async def _send(self, payload: JsonObject) -> None:
        self.writer.write(_reply_line(payload))
        await self.writer.drain()

    async def _send_error(self, request_id: Any, exc: RpcError) -> None:
        await self._send(error_message(request_id, exc))

    async def _dispatch(self, line: bytes) -> None:
        try:
            message = json.loads(line)
        except ValueError:
            await self._send_error(None, RpcError(PARSE_ERROR, "Parse error"))
            return
        if not isinstance(message, dict) or message.get("jsonrpc") != "2.0":
            await self._send_error(None, RpcError(INVALID_REQUEST, "Invalid Request"))
            return
        method = message.get("method")
        if not isinstance(method, str):
            return  # a response to nothing we asked, or junk: the SDK drops these too
        if "id" not in message:
            self._notify(method, message.get("params"))
            return
        request_id = message["id"]
        params = message.get("params")
        try:
            if method not in _SERVED:
                raise RpcError(METHOD_NOT_FOUND, "Method not found", method)
            if method == "initialize":
                result = self.server.initialize_result(params)
                self.initialized = True
            elif not self.initialized and method not in _BEFORE_INITIALIZE:
                raise RpcError(INVALID_PARAMS, _INVALID_PARAMS, "")
            elif method == "ping":
                result = {}
            elif method == "tools/list":
                result = self.server.list_tools_result()
            else:
                if request_id in self.calls:
                    message = f"request id {request_id!r} is already running"
                    raise RpcError(INVALID_REQUEST, message)
                self._start_call(request_id, params)
                return
        except RpcError as exc:
            await self._send_error(request_id, exc)
            return
        await self._send(result_message(request_id, result))

    def _start_call(self, request_id: Any, params: Any) -> None:
        task = asyncio.ensure_future(self._run_call(request_id, params))
        self.calls[request_id] = task

        def forget(_: asyncio.Task[None]) -> None:
            if self.calls.get(request_id) is task:
                del self.calls[request_id]

        task.add_done_callback(forget)

    async def _run_call(self, request_id: Any, params: Any) -> None:
        # A task nobody awaits: nothing may escape it (the relay hanging up is not a bug).
        try:
            try:
                result = await self.server.call_tool_result(params)
            except RpcError as exc:
                await self._send_error(request_id, exc)
                return
            await self._send(result_message(request_id, result))
        except (ConnectionError, OSError) as exc:
            log.debug("tools/call %r: the relay went away before the answer (%s)", request_id, exc)

    def _notify(self, method: str, params: Any) -> None:
        if method == "notifications/initialized":
            self.initialized = True
        elif method == "notifications/cancelled" and isinstance(params, Mapping):
            # The client gave up on a call: stop it and send nothing (MCP cancellation rules).
            task = self.calls.get(params.get("requestId"))
            if task is not None:
                task.cancel()


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
    listener: Listener | None = None,
) -> AsyncIterator[TurnToolServer]:
    """Serve `tools` on `socket_path` until the block exits (then the socket is removed), on
    `listener` when the path was bound already (a cold `say`'s head start binds it before codex).

    Raises `SocketInUseError`/`UnsafeSocketDirError` before yielding when the path is not ours.
    """
    bound = listener if listener is not None else bind_listener(socket_path)
    server = TurnToolServer(bound, tools, call, agent_id=agent_id, allow_peer=allow_peer)
    try:
        await server.start()
        yield server
    finally:
        await server.close()
