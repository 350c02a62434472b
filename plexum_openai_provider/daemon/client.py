"""The daemon's side of the protocol: a `serve` child, requests to it, its notifications, and
answers to its `tools/call` requests.

`PluginConnection.start(...)` spawns the plugin; `request()` returns a result or raises
`RemoteError`; `turn()` collects a turn's `turn/event` notifications until its response. Every
message crossing the pipe passes through `observe(direction, message, method)` first (the tests
validate them all there against docs/protocol.schema.json); `send_raw` writes bytes unobserved,
for deliberately malformed input.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import logging
import os
import sys
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from ..errors import NoReply, RemoteError, RpcError
from ..jsonrpc.framing import LineFramer, OversizedLine
from ..jsonrpc.messages import (
    INTERNAL_ERROR,
    METHOD_NOT_FOUND,
    error_message,
    notification,
    remote_error,
    request_message,
    result_message,
)

log = logging.getLogger(__name__)

Direction = Literal["to_plugin", "to_daemon"]
Observer = Callable[[Direction, Mapping[str, Any], "str | None"], None]
ToolsCallHandler = Callable[[Mapping[str, Any]], Awaitable[Mapping[str, Any]]]
MAX_LINE_BYTES = 256 * 1024 * 1024  # the plugin's lines carry whole tool outputs


def serve_argv(config_path: str | os.PathLike[str], *extra: str) -> list[str]:
    """How to start `serve` with this interpreter (what a daemon's plugin manifest holds)."""
    return [
        sys.executable,
        "-m",
        "plexum_openai_provider.cli",
        "serve",
        "--config",
        os.fspath(config_path),
        *extra,
    ]


@dataclass
class TurnOutcome:
    """A finished turn: every `turn/event` notification's event in order, and the response."""

    turn_id: str
    events: list[dict[str, Any]] = field(default_factory=list)
    seqs: list[int] = field(default_factory=list)
    terminal: dict[str, Any] = field(default_factory=dict)


class PluginConnection:
    """One running `serve` process, seen from the daemon."""

    def __init__(
        self,
        proc: asyncio.subprocess.Process,
        *,
        on_tools_call: ToolsCallHandler | None = None,
        observe: Observer | None = None,
    ) -> None:
        assert proc.stdin is not None and proc.stdout is not None
        self.proc = proc
        self._on_tools_call = on_tools_call
        # The answer to `approval/request` (set by a host that declared `capabilities.approvals`).
        self.on_approval: ToolsCallHandler | None = None
        self._observe = observe
        self._ids = itertools.count(1)
        self._pending: dict[int | str, tuple[str, asyncio.Future[Any]]] = {}
        self._turn_queues: dict[str, asyncio.Queue[dict[str, Any]]] = {}
        self._write_lock = asyncio.Lock()
        self._tasks: set[asyncio.Task[None]] = set()
        # Errors with id null (a line the plugin could not read), and responses nobody awaited.
        self.unsolicited: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.received: list[dict[str, Any]] = []
        self._reader = asyncio.ensure_future(self._read_loop())

    @classmethod
    async def start(
        cls,
        argv: Sequence[str],
        *,
        env: Mapping[str, str] | None = None,
        cwd: str | os.PathLike[str] | None = None,
        stderr: int | None = None,
        on_tools_call: ToolsCallHandler | None = None,
        observe: Observer | None = None,
    ) -> PluginConnection:
        proc = await asyncio.create_subprocess_exec(
            *argv,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=stderr,
            env=dict(env) if env is not None else None,
            cwd=cwd,
        )
        return cls(proc, on_tools_call=on_tools_call, observe=observe)

    # -- writing ---------------------------------------------------------------------------

    async def send(self, message: Mapping[str, Any], *, method: str | None = None) -> None:
        """Write one message (observed first)."""
        if self._observe is not None:
            self._observe("to_plugin", message, method)
        await self.send_raw(json.dumps(message, ensure_ascii=False).encode() + b"\n")

    async def send_raw(self, data: bytes) -> None:
        """Write bytes as they are: for malformed input on purpose (not observed)."""
        assert self.proc.stdin is not None
        async with self._write_lock:
            self.proc.stdin.write(data)
            await self.proc.stdin.drain()

    async def request(self, method: str, params: Mapping[str, Any] | None = None) -> Any:
        request_id = next(self._ids)
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._pending[request_id] = (method, future)
        await self.send(request_message(request_id, method, params))
        return await future

    async def notify(self, method: str, params: Mapping[str, Any]) -> None:
        await self.send(notification(method, params))

    # -- turns -----------------------------------------------------------------------------

    def subscribe(self, turn_id: str) -> asyncio.Queue[dict[str, Any]]:
        """The queue of a turn's notifications (params), created before the turn is sent."""
        return self._turn_queues.setdefault(turn_id, asyncio.Queue())

    async def turn(
        self,
        params: Mapping[str, Any],
        *,
        on_event: Callable[[dict[str, Any]], None] | None = None,
    ) -> TurnOutcome:
        """Send `turn` and collect its notifications until the response (raises RemoteError)."""
        turn_id = str(params["turn_id"])
        queue = self.subscribe(turn_id)
        outcome = TurnOutcome(turn_id)
        response = asyncio.ensure_future(self.request("turn", params))
        try:
            while True:
                getter = asyncio.ensure_future(queue.get())
                await asyncio.wait({getter, response}, return_when=asyncio.FIRST_COMPLETED)
                if not getter.done():
                    getter.cancel()
                    break
                note = getter.result()
                outcome.seqs.append(note["seq"])
                outcome.events.append(note["event"])
                if on_event is not None:
                    on_event(note["event"])
            # The response comes after the turn's last notification, and one reader keeps the
            # order: whatever is still queued arrived before it.
            while not queue.empty():
                note = queue.get_nowait()
                outcome.seqs.append(note["seq"])
                outcome.events.append(note["event"])
                if on_event is not None:
                    on_event(note["event"])
            result = response.result()
        finally:
            if not response.done():
                response.cancel()
            self._turn_queues.pop(turn_id, None)
        outcome.terminal = result["event"]
        return outcome

    # -- reading ---------------------------------------------------------------------------

    async def _read_loop(self) -> None:
        assert self.proc.stdout is not None
        framer = LineFramer(MAX_LINE_BYTES)
        try:
            while True:
                chunk = await self.proc.stdout.read(1 << 20)
                for line in framer.feed(chunk) if chunk else framer.finish():
                    if isinstance(line, OversizedLine):
                        log.error("the plugin wrote a line of %d bytes; skipped", line.size)
                        continue
                    try:
                        message = json.loads(line)
                    except ValueError:
                        # Not protocol: the observer sees it (and a schema check rejects it).
                        log.error("the plugin wrote a line that is not JSON: %r", line[:200])
                        if self._observe is not None:
                            self._observe("to_daemon", {"not_json": repr(line[:200])}, None)
                        continue
                    if not isinstance(message, dict):
                        if self._observe is not None:
                            self._observe("to_daemon", {"not_an_object": message}, None)
                        continue
                    self._dispatch(message)
                if not chunk:
                    break
        finally:
            closed = ConnectionError("the plugin closed its stdout")
            for _, future in self._pending.values():
                if not future.done():
                    future.set_exception(closed)

    def _dispatch(self, message: dict[str, Any]) -> None:
        self.received.append(message)
        method = message.get("method")
        if "id" in message and isinstance(method, str):
            if self._observe is not None:
                self._observe("to_daemon", message, method)
            task = asyncio.ensure_future(self._answer(message))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
            return
        if isinstance(method, str):
            if self._observe is not None:
                self._observe("to_daemon", message, method)
            params = message.get("params", {})
            if method == "turn/event":
                self.subscribe(str(params.get("turn_id"))).put_nowait(params)
            return
        pending = self._pending.pop(message.get("id"), None)  # type: ignore[arg-type]
        if self._observe is not None:
            self._observe("to_daemon", message, pending[0] if pending else None)
        if pending is None:
            self.unsolicited.put_nowait(message)
            return
        future = pending[1]
        if future.done():
            return
        if "error" in message:
            future.set_exception(remote_error(message["error"]))
        else:
            future.set_result(message.get("result"))

    async def _answer(self, message: dict[str, Any]) -> None:
        """Answer the plugin's request (`tools/call`, `approval/request`) through its handler."""
        method, request_id = message["method"], message["id"]
        handlers = {"tools/call": self._on_tools_call, "approval/request": self.on_approval}
        try:
            handler = handlers.get(method)
            if handler is None:
                raise RemoteError(METHOD_NOT_FOUND, f"this host does not serve {method!r}")
            result = await handler(message.get("params", {}))
            reply = result_message(request_id, result)
        except NoReply:
            return
        except RemoteError as exc:  # the handler's own error (its `data` is not passed on)
            reply = error_message(request_id, RpcError(exc.code, exc.message))
        except Exception as exc:
            log.exception("tools/call handler failed")
            error = RpcError(INTERNAL_ERROR, f"{type(exc).__name__}: {exc}")
            reply = error_message(request_id, error)
        with contextlib.suppress(ConnectionError):
            await self.send(reply, method=method)

    # -- ending ----------------------------------------------------------------------------

    async def close(self, *, timeout: float = 10.0) -> int:
        """Close stdin (EOF: the plugin cancels its turns and exits) and wait for the exit code."""
        assert self.proc.stdin is not None
        with contextlib.suppress(ConnectionError):
            self.proc.stdin.close()
        try:
            async with asyncio.timeout(timeout):
                code = await self.proc.wait()
        except TimeoutError:
            self.proc.kill()
            code = await self.proc.wait()
        with contextlib.suppress(BaseException):
            await self._reader
        for task in list(self._tasks):
            task.cancel()
        return code


@contextlib.asynccontextmanager
async def connected(argv: Sequence[str], **kwargs: Any) -> AsyncIterator[PluginConnection]:
    """A connection that is closed (EOF, then wait) when the block ends."""
    conn = await PluginConnection.start(argv, **kwargs)
    try:
        yield conn
    finally:
        await conn.close()
