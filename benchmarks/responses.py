"""A stateless fake Responses server for benchmarks: the reply depends on the request alone.

The project's fake server (fake_codex/responses/server.py) plays a scripted queue; benchmarks run
many turns, interleaved and concurrent, so here each request is answered from what it holds: with
`--tool NAMESPACE`, a request without a tool output gets a `function_call` of NAMESPACE's `echo`,
and one with an output gets the final message; otherwise every request gets the message. Run as
`python -m benchmarks.responses [--tool NS]`; it prints its base URL, then serves until killed.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
from typing import Any

from fake_codex.responses.requests import RecordedRequest
from fake_codex.responses.script import encode_sse, sse_events
from fake_codex.responses.server import ResponsesServer, _http_head

ANSWER = "benchmark answer"
ECHO_TEXT = "benchmark echo"


def reply_for(body: Any, tool_namespace: str | None) -> dict[str, Any]:
    message = {"output": [{"type": "message", "text": ANSWER}], "usage": {"input_tokens": 10}}
    if tool_namespace is None:
        return message
    items = body.get("input", []) if isinstance(body, dict) else []
    answered = any(isinstance(i, dict) and i.get("type") == "function_call_output" for i in items)
    if answered:
        return message
    call = {
        "type": "function_call",
        "namespace": tool_namespace,
        "name": "echo",
        "call_id": "call_bench",
        "arguments": {"text": ECHO_TEXT},
    }
    return {"output": [call], "usage": {"input_tokens": 10}}


class StatelessResponses(ResponsesServer):
    def __init__(self, tool_namespace: str | None) -> None:
        super().__init__()
        self.tool_namespace = tool_namespace
        self.count = 0

    async def _record(self, request: RecordedRequest) -> None:
        pass  # thousands of requests: keep nothing

    async def _serve_model(self, request: RecordedRequest, writer: asyncio.StreamWriter) -> None:
        self.count += 1
        reply = reply_for(request.body, self.tool_namespace)
        writer.write(_http_head(200, "text/event-stream", None))
        for event in sse_events(reply, f"resp_{self.count}"):
            writer.write(encode_sse(event))
        await writer.drain()


async def _serve(tool_namespace: str | None) -> None:
    async with StatelessResponses(tool_namespace) as server:
        print(server.base_url, flush=True)
        await asyncio.Event().wait()


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.responses")
    parser.add_argument("--tool", metavar="NAMESPACE", help="call NAMESPACE's echo first")
    args = parser.parse_args()
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_serve(args.tool))


if __name__ == "__main__":
    main()
