"""`mcp-host`: codex's MCP stdio ⇄ the agent's unix socket. STANDARD LIBRARY ONLY.

Codex starts it on every exec and waits about a second, so this module (and everything it imports,
the package root included) must stay stdlib-only and light: never the facade's targets, the turn or
the `mcp` SDK. `main` reads PLEXUM_MCP_SOCKET / PLEXUM_MCP_AGENT_ID (set by the registration);
`relay(sock)` copies bytes both ways until either side closes. With no listener (no Plexum turn
running), `serve_empty` answers MCP itself with no tools: `initialize`, `ping`, `tools/list` → [],
`tools/call` → an error naming the agent. Run as `plexum-openai-provider mcp-host` or
`python -m plexum_openai_provider.bridge.relay`.
"""

from __future__ import annotations

import os
import sys

# The C module, not `socket`: its wrapper loads enum and selectors, ~5 ms of a start that codex
# waits for before its first model request on every turn with tools.
from _socket import AF_UNIX, SHUT_WR, SOCK_STREAM
from _socket import socket as Socket
from select import select

from plexum_openai_provider.codex.mcp_entry import AGENT_ENV, SOCKET_ENV
from plexum_openai_provider.version import __version__

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (mypy knows the name)
if TYPE_CHECKING:  # annotations are strings here; these names are never needed at run time
    from collections.abc import Sequence
    from typing import Any, BinaryIO

SERVER_NAME = "plexum-host"
# The handshake revisions of MCP, defined here once for this relay and the warm server
# (`mcp_server.py`), as the SDK (mcp 2.3.0) negotiates them: the client's when listed, else the
# newest. Here rather than in a module of their own: every import costs mcp-host start-up time.
HANDSHAKE_PROTOCOL_VERSIONS = ("2024-11-05", "2025-03-26", "2025-06-18", "2025-11-25")
MAX_LINE_BYTES = 16 << 20
_CHUNK = 65536


def connect(path: str) -> Socket | None:
    """A connection to the turn's server, or None when nobody listens (missing/stale socket)."""
    sock = Socket(AF_UNIX, SOCK_STREAM)
    try:
        sock.connect(path)
    except (FileNotFoundError, ConnectionRefusedError, NotADirectoryError):
        sock.close()
        return None
    except BaseException:
        sock.close()
        raise
    return sock


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def relay(sock: Socket, stdin_fd: int = 0, stdout_fd: int = 1) -> int:
    """Copy stdin → socket and socket → stdout until the socket closes.

    One thread, blocking writes: both peers (codex and the asyncio server) read and write
    concurrently, so a blocked write always drains. No `threading` import: it costs start-up time.
    """
    sock_fd = sock.fileno()
    watching = [stdin_fd, sock_fd]
    try:
        while True:
            ready, _, _ = select(watching, [], [])
            if sock_fd in ready:
                data = sock.recv(_CHUNK)
                if not data:
                    return 0  # the server ended the session (turn over, or refused)
                _write_all(stdout_fd, data)
            if stdin_fd in ready:
                data = os.read(stdin_fd, _CHUNK)
                if data:
                    sock.sendall(data)
                else:
                    # Half-close: the server sees EOF, ends the session and closes its side.
                    sock.shutdown(SHUT_WR)
                    watching.remove(stdin_fd)
    except (BrokenPipeError, ConnectionResetError):
        return 0  # codex closed its end, or the server died: either way the session is over
    finally:
        sock.close()


def negotiate_protocol(wanted: Any) -> str:
    """The MCP revision to answer `initialize` with: the client's when known, else the newest."""
    if wanted in HANDSHAKE_PROTOCOL_VERSIONS:
        return str(wanted)
    return HANDSHAKE_PROTOCOL_VERSIONS[-1]


def _result(request_id: Any, result: dict[str, Any]) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "id": request_id, "result": result}


def _error(request_id: Any, code: int, message: str) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "id": request_id, "error": {"code": code, "message": message}}


def answer_offline(message: Any, agent_id: str, version: str) -> dict[str, Any] | None:
    """The reply of a tool-less MCP server to one JSON-RPC message (None for notifications)."""
    if not isinstance(message, dict) or message.get("jsonrpc") != "2.0":
        return _error(None, -32600, "invalid JSON-RPC 2.0 message")
    method = message.get("method")
    if "id" not in message:
        return None  # notifications (initialized, cancelled, ...) and stray responses
    request_id = message["id"]
    if not isinstance(method, str):
        return (
            None
            if "result" in message or "error" in message
            else _error(request_id, -32600, "request without a method")
        )
    if method == "initialize":
        params = message.get("params") or {}
        wanted = params.get("protocolVersion") if isinstance(params, dict) else None
        return _result(
            request_id,
            {
                "protocolVersion": negotiate_protocol(wanted),
                "capabilities": {"tools": {}},
                "serverInfo": {"name": SERVER_NAME, "version": version},
                "instructions": f"No Plexum turn is running for agent {agent_id!r}: no tools.",
            },
        )
    if method == "ping":
        return _result(request_id, {})
    if method == "tools/list":
        return _result(request_id, {"tools": []})
    if method == "tools/call":
        return _error(
            request_id,
            -32602,
            f"no Plexum turn is running for agent {agent_id!r}; "
            "its tools exist only while one of its turns runs",
        )
    return _error(request_id, -32601, f"method not found: {method}")


def _reply_to_line(line: bytes, agent_id: str, version: str) -> bytes | None:
    import json  # only the offline server parses JSON; the relay moves bytes

    try:
        message = json.loads(line)
    except ValueError:
        reply: Any = _error(None, -32700, "parse error: not a JSON line")
    else:
        if isinstance(message, list):  # a JSON-RPC batch (MCP 2025-03-26)
            replies = [
                r for m in message if (r := answer_offline(m, agent_id, version)) is not None
            ]
            reply = replies or None
        else:
            reply = answer_offline(message, agent_id, version)
    if reply is None:
        return None
    return json.dumps(reply, separators=(",", ":")).encode() + b"\n"


def serve_empty(stdin: BinaryIO, stdout: BinaryIO, agent_id: str, version: str) -> int:
    """Serve newline-delimited MCP with no tools until stdin ends."""
    while True:
        line = stdin.readline(MAX_LINE_BYTES + 1)
        if not line:
            return 0
        if len(line) > MAX_LINE_BYTES and not line.endswith(b"\n"):
            # An oversized line: skip the rest of it, then tell the client once.
            while (rest := stdin.readline(MAX_LINE_BYTES)) and not rest.endswith(b"\n"):
                pass
            line = b"\x00"
        if not line.strip():
            continue
        out = _reply_to_line(line, agent_id, version)
        if out is not None:
            stdout.write(out)
            stdout.flush()


def run(socket_path: str | None, agent_id: str, version: str) -> int:
    """Relay to the turn's server when one listens on `socket_path`, else serve no tools."""
    sock = connect(socket_path) if socket_path else None
    if sock is not None:
        return relay(sock, sys.stdin.fileno(), sys.stdout.fileno())
    if not socket_path:
        print(f"mcp-host: {SOCKET_ENV} is not set; serving no tools", file=sys.stderr)
    return serve_empty(sys.stdin.buffer, sys.stdout.buffer, agent_id, version)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; `argv` may be empty or the single word `mcp-host` (from a registration)."""
    args = list(sys.argv[1:] if argv is None else argv)
    if args and args[0] == "mcp-host":
        args = args[1:]
    if args:
        print(
            f"mcp-host takes no arguments (got {args!r}); configure it through "
            f"{SOCKET_ENV} and {AGENT_ENV}",
            file=sys.stderr,
        )
        return 2
    socket_path = os.environ.get(SOCKET_ENV) or None
    agent_id = os.environ.get(AGENT_ENV, "")
    try:
        return run(socket_path, agent_id, __version__)
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
