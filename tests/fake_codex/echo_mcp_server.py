"""A stdlib-only MCP stdio server for the fake codex tests (starts in ~30 ms).

Tool `echo {text}` answers `echo: <text>` as a text block plus structuredContent
`{"result": ...}`; without `text` it answers `isError: true` with `missing text`.
Env knobs: STARTUP_DELAY (seconds before answering `initialize`), CRASH_ON_CALL=1 (exit on
tools/call), SLEEP_ON_CALL (seconds), NO_STRUCTURED=1 (no structuredContent), MCP_LOG (file:
first line `{"env": ..., "cwd": ...}`, then every received message).
"""

from __future__ import annotations

import json
import os
import sys
import time

LOG = os.environ.get("MCP_LOG")


def log(entry: object) -> None:
    if LOG:
        with open(LOG, "a", encoding="utf-8") as fh:
            fh.write(json.dumps(entry) + "\n")


def send(message: object) -> None:
    sys.stdout.write(json.dumps(message, separators=(",", ":")) + "\n")
    sys.stdout.flush()


ECHO = {
    "name": "echo",
    "description": "Echo the given text back, prefixed with 'echo: '.",
    "inputSchema": {
        "type": "object",
        "properties": {"text": {"type": "string"}},
        "required": ["text"],
    },
}


def call(params: dict[str, object]) -> dict[str, object]:
    if os.environ.get("CRASH_ON_CALL") == "1":
        sys.exit(3)
    time.sleep(float(os.environ.get("SLEEP_ON_CALL", "0")))
    args = params.get("arguments")
    text = args.get("text") if isinstance(args, dict) else None
    if not isinstance(text, str):
        return {"content": [{"text": "missing text", "type": "text"}], "isError": True}
    result: dict[str, object] = {"content": [{"text": f"echo: {text}", "type": "text"}]}
    if os.environ.get("NO_STRUCTURED") != "1":
        result["structuredContent"] = {"result": f"echo: {text}"}
    result["isError"] = False
    return result


def main() -> None:
    log({"env": dict(os.environ), "cwd": os.getcwd()})
    for line in sys.stdin:
        msg = json.loads(line)
        log(msg)
        method, rid = msg.get("method"), msg.get("id")
        if method == "initialize":
            time.sleep(float(os.environ.get("STARTUP_DELAY", "0")))
            send(
                {
                    "jsonrpc": "2.0",
                    "id": rid,
                    "result": {
                        "protocolVersion": msg["params"]["protocolVersion"],
                        "capabilities": {"tools": {"listChanged": False}},
                        "serverInfo": {"name": "echo-server", "version": ""},
                    },
                }
            )
        elif method == "tools/list":
            send({"jsonrpc": "2.0", "id": rid, "result": {"tools": [ECHO]}})
        elif method == "tools/call":
            send({"jsonrpc": "2.0", "id": rid, "result": call(msg["params"])})
        elif rid is not None:
            send({"jsonrpc": "2.0", "id": rid, "error": {"code": -32601, "message": "nope"}})


if __name__ == "__main__":
    main()
