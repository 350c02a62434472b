"""JSON-RPC over a child's stdio, newline-delimited, as `codex app-server` speaks it (stdlib only).

`RpcClient(proc)` frames stdout itself (`jsonrpc/framing.py`, bounded lines), resolves replies to
`request()`, routes notifications to the queue of the thread they name (`subscribe`), hands the
requests the server makes of us to `on_request` (approvals: `approvals.ApprovalRouter`) and
refuses the rest. When stdout closes, every waiter is woken: pending requests raise
`ServerGone`, queues get `CLOSED`.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import logging
import re
from collections.abc import Callable
from typing import Any

from ...errors import ReplyTooLong, RpcError, ServerGone
from ...jsonrpc.framing import LineFramer, OversizedLine
from ...jsonrpc.messages import (
    INTERNAL_ERROR,
    METHOD_NOT_FOUND,
    error_message,
    notification,
    remote_error,
    request_message,
    result_message,
)

log = logging.getLogger(__name__)

READ_CHUNK = 256 * 1024
MAX_LINE_BYTES = 64 * 1024 * 1024
Notification = tuple[str, dict[str, Any]]
# codex writes a reply as `{"id":N,"result":…`: the id of a reply too long to keep.
_REPLY_ID = re.compile(rb'^\s*\{\s*"id"\s*:\s*(\d+)\s*,')
# What a subscriber's queue receives when the server's stdout has closed (compare with `is`).
CLOSED: Notification = ("$closed", {})


class RpcClient:
    """One connection: the child's stdin for requests, its stdout for replies and notifications."""

    def __init__(self, proc: asyncio.subprocess.Process, *, max_line_bytes: int = MAX_LINE_BYTES):
        assert proc.stdin is not None and proc.stdout is not None
        self._stdin = proc.stdin
        self._stdout = proc.stdout
        self._framer = LineFramer(max_line_bytes)
        self._ids = itertools.count(1)
        self._pending: dict[int, tuple[str, asyncio.Future[Any]]] = {}
        self._queues: dict[str, asyncio.Queue[Notification]] = {}
        self.closed = asyncio.Event()
        self._reader: asyncio.Task[None] | None = None
        # Requests codex makes of us (approvals): True when the hook answered it (`reply`).
        self.on_request: Callable[[dict[str, Any]], bool] | None = None

    def start(self) -> None:
        self._reader = asyncio.create_task(self._read_loop())

    async def aclose(self) -> None:
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reader
        self._close()

    async def request(self, method: str, params: dict[str, Any]) -> dict[str, Any]:
        """Send a request and wait for its result; raises RemoteError or ServerGone."""
        if self.closed.is_set():
            raise ServerGone(f"{method}: codex app-server is gone")
        request_id = next(self._ids)
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._pending[request_id] = (method, future)
        try:
            self._write(request_message(request_id, method, params, tagged=False))
            await self._stdin.drain()
            result = await future
        except (BrokenPipeError, ConnectionResetError) as exc:
            raise ServerGone(f"{method}: codex app-server is gone ({exc})") from exc
        finally:
            self._pending.pop(request_id, None)
        return result if isinstance(result, dict) else {}

    def reply(self, request_id: Any, result: dict[str, Any]) -> None:
        """Answer a request codex made of us (a server gone meanwhile needs no answer)."""
        with contextlib.suppress(BrokenPipeError, ConnectionResetError, RuntimeError):
            self._write(result_message(request_id, result))  # codex accepts the "jsonrpc" tag

    def notify(self, method: str) -> None:
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            self._write(notification(method, tagged=False))

    def subscribe(self, thread_id: str) -> asyncio.Queue[Notification]:
        queue: asyncio.Queue[Notification] = asyncio.Queue()
        if self.closed.is_set():
            queue.put_nowait(CLOSED)
        self._queues[thread_id] = queue
        return queue

    def unsubscribe(self, thread_id: str, queue: asyncio.Queue[Notification]) -> None:
        if self._queues.get(thread_id) is queue:
            del self._queues[thread_id]

    def _write(self, message: dict[str, Any]) -> None:
        self._stdin.write(json.dumps(message, separators=(",", ":")).encode() + b"\n")

    async def _read_loop(self) -> None:
        try:
            while chunk := await self._stdout.read(READ_CHUNK):
                for line in self._framer.feed(chunk):
                    self._dispatch(line)
            for line in self._framer.finish():
                self._dispatch(line)
        finally:
            self._close()

    def _close(self) -> None:
        if self.closed.is_set():
            return
        self.closed.set()
        for method, future in self._pending.values():
            if not future.done():
                future.set_exception(ServerGone(f"{method}: codex app-server exited"))
        for queue in self._queues.values():
            queue.put_nowait(CLOSED)

    def _dispatch(self, line: bytes | OversizedLine) -> None:
        if isinstance(line, OversizedLine):
            log.warning("skipped a %d byte line from codex app-server", line.size)
            self._too_long(line)
            return
        try:
            message = json.loads(line)
        except (ValueError, UnicodeDecodeError):
            log.warning("skipped a line from codex app-server that is not JSON: %.200r", line)
            return
        if not isinstance(message, dict):
            return
        method = message.get("method")
        if "id" in message and isinstance(method, str):
            if self.on_request is not None and self.on_request(message):
                return
            # Another request of the server's: nothing we serve.
            log.warning("refusing codex app-server request %s", method)
            error = RpcError(METHOD_NOT_FOUND, "not supported by plexum-openai-provider")
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                self._write(error_message(message["id"], error, tagged=False))
            return
        if "id" in message:
            self._resolve(message)
            return
        if isinstance(method, str):
            params = message.get("params")
            params = params if isinstance(params, dict) else {}
            thread_id = params.get("threadId")
            queue = self._queues.get(thread_id) if isinstance(thread_id, str) else None
            if queue is not None:
                queue.put_nowait((method, params))
            else:
                log.debug("app-server notification %s for no waiting turn", method)

    def _too_long(self, line: OversizedLine) -> None:
        """A reply over the limit fails its request at once (it would wait for ever)."""
        match = _REPLY_ID.match(line.head)
        entry = self._pending.get(int(match.group(1))) if match else None
        if entry is None or entry[1].done():
            return
        method, future = entry
        future.set_exception(
            ReplyTooLong(
                INTERNAL_ERROR,
                f"{method}: codex app-server's reply of {line.size} bytes is over the line limit "
                f"({self._framer.max_line_bytes} bytes)",
            )
        )

    def _resolve(self, message: dict[str, Any]) -> None:
        entry = self._pending.get(message["id"]) if isinstance(message["id"], int) else None
        if entry is None:
            log.debug("reply to an unknown request id %r", message["id"])
            return
        method, future = entry
        if future.done():
            return
        error = message.get("error")
        if isinstance(error, dict):
            future.set_exception(remote_error(error, method=method))
        else:
            future.set_result(message.get("result"))
