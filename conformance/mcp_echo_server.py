"""A tiny stdlib MCP server (stdio, newline-delimited JSON-RPC) for the conformance scenarios.

Tools: `echo {text}` → text block `echo: <text>`; `fail {text}` → `isError: true` with the text
block `failed: <text>`; `slow {text, seconds}` → sleeps `seconds` (default 1.5), then
`slow: <text>`. Options: `--startup-delay S` sleeps before reading anything (a server slower than
codex's ~1 s startup grace); `--log FILE` appends every message received, one JSON line each,
so the harness can compare what the real codex and the fake codex sent (`views.mcp_view`).

Run as a script (`python -I conformance/mcp_echo_server.py ...`): codex starts MCP servers with a
filtered environment and the exec's cwd, so it must not need the project on `sys.path`.
"""

from __future__ import annotations

import argparse
import json
import sys
import threading
import time
from typing import Any

PROTOCOL_VERSION = "2025-06-18"
_TEXT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {"text": {"type": "string"}},
    "required": ["text"],
}
TOOLS: list[dict[str, Any]] = [
    {"name": "echo", "description": "Echo the text back.", "inputSchema": _TEXT_SCHEMA},
    {"name": "fail", "description": "Always fails (isError).", "inputSchema": _TEXT_SCHEMA},
    {
        "name": "slow",
        "description": "Echo the text after sleeping `seconds`.",
        "inputSchema": {
            "type": "object",
            "properties": {"text": {"type": "string"}, "seconds": {"type": "number"}},
            "required": ["text"],
        },
    },
]
_write_lock = threading.Lock()


def _send(message: dict[str, Any]) -> None:
    with _write_lock:
        sys.stdout.write(json.dumps(message) + "\n")
        sys.stdout.flush()


def _text(text: str, is_error: bool = False) -> dict[str, Any]:
    result: dict[str, Any] = {"content": [{"type": "text", "text": text}]}
    if is_error:
        result["isError"] = True
    return result


def call_tool(name: str, arguments: dict[str, Any]) -> dict[str, Any] | None:
    """The tools/call result, or None for an unknown tool (a JSON-RPC error)."""
    text = str(arguments.get("text", ""))
    if name == "echo":
        return _text(f"echo: {text}")
    if name == "fail":
        return _text(f"failed: {text}", is_error=True)
    if name == "slow":
        time.sleep(float(arguments.get("seconds", 1.5)))
        return _text(f"slow: {text}")
    return None


def _answer_call(msg_id: Any, params: dict[str, Any]) -> None:
    arguments = params.get("arguments") or {}
    result = call_tool(str(params.get("name")), arguments if isinstance(arguments, dict) else {})
    if result is None:
        error = {"code": -32602, "message": f"unknown tool {params.get('name')!r}"}
        _send({"jsonrpc": "2.0", "id": msg_id, "error": error})
    else:
        _send({"jsonrpc": "2.0", "id": msg_id, "result": result})


def handle(message: dict[str, Any]) -> None:
    method, msg_id = message.get("method"), message.get("id")
    params = message.get("params") or {}
    if msg_id is None:
        return  # a notification (notifications/initialized, cancelled, ...)
    if method == "initialize":
        version = params.get("protocolVersion", PROTOCOL_VERSION)
        result: dict[str, Any] = {
            "protocolVersion": version,
            "capabilities": {"tools": {"listChanged": False}},
            "serverInfo": {"name": "conformance-echo", "version": "1.0.0"},
        }
    elif method == "tools/list":
        result = {"tools": TOOLS}
    elif method == "tools/call":
        # On a thread: parallel calls (Promise.all, two function_calls) must not queue up.
        threading.Thread(target=_answer_call, args=(msg_id, params), daemon=True).start()
        return
    elif method == "ping":
        result = {}
    else:
        error = {"code": -32601, "message": f"method not found: {method}"}
        _send({"jsonrpc": "2.0", "id": msg_id, "error": error})
        return
    _send({"jsonrpc": "2.0", "id": msg_id, "result": result})


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="mcp_echo_server.py")
    parser.add_argument("--startup-delay", type=float, default=0.0)
    parser.add_argument("--log", default=None)
    args = parser.parse_args(argv)
    if args.startup_delay:
        time.sleep(args.startup_delay)
    log = open(args.log, "a", encoding="utf-8") if args.log else None  # noqa: SIM115
    for line in sys.stdin:
        if not line.strip():
            continue
        try:
            message = json.loads(line)
        except ValueError:
            continue
        if log is not None:
            log.write(json.dumps(message, sort_keys=True) + "\n")
            log.flush()
        if isinstance(message, dict):
            handle(message)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
