"""One attempt of a turn on the warm `codex app-server`: open the thread, run the turn, mirror it.

The same contract as the exec attempt (`attempt.py`): canonical events, then exactly one terminal
event, or `ThreadLost` when codex cannot resume the session's thread. The server outlives the
turn; a turn stopped early (cancel, timeouts, the caller leaving) is interrupted with
`turn/interrupt`, and a server that does not answer that is ended so the next turn starts afresh.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncGenerator, Awaitable, Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from ..appserver.notifications import NotificationMapper
from ..appserver.params import (
    thread_resume_params,
    thread_start_params,
    turn_interrupt_params,
    turn_start_params,
)
from ..appserver.rpc import CLOSED, Notification
from ..appserver.server import AppServer, AppServerStartError, acquire
from ..codex.thread_id import is_plain_id
from ..config import HostConfig
from ..errors import RpcError, ServerGone, SessionStoreError
from ..events import (
    CanonicalEvent,
    ErrorEvent,
    MessageEnd,
    Usage,
    WarningEvent,
)
from ..sessions import SessionStore, ThreadRecord
from .attempt import ThreadLost, prompt_for_log
from .clock import Stop, TurnClock
from .inputs import turn_end
from .mapper import classify_failure
from .messages import binary_help, stderr_tail_text, stop_event
from .mirror import RolloutPosition, mirror_turn, start_position
from .request import TurnLimits, TurnRequest

log = logging.getLogger(__name__)

T = TypeVar("T")


class _Gone(Exception):
    """The app-server exited while this turn needed it."""


@dataclass
class AppServerAttempt:
    """One attempt on app-server: what it was started with, then what codex has said so far."""

    config: HostConfig
    request: TurnRequest
    limits: TurnLimits
    clock: TurnClock
    store: SessionStore
    record: ThreadRecord | None  # the thread to resume; None starts a new one
    model_arg: str | None
    env: Mapping[str, str]
    mcp_servers: Mapping[str, object] = field(default_factory=dict)  # the turn's tools
    image_paths: tuple[Path, ...] = ()  # the turn's images, copied to its private folder
    on_spawn: Callable[[int], None] = lambda pid: None
    mapper: NotificationMapper = field(default_factory=NotificationMapper, init=False)
    thread_id: str | None = field(default=None, init=False)
    turn_id: str | None = field(default=None, init=False)
    start: RolloutPosition = field(default=RolloutPosition(None, 0), init=False)
    _interrupted: bool = field(default=False, init=False)

    async def run(self) -> AsyncGenerator[CanonicalEvent | ThreadLost, None]:
        """The attempt's events; the last is terminal, or a `ThreadLost`."""
        config = self.config
        try:
            server = await self._within_clock(acquire(config, self.env))
        except Stop as stop:
            yield stop_event(config, stop.code)
            return
        except (FileNotFoundError, PermissionError, NotADirectoryError) as exc:
            yield ErrorEvent("binary_not_found", binary_help(config, exc))
            return
        except AppServerStartError as exc:
            yield ErrorEvent("exit", f"{exc}.{stderr_tail_text(exc.stderr.strip())}")
            return
        except OSError as exc:
            yield ErrorEvent("spawn", f"could not start codex app-server ({config.binary}): {exc}")
            return
        self.on_spawn(server.pid)
        async with contextlib.aclosing(self._on(server)) as events:
            async for event in events:
                yield event

    async def _on(self, server: AppServer) -> AsyncGenerator[CanonicalEvent | ThreadLost, None]:
        try:
            opened = await self._open_thread(server)
        except Stop as stop:
            yield stop_event(self.config, stop.code)
            return
        except _Gone:
            yield await self._gone_event(server)
            return
        if isinstance(opened, ThreadLost | ErrorEvent):
            yield opened
            return
        thread_id, events = opened
        for event in events:
            yield event
        queue = server.rpc.subscribe(thread_id)
        try:
            try:
                async with contextlib.aclosing(self._stream(server, thread_id, queue)) as stream:
                    async for event in stream:
                        yield event
            except Stop as stop:
                await self._interrupt(server, queue)
                for event in self._mirror():
                    yield event
                yield stop_event(self.config, stop.code)
                return
            except _Gone:
                yield await self._gone_event(server)
                return
            for event in self._mirror():
                yield event
            final = self._finish()
            for event in turn_end(final, self.request.output_schema, self.mapper.last_text):
                yield event
        finally:
            if self.mapper.ended is None and not self._interrupted:
                # The caller left early: the turn must not run on in the warm process.
                await self._interrupt(server, queue)
            server.rpc.unsubscribe(thread_id, queue)
            if self.mcp_servers or self._options:
                server.reload_next.add(thread_id)

    async def _open_thread(
        self, server: AppServer
    ) -> tuple[str, list[CanonicalEvent]] | ThreadLost | ErrorEvent:
        """Resume the session's thread (unless it is loaded and fit) or start a new one."""
        request, record, rpc = self.request, self.record, server.rpc
        if record is not None:
            thread_id = record.thread_id
            fresh = bool(self.mcp_servers or self._options)
            if thread_id in server.loaded and (fresh or thread_id in server.reload_next):
                # A loaded thread ignores a new `config`, and what an earlier turn loaded it with
                # (its MCP relay, its options) is gone or not ours: reload it.
                try:
                    await self._call(server, server.unload(thread_id))
                except RpcError as exc:
                    return ErrorEvent(
                        "turn_failed",
                        f"codex app-server could not reload thread {thread_id} for this turn's "
                        f"tools or options ({exc.message}); try the turn again.",
                    )
            self.start = start_position(self.config, record)
            if thread_id not in server.loaded:
                params = thread_resume_params(
                    thread_id, request.workspace, self.model_arg, self.mcp_servers, self._options
                )
                try:
                    result = await self._call(server, rpc.request("thread/resume", params))
                except RpcError as exc:
                    log.warning("thread/resume %s failed: %s", thread_id, exc.message)
                    if "mcp" in exc.message.lower():
                        return self._mcp_error(exc)
                    return ThreadLost(thread_id)
                server.add_loaded(thread_id)
                self._adopt_path(result)
            self.thread_id = thread_id
            return thread_id, []
        params = thread_start_params(
            request.workspace, self.model_arg, self.mcp_servers, self._options
        )
        try:
            result = await self._call(server, rpc.request("thread/start", params))
        except RpcError as exc:
            if "mcp" in exc.message.lower():
                return self._mcp_error(exc)
            return ErrorEvent("turn_failed", f"codex app-server could not start a thread: {exc}")
        thread = result.get("thread")
        new_id = thread.get("id") if isinstance(thread, dict) else None
        if not isinstance(new_id, str) or not is_plain_id(new_id):
            return ErrorEvent(
                "protocol", f"codex app-server started a thread without a usable id: {new_id!r}"
            )
        thread_id = new_id
        server.add_loaded(thread_id)
        self.thread_id = thread_id
        self._adopt_path(result)
        return thread_id, list(self._save(ThreadRecord(thread_id, self.model_arg)))

    @property
    def _options(self) -> dict[str, str]:
        return dict(self.request.codex_options or {})

    def _adopt_path(self, result: dict[str, Any]) -> None:
        """`thread.path` is the rollout: mirror from it (from 0 for a new thread)."""
        thread = result.get("thread")
        path = thread.get("path") if isinstance(thread, dict) else None
        if not isinstance(path, str) or not path:
            return
        if self.record is None:
            self.start = RolloutPosition(Path(path), 0)
        elif self.start.path is None:
            rollout = Path(path)
            self.start = RolloutPosition(rollout, rollout.stat().st_size if rollout.exists() else 0)

    def _mcp_error(self, exc: RpcError) -> ErrorEvent:
        return ErrorEvent("mcp", f"the turn's tools could not be offered: {exc.message}")

    async def _stream(
        self, server: AppServer, thread_id: str, queue: asyncio.Queue[Notification]
    ) -> AsyncGenerator[CanonicalEvent, None]:
        request = self.request
        params = turn_start_params(
            thread_id,
            request.prompt,
            image_paths=self.image_paths,
            effort=request.reasoning_effort,
            output_schema=request.output_schema,
        )
        log.debug("prompt: %s", prompt_for_log(request.prompt, verbatim=self.config.log_prompts))
        try:
            result = await self._call(server, server.rpc.request("turn/start", params))
        except RpcError as exc:
            message = f"codex app-server refused the turn: {exc.message}"
            self.mapper.feed(
                "turn/completed", {"turn": {"status": "failed", "error": {"message": message}}}
            )
            return
        turn = result.get("turn")
        if isinstance(turn, dict) and isinstance(turn.get("id"), str):
            self.turn_id = turn["id"]
            self.mapper.turn_id = self.turn_id
        self.clock.progress()
        while self.mapper.ended is None:
            get = asyncio.create_task(queue.get())
            try:
                await self.clock.wait(get, idle=not self.mapper.busy)
            finally:
                if not get.done():
                    get.cancel()
            note = get.result()
            if note is CLOSED:
                raise _Gone
            method, note_params = note
            if not self._this_turn(method, note_params):
                continue
            if not (method == "error" and note_params.get("willRetry") is True):
                # As on exec, codex's retry notices are no progress (a dead network retries on).
                self.clock.progress()
            for event in self.mapper.feed(method, note_params):
                yield event
            if self.turn_id is None:
                self.turn_id = self.mapper.turn_id

    def _this_turn(self, method: str, params: dict[str, Any]) -> bool:
        if self.turn_id is None:
            return True
        turn_id = params.get("turnId")
        if method in ("turn/started", "turn/completed"):
            turn = params.get("turn")
            turn_id = turn.get("id") if isinstance(turn, dict) else None
        return turn_id is None or turn_id == self.turn_id

    async def _interrupt(self, server: AppServer, queue: asyncio.Queue[Notification]) -> None:
        """`turn/interrupt`, then wait (bounded) for the turn to end; else end the server.

        Waiting for `turn/completed` keeps the thread free for the next turn at once.
        """
        self._interrupted = True
        thread_id, turn_id = self.thread_id, self.turn_id
        if thread_id is None or turn_id is None or not server.alive:
            return
        try:
            async with asyncio.timeout(self.limits.kill_grace_s):
                await server.rpc.request(
                    "turn/interrupt", turn_interrupt_params(thread_id, turn_id)
                )
                while self.mapper.ended is None:
                    note = await queue.get()
                    if note is CLOSED:
                        return
                    if self._this_turn(*note):
                        self.mapper.feed(*note)
        except (RpcError, ServerGone, TimeoutError) as exc:
            log.warning("turn/interrupt failed (%s); ending codex app-server %d", exc, server.pid)
            await server.close(grace_s=self.limits.kill_grace_s)

    async def _gone_event(self, server: AppServer) -> ErrorEvent:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.shield(server.proc.wait()), 2.0)
        code = server.proc.returncode
        how = f"exited with code {code}" if code is not None and code >= 0 else "was killed"
        if code is None:
            how = "closed its output"
        tail = server.stderr.text().strip()
        await server.close(grace_s=0.5)
        return ErrorEvent(
            "exit",
            f"codex app-server {how} during the turn; the next turn starts a new one."
            f"{stderr_tail_text(tail)}",
        )

    async def _call(self, server: AppServer, awaitable: Awaitable[T]) -> T:
        """Await a request under the turn's clock; a dead server raises `_Gone`.

        A server that leaves a request unanswered for `idle_timeout_s` is ended (it would hang
        every later turn too); the next turn starts a new one.
        """
        try:
            return await self._within_clock(awaitable, idle=True)
        except ServerGone as exc:
            raise _Gone from exc
        except Stop as stop:
            if stop.code == "idle_timeout":
                log.warning("codex app-server %d did not answer; ending it", server.pid)
                await server.close(grace_s=self.limits.kill_grace_s)
            raise

    async def _within_clock(self, awaitable: Awaitable[T], *, idle: bool = False) -> T:
        task: asyncio.Future[T] = asyncio.ensure_future(awaitable)
        try:
            await self.clock.wait(task, idle=idle)
        finally:
            if not task.done():
                task.cancel()
                with contextlib.suppress(BaseException):
                    await task
        return task.result()

    def _mirror(self) -> Iterator[CanonicalEvent]:
        """This turn's tool calls from the rollout; then the thread's record is updated."""
        thread_id, record = self.thread_id, self.record
        if thread_id is None:
            return
        events, position = mirror_turn(self.config, thread_id, self.start)
        yield from events
        previous = record.usage_total if record is not None else Usage()
        total = self.mapper.thread_usage if self.mapper.ended is not None else None
        path = str(position.path) if position.path is not None else None
        yield from self._save(
            ThreadRecord(thread_id, self.model_arg, total or previous, path, position.offset)
        )

    def _save(self, record: ThreadRecord) -> Iterator[CanonicalEvent]:
        """Store the session's thread; a failure costs a warning, not the turn."""
        try:
            self.store.put(self.request.session_id, record)
        except (SessionStoreError, OSError) as exc:
            yield WarningEvent(
                f"could not store codex thread {record.thread_id} for session "
                f"{self.request.session_id!r} ({exc}); the next turn may start a new thread"
            )

    def _finish(self) -> CanonicalEvent:
        ended, thread_id = self.mapper.ended, self.thread_id
        assert ended is not None and thread_id is not None
        if ended.status == "completed":
            previous = self.record.usage_total if self.record is not None else Usage()
            total = self.mapper.thread_usage or previous
            usage = self.mapper.usage or total.minus(previous)
            return MessageEnd(thread_id=thread_id, usage=usage, thread_usage=total)
        if ended.status == "interrupted":
            return ErrorEvent("turn_failed", "codex interrupted the turn before it ended")
        code, message = classify_failure(ended.error or "codex reported that the turn failed")
        return ErrorEvent(code, message)
