"""A scripted fake of the OpenAI Responses endpoint, for driving the REAL codex offline.

`ResponsesServer(replies)` listens on 127.0.0.1 (ephemeral port) and answers each
`POST /v1/responses` with the next scenario `Reply` (docs/scenarios.md) as SSE or as an HTTP error.
Every request is recorded in order; a request past the end of the script gets HTTP 500 and is
recorded in `.unserved`. `SyncResponsesServer` runs it on a thread; `python -m
fake_codex.responses.server --scenario FILE` serves a scenario by hand until killed.
"""

from __future__ import annotations

import argparse
import asyncio
import concurrent.futures
import contextlib
import json
import sys
import threading
from collections.abc import Coroutine, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any, Self, TypeVar

JsonObject = dict[str, Any]
T = TypeVar("T")

_REPLY_KEYS = frozenset(
    {"output", "usage", "delay_ms", "http_status", "body", "end", "error", "reason"}
)
_ENDS = frozenset({"cut", "failed", "incomplete"})
_MAX_HEADER_BYTES = 1 << 20
_REASONS = {200: "OK", 400: "Bad Request", 404: "Not Found", 500: "Internal Server Error"}


@dataclass(frozen=True)
class RecordedRequest:
    """One HTTP request as codex sent it (authorization values redacted)."""

    index: int
    method: str
    path: str
    headers: Mapping[str, str]
    body: Any  # the parsed JSON body, or None when absent or not JSON
    raw_size: int

    @property
    def is_model_request(self) -> bool:
        return self.method == "POST" and self.path.split("?")[0] == "/v1/responses"


@dataclass(frozen=True)
class Unserved:
    """A model request that arrived after the script ran out (a test failure)."""

    request_index: int
    model_request_number: int  # 1-based count among POST /v1/responses
    message: str


@dataclass(frozen=True)
class PromptMismatch:
    """The user prompt of a turn's first request differs from the scenario's expectation."""

    request_index: int
    expected: str
    actual: str | None


@dataclass(frozen=True)
class HistoryMismatch:
    """A turn's first request lacks an `expect_history_contains` string or holds an excluded one."""

    request_index: int
    key: str  # expect_history_contains | expect_history_excludes
    text: str


@dataclass(frozen=True)
class _Scripted:
    reply: Mapping[str, Any]
    expect_prompt: str | None = None
    expect_prompt_contains: str | None = None
    history_contains: tuple[str, ...] = ()
    history_excludes: tuple[str, ...] = ()


def validate_reply(reply: Mapping[str, Any]) -> None:
    """Raise ValueError for a Reply the server could not serve faithfully."""
    unknown = set(reply) - _REPLY_KEYS
    if unknown:
        raise ValueError(f"unknown Reply keys {sorted(unknown)} in {reply!r}")
    if "http_status" in reply:
        if "output" in reply or "end" in reply:
            raise ValueError(f"http_status excludes output/end: {reply!r}")
        if not isinstance(reply["http_status"], int):
            raise ValueError(f"http_status must be an int: {reply!r}")
    end = reply.get("end")
    if end is not None and end not in _ENDS:
        raise ValueError(f"end must be one of {sorted(_ENDS)}: {reply!r}")
    for item in reply.get("output", []):
        if item.get("type") not in _ITEM_BUILDERS:
            raise ValueError(f"unknown OutputItem type in {item!r}")
        deltas = item.get("deltas")
        if deltas is not None and (
            item.get("type") != "message"
            or not isinstance(deltas, list)
            or "".join(deltas) != item.get("text")
        ):
            raise ValueError(f"message deltas must be strings that join to its text: {item!r}")


def replies_from_scenario(scenario: Mapping[str, Any]) -> list[_Scripted]:
    """The flat reply queue of a scenario: turn 0's requests, then turn 1's, ..."""
    if scenario.get("schema_version") != 1:
        raise ValueError(f"unsupported scenario schema_version {scenario.get('schema_version')!r}")
    queue: list[_Scripted] = []
    for turn in scenario["turns"]:
        for j, reply in enumerate(turn.get("requests", [])):
            first = j == 0
            queue.append(
                _Scripted(
                    reply,
                    turn.get("expect_prompt") if first else None,
                    turn.get("expect_prompt_contains") if first else None,
                    tuple(turn.get("expect_history_contains", ())) if first else (),
                    tuple(turn.get("expect_history_excludes", ())) if first else (),
                )
            )
    return queue


def load_scenario(path: Path) -> JsonObject:
    data = json.loads(path.read_text())
    if not isinstance(data, dict):
        raise ValueError(f"{path}: a scenario is a JSON object")
    return data


# --- Responses wire format -------------------------------------------------------------------


def _message(item: Mapping[str, Any], n: int) -> JsonObject:
    return {
        "type": "message",
        "id": f"msg_{n}",
        "role": "assistant",
        "status": "completed",
        "content": [{"type": "output_text", "text": item["text"], "annotations": []}],
    }


def _reasoning(item: Mapping[str, Any], n: int) -> JsonObject:
    summary = [{"type": "summary_text", "text": s} for s in item.get("summary", [])]
    return {"type": "reasoning", "id": f"rs_{n}", "summary": summary}


def _function_call(item: Mapping[str, Any], n: int) -> JsonObject:
    args = item.get("arguments", {})
    out: JsonObject = {
        "type": "function_call",
        "id": f"fc_{n}",
        "status": "completed",
        "call_id": item["call_id"],
        "name": item["name"],
        "arguments": args if isinstance(args, str) else json.dumps(args),
    }
    if "namespace" in item:
        out["namespace"] = item["namespace"]
    return out


def _custom_tool_call(item: Mapping[str, Any], n: int) -> JsonObject:
    out: JsonObject = {
        "type": "custom_tool_call",
        "id": f"ctc_{n}",
        "status": "completed",
        "call_id": item["call_id"],
        "name": item["name"],
        "input": item["input"],
    }
    if "namespace" in item:
        out["namespace"] = item["namespace"]
    return out


def _web_search_call(item: Mapping[str, Any], n: int) -> JsonObject:
    return {
        "type": "web_search_call",
        "id": item.get("id", f"ws_{n}"),
        "status": "completed",
        "action": {"type": "search", "query": item.get("query", "")},
    }


_ITEM_BUILDERS = {
    "message": _message,
    "reasoning": _reasoning,
    "function_call": _function_call,
    "custom_tool_call": _custom_tool_call,
    "web_search_call": _web_search_call,
}


def wire_usage(usage: Mapping[str, int] | None) -> JsonObject:
    """Scenario Usage (flattened) -> Responses `usage` object."""
    u = usage or {}
    inp, out = u.get("input_tokens", 0), u.get("output_tokens", 0)
    return {
        "input_tokens": inp,
        "input_tokens_details": {
            "cached_tokens": u.get("cached_tokens", 0),
            "cache_write_tokens": u.get("cache_write_tokens", 0),
        },
        "output_tokens": out,
        "output_tokens_details": {"reasoning_tokens": u.get("reasoning_tokens", 0)},
        "total_tokens": inp + out,
    }


def sse_events(reply: Mapping[str, Any], response_id: str) -> list[JsonObject]:
    """The SSE event objects for a streamed Reply (not for http_status replies)."""
    events: list[JsonObject] = [
        {
            "type": "response.created",
            "response": {"id": response_id, "object": "response", "status": "in_progress"},
        }
    ]
    for i, spec in enumerate(reply.get("output", [])):
        item = _ITEM_BUILDERS[spec["type"]](spec, i)
        events.append({"type": "response.output_item.added", "output_index": i, "item": item})
        for delta in spec.get("deltas", []) if spec["type"] == "message" else []:
            # A model that streams its text: codex app-server relays each as a delta.
            events.append(
                {
                    "type": "response.output_text.delta",
                    "item_id": item["id"],
                    "output_index": i,
                    "content_index": 0,
                    "delta": delta,
                }
            )
        events.append({"type": "response.output_item.done", "output_index": i, "item": item})
    end = reply.get("end")
    if end == "failed":
        error = dict(reply.get("error") or {"code": "server_error", "message": "failed"})
        events.append(
            {
                "type": "response.failed",
                "response": {"id": response_id, "status": "failed", "error": error},
            }
        )
    elif end == "incomplete":
        details = {"reason": reply.get("reason", "max_output_tokens")}
        events.append(
            {
                "type": "response.incomplete",
                "response": {
                    "id": response_id,
                    "status": "incomplete",
                    "incomplete_details": details,
                },
            }
        )
    elif end is None:
        events.append(
            {
                "type": "response.completed",
                "response": {
                    "id": response_id,
                    "status": "completed",
                    "usage": wire_usage(reply.get("usage")),
                },
            }
        )
    return events  # end == "cut": no terminal event, the connection just closes


def encode_sse(event: Mapping[str, Any]) -> bytes:
    return f"event: {event['type']}\ndata: {json.dumps(event)}\n\n".encode()


def last_user_text(body: Any) -> str | None:
    """The text of the last user message in a Responses request body (the prompt)."""
    if not isinstance(body, dict) or not isinstance(body.get("input"), list):
        return None
    for item in reversed(body["input"]):
        if isinstance(item, dict) and item.get("type") == "message" and item.get("role") == "user":
            parts = item.get("content")
            if isinstance(parts, str):
                return parts
            if isinstance(parts, list):
                return "".join(
                    p.get("text", "")
                    for p in parts
                    if isinstance(p, dict) and p.get("type") == "input_text"
                )
    return None


def history_text(body: Any) -> str:
    """Every string of the request's `input` (messages, call arguments, tool outputs), one per
    line: what `expect_history_contains` / `_excludes` are checked against (the fake codex checks
    the same keys against the history it rebuilds from the rollout)."""
    parts: list[str] = []

    def walk(value: Any) -> None:
        if isinstance(value, str):
            parts.append(value)
        elif isinstance(value, list):
            for v in value:
                walk(v)
        elif isinstance(value, dict):
            for v in value.values():
                walk(v)

    walk(body.get("input") if isinstance(body, dict) else None)
    return "\n".join(parts)


# --- HTTP --------------------------------------------------------------------------------------


def _redact(headers: Mapping[str, str]) -> dict[str, str]:
    return {k: ("<redacted>" if k == "authorization" else v) for k, v in headers.items()}


async def _read_body(reader: asyncio.StreamReader, headers: Mapping[str, str]) -> bytes:
    if "chunked" in headers.get("transfer-encoding", "").lower():
        chunks: list[bytes] = []
        while True:
            size_line = await reader.readuntil(b"\r\n")
            size = int(size_line.split(b";")[0].strip(), 16)
            if size == 0:
                await reader.readuntil(b"\r\n")  # trailer end (we accept no trailers)
                return b"".join(chunks)
            chunks.append(await reader.readexactly(size))
            await reader.readexactly(2)
    length = int(headers.get("content-length", "0") or 0)
    return await reader.readexactly(length) if length else b""


def _http_head(status: int, content_type: str, length: int | None) -> bytes:
    lines = [f"HTTP/1.1 {status} {_REASONS.get(status, 'Status')}", f"content-type: {content_type}"]
    if length is not None:
        lines.append(f"content-length: {length}")
    # One request per connection: codex's client then never reuses a socket we are closing.
    lines.append("connection: close")
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


class ResponsesServer:
    """Async context manager: `async with ResponsesServer(replies) as srv: srv.base_url`.

    `replies` is a flat list of Reply objects; `scenario=` takes a whole scenario instead and
    flattens its turns (checking each turn's `expect_prompt` into `.prompt_mismatches`).
    """

    def __init__(
        self,
        replies: Sequence[Mapping[str, Any]] = (),
        *,
        scenario: Mapping[str, Any] | None = None,
    ) -> None:
        if scenario is not None and replies:
            raise ValueError("give replies or a scenario, not both")
        queue = (
            replies_from_scenario(scenario)
            if scenario is not None
            else [_Scripted(r) for r in replies]
        )
        for scripted in queue:
            validate_reply(scripted.reply)
        self._queue = queue
        self._served = 0
        self.requests: list[RecordedRequest] = []
        self.unserved: list[Unserved] = []
        self.prompt_mismatches: list[PromptMismatch] = []
        self.history_mismatches: list[HistoryMismatch] = []
        self._server: asyncio.Server | None = None
        self._port = 0
        self._changed: asyncio.Condition | None = None

    def set_scenario(self, scenario: Mapping[str, Any]) -> None:
        """Serve `scenario` from now on, from its first reply (call it on the server's loop, or
        before start; `SyncResponsesServer.set_scenario` does that from another thread)."""
        queue = replies_from_scenario(scenario)
        for scripted in queue:
            validate_reply(scripted.reply)
        self._queue, self._served = queue, 0

    @classmethod
    def from_scenario_file(cls, path: Path) -> ResponsesServer:
        return cls(scenario=load_scenario(path))

    @property
    def base_url(self) -> str:
        if self._server is None:
            raise RuntimeError("ResponsesServer is not started")
        return f"http://127.0.0.1:{self._port}/v1"

    @property
    def model_requests(self) -> list[RecordedRequest]:
        return [r for r in self.requests if r.is_model_request]

    @property
    def remaining(self) -> int:
        return len(self._queue) - self._served

    async def start(self) -> None:
        self._changed = asyncio.Condition()
        self._server = await asyncio.start_server(
            self._handle, "127.0.0.1", 0, limit=_MAX_HEADER_BYTES
        )
        self._port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            # Python 3.12+ wait_closed waits for open handlers; codex may hold a stalled stream.
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(2):
                    await self._server.wait_closed()

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    async def wait_for_requests(self, count: int, timeout: float = 10.0) -> None:
        """Wait (bounded) until at least `count` requests have been recorded."""
        assert self._changed is not None
        async with asyncio.timeout(timeout), self._changed:
            await self._changed.wait_for(lambda: len(self.requests) >= count)

    async def _record(self, request: RecordedRequest) -> None:
        self.requests.append(request)
        assert self._changed is not None
        async with self._changed:
            self._changed.notify_all()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            await self._handle_one(reader, writer)
        except (
            asyncio.IncompleteReadError,
            ConnectionError,
            asyncio.LimitOverrunError,
            ValueError,
        ):
            pass  # the client went away or sent garbage; nothing to answer
        except asyncio.CancelledError:
            # Shutdown ends a reply still held by `delay_ms`; asyncio's stream callback would
            # log a cancelled connection task as an error, so this one ends normally.
            pass
        finally:
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()

    async def _handle_one(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        request_line, *header_lines = head.decode("latin-1").split("\r\n")
        method, target, _version = request_line.split(" ", 2)
        headers: dict[str, str] = {}
        for line in header_lines:
            if line:
                name, _, value = line.partition(":")
                headers[name.strip().lower()] = value.strip()
        raw = await _read_body(reader, headers)
        body: Any = None
        if raw:
            try:
                body = json.loads(raw)
            except (ValueError, UnicodeDecodeError):
                body = None
        request = RecordedRequest(
            len(self.requests), method, target, _redact(headers), body, len(raw)
        )
        await self._record(request)
        if request.is_model_request:
            await self._serve_model(request, writer)
        elif method == "GET" and target.split("?")[0] == "/v1/models":
            await self._send(writer, 200, {"object": "list", "data": [], "models": []})
        else:
            await self._send(writer, 404, {"error": {"message": f"no route {method} {target}"}})

    async def _send(self, writer: asyncio.StreamWriter, status: int, body: object) -> None:
        if isinstance(body, str):
            data, ctype = body.encode(), "text/plain; charset=utf-8"
        else:
            data, ctype = json.dumps(body).encode(), "application/json"
        writer.write(_http_head(status, ctype, len(data)) + data)
        await writer.drain()

    async def _serve_model(self, request: RecordedRequest, writer: asyncio.StreamWriter) -> None:
        number = len(self.model_requests)
        if self._served >= len(self._queue):
            message = f"fake Responses server: no reply scripted for request {number}"
            self.unserved.append(Unserved(request.index, number, message))
            await self._send(writer, 500, {"error": {"message": message, "type": "server_error"}})
            return
        scripted = self._queue[self._served]
        self._served += 1
        self._check_prompt(scripted, request)
        reply = scripted.reply
        if "http_status" in reply:
            await self._send(writer, reply["http_status"], reply.get("body", ""))
            return
        writer.write(_http_head(200, "text/event-stream", None))
        await writer.drain()
        delay = reply.get("delay_ms", 0) / 1000
        for event in sse_events(reply, f"resp_{number}"):
            if delay:
                await asyncio.sleep(delay)
            writer.write(encode_sse(event))
            await writer.drain()

    def _check_prompt(self, scripted: _Scripted, request: RecordedRequest) -> None:
        actual = last_user_text(request.body)
        if scripted.expect_prompt is not None and actual != scripted.expect_prompt:
            self.prompt_mismatches.append(
                PromptMismatch(request.index, scripted.expect_prompt, actual)
            )
        contains = scripted.expect_prompt_contains
        if contains is not None and (actual is None or contains not in actual):
            self.prompt_mismatches.append(PromptMismatch(request.index, contains, actual))
        if scripted.history_contains or scripted.history_excludes:
            history = history_text(request.body)
            for text in scripted.history_contains:
                if text not in history:
                    mismatch = HistoryMismatch(request.index, "expect_history_contains", text)
                    self.history_mismatches.append(mismatch)
            for text in scripted.history_excludes:
                if text in history:
                    mismatch = HistoryMismatch(request.index, "expect_history_excludes", text)
                    self.history_mismatches.append(mismatch)


class SyncResponsesServer:
    """`ResponsesServer` on its own event-loop thread, for scripts and sync tests."""

    def __init__(self, server: ResponsesServer) -> None:
        self.server = server
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)

    def __enter__(self) -> ResponsesServer:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self.server.start(), self._loop).result(timeout=10)
        return self.server

    async def _shutdown(self) -> None:
        """Stop listening, then end the handlers still running (a reply held by `delay_ms`
        while the test is over): each closes its connection on the way out."""
        await self.server.stop()
        handlers = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
        for task in handlers:
            task.cancel()
        await asyncio.gather(*handlers, return_exceptions=True)

    def submit(self, coro: Coroutine[Any, Any, T]) -> concurrent.futures.Future[T]:
        """Run `coro` on the server's thread (e.g. `server.wait_for_requests(n)`)."""
        return asyncio.run_coroutine_threadsafe(coro, self._loop)

    def set_scenario(self, scenario: Mapping[str, Any]) -> None:
        """`ResponsesServer.set_scenario` on the server's own thread (ValueError comes back)."""

        async def apply() -> None:
            self.server.set_scenario(scenario)

        asyncio.run_coroutine_threadsafe(apply(), self._loop).result(timeout=10)

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        asyncio.run_coroutine_threadsafe(self._shutdown(), self._loop).result(timeout=10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)
        self._loop.close()


async def _serve_forever(server: ResponsesServer) -> None:
    async with server:
        print(server.base_url, flush=True)
        await asyncio.Event().wait()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m fake_codex.responses.server")
    parser.add_argument("--scenario", type=Path, required=True, help="scenario JSON file")
    args = parser.parse_args(argv)
    server = ResponsesServer.from_scenario_file(args.scenario)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_serve_forever(server))
    for u in server.unserved:
        print(u.message, file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
