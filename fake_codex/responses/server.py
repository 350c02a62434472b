"""A scripted fake of the OpenAI Responses endpoint, for driving the REAL codex offline.

`ResponsesServer(replies)` listens on 127.0.0.1 (ephemeral port) and answers each
`POST /v1/responses` with the next scenario `Reply` (docs/scenarios.md) as SSE or as an HTTP error.
Every request is recorded in order; a request past the end of the script gets HTTP 500 and is
recorded in `.unserved`; one whose input breaks the API's tool-call pairing gets the API's 400
(`core/pairing.py`) and is recorded in `.violations`. `SyncResponsesServer` runs it on a thread;
`python -m fake_codex.responses.server --scenario FILE` serves a scenario by hand until killed.
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
from pathlib import Path
from types import TracebackType
from typing import Any, Self, TypeVar

from fake_codex.core import pairing
from fake_codex.core.gates import Gate
from fake_codex.responses import script
from fake_codex.responses.requests import (
    HistoryMismatch,
    PromptMismatch,
    RecordedRequest,
    RequestViolation,
    Unserved,
    history_text,
    last_user_text,
)
from fake_codex.responses.script import (
    Scripted,
    load_scenario,
    replies_from_scenario,
    sse_events,
    validate_reply,
)

T = TypeVar("T")

_MAX_HEADER_BYTES = 1 << 20
_REASONS = {200: "OK", 400: "Bad Request", 404: "Not Found", 500: "Internal Server Error"}


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
            else [Scripted(r) for r in replies]
        )
        for scripted in queue:
            validate_reply(scripted.reply)
        self._queue = queue
        self._served = 0
        self.requests: list[RecordedRequest] = []
        self.unserved: list[Unserved] = []
        self.prompt_mismatches: list[PromptMismatch] = []
        self.history_mismatches: list[HistoryMismatch] = []
        self.violations: list[RequestViolation] = []
        self.gates: dict[str, Gate] = {}
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
        body = request.body
        items = body.get("input") if isinstance(body, dict) else None
        problems = pairing.violations(items) if isinstance(items, list) else []
        if problems:
            # Like the API: a 400 before any model work, the script's next reply kept.
            self.violations.append(RequestViolation(request.index, number, tuple(problems)))
            pairing.report("fake Responses server", problems)
            await self._send(writer, 400, pairing.api_error(problems))
            return
        if self._served >= len(self._queue):
            message = f"fake Responses server: no reply scripted for request {number}"
            self.unserved.append(Unserved(request.index, number, message))
            await self._send(writer, 500, {"error": {"message": message, "type": "server_error"}})
            return
        scripted = self._queue[self._served]
        self._served += 1
        self._check_prompt(scripted, request)
        reply = scripted.reply
        gate = self.gate(reply["gate"]) if reply.get("gate") else None
        if "http_status" in reply:
            if gate is not None:
                await gate.hold()
            await self._send(writer, reply["http_status"], reply.get("body", ""))
            return
        writer.write(_http_head(200, "text/event-stream", None))
        await writer.drain()
        delay = reply.get("delay_ms", 0) / 1000
        for n, event in enumerate(sse_events(reply, f"resp_{number}")):
            if delay:
                await asyncio.sleep(delay)
            writer.write(script.encode_sse(event))
            await writer.drain()
            if n == 0 and gate is not None:
                await gate.hold()  # after `response.created`: the model is "thinking"

    def gate(self, name: str) -> Gate:
        """The gate `name` of the script (docs/scenarios.md "gate"): await `reached()`, then
        `release()`. Usable before the request arrives and from any thread."""
        return self.gates.setdefault(name, Gate(name))

    def _check_prompt(self, scripted: Scripted, request: RecordedRequest) -> None:
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
