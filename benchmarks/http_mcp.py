"""A stdlib MCP server over streamable HTTP with a bearer token: the conformance echo server's
tools, answered as `application/json` (no SSE), for measuring what a warm in-process HTTP server
would save a turn against a stdio server codex has to start.

Run as `python -m benchmarks.http_mcp TOKEN`: it prints its URL (http://127.0.0.1:PORT/mcp) and
serves until killed. A request without `Authorization: Bearer TOKEN` gets 401; `GET` (the
optional server-to-client stream) gets 405, which the streamable HTTP transport allows.
"""

from __future__ import annotations

import hmac
import json
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from conformance.mcp_echo_server import PROTOCOL_VERSION, TOOLS, call_tool

SESSION = "bench-session"


def answer(message: dict[str, Any]) -> dict[str, Any] | None:
    """The JSON-RPC reply to one message (None for a notification)."""
    method, ident = message.get("method"), message.get("id")
    params = message.get("params") or {}
    if ident is None:
        return None
    result: Any
    if method == "initialize":
        result = {
            "protocolVersion": params.get("protocolVersion", PROTOCOL_VERSION),
            "capabilities": {"tools": {"listChanged": False}},
            "serverInfo": {"name": "bench-http-echo", "version": "1.0.0"},
        }
    elif method == "tools/list":
        result = {"tools": TOOLS}
    elif method == "tools/call":
        result = call_tool(str(params.get("name")), params.get("arguments") or {})
    elif method == "ping":
        result = {}
    else:
        result = None
    if result is None:
        error = {"code": -32601, "message": f"cannot serve {method}"}
        return {"jsonrpc": "2.0", "id": ident, "error": error}
    return {"jsonrpc": "2.0", "id": ident, "result": result}


def handler_for(token: str) -> type[BaseHTTPRequestHandler]:
    expected = f"Bearer {token}".encode()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive: codex reuses one connection

        def log_message(self, format: str, *args: Any) -> None:
            pass

        def _empty(self, status: int) -> None:
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def do_GET(self) -> None:
            self._empty(405)

        def do_DELETE(self) -> None:
            self._empty(200)

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            body = self.rfile.read(length)
            given = (self.headers.get("Authorization") or "").encode()
            if not hmac.compare_digest(given, expected):
                self._empty(401)
                return
            reply = answer(json.loads(body))
            if reply is None:
                self._empty(202)
                return
            data = json.dumps(reply).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Mcp-Session-Id", SESSION)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    return Handler


def main() -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler_for(sys.argv[1]))
    print(f"http://127.0.0.1:{server.server_address[1]}/mcp", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
