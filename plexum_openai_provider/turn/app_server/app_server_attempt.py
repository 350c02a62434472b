"""The app-server backend's attempt: open the thread on the warm server, run the turn, mirror it.

The contract is the seam's (`turn/backend.py`): canonical events, then exactly one terminal event,
or `ThreadLost` when codex cannot resume the session's thread. The server outlives the turn; a
turn stopped early (cancel, timeouts, the caller leaving) is interrupted with `turn/interrupt`,
and a server that does not answer that is ended so the next turn starts afresh. Every thread
operation is the pool's (`pool.AppServer`); this module decides which to ask for, and when.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from ...codex.thread_id import is_plain_id
from ...errors import AppServerStartError, RpcError, ServerGone
from ...events import CanonicalEvent, ErrorEvent
from ..backend import Attempt, AttemptEvents, ThreadLost, message_end, off_loop, prompt_for_log
from ..clock import Stop
from ..failures import classify_failure
from ..inputs import turn_end
from ..messages import spawn_failed, stderr_tail_text, stop_event
from ..mirror import RolloutPosition
from .notifications import NotificationMapper
from .params import thread_resume_params, thread_start_params, turn_start_params
from .pool import AppServer, acquire
from .rpc_client import CLOSED, Notification

log = logging.getLogger(__name__)

T = TypeVar("T")


class _Gone(Exception):
    """The app-server exited while this turn needed it."""


@dataclass
class AppServerAttempt(Attempt):
    """One attempt on app-server: what codex has said so far."""

    env: Mapping[str, str]
    mcp_servers: Mapping[str, object] = field(default_factory=dict)  # the turn's tools
    image_paths: tuple[Path, ...] = ()  # the turn's images, copied to its private folder
    mapper: NotificationMapper = field(default_factory=NotificationMapper, init=False)
    turn_id: str | None = field(default=None, init=False)
    _interrupted: bool = field(default=False, init=False)

    async def run(self) -> AttemptEvents:
        config = self.config
        try:
            server = await self._within_clock(acquire(config, self.env))
        except Stop as stop:
            yield stop_event(config, stop.code)
            return
        except AppServerStartError as exc:
            yield ErrorEvent("exit", f"{exc}.{stderr_tail_text(exc.stderr.strip())}")
            return
        except OSError as exc:
            yield spawn_failed(config, exc, "codex app-server")
            return
        self.setup.on_spawn(server.pid)
        try:
            async with contextlib.aclosing(self._on(server)) as events:
                async for event in events:
                    yield event
        finally:
            await self.settle_save()

    async def _on(self, server: AppServer) -> AttemptEvents:
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
        thread_id = opened
        queue = server.subscribe(thread_id)
        try:
            try:
                async with contextlib.aclosing(self._stream(server, thread_id, queue)) as stream:
                    async for event in stream:
                        yield event
            except Stop as stop:
                await self._interrupt(server, queue)
                async for event in self._mirror():
                    yield event
                yield stop_event(self.config, stop.code)
                return
            except _Gone:
                yield await self._gone_event(server)
                return
            async for event in self._mirror():
                yield event
            final = self._finish()
            for event in turn_end(final, self.request.output_schema, self.mapper.last_text):
                yield event
        finally:
            if self.mapper.ended is None and not self._interrupted:
                # The caller left early: the turn must not run on in the warm process.
                await self._interrupt(server, queue)
            server.unsubscribe(thread_id, queue)
            if self.mcp_servers or self._options:
                server.reload_before_next_turn(thread_id)

    async def _open_thread(self, server: AppServer) -> str | ThreadLost | ErrorEvent:
        """Resume the session's thread (unless it is loaded and fit) or start a new one."""
        request, record = self.request, self.record
        if record is not None:
            thread_id = record.thread_id
            try:
                own_settings = bool(self.mcp_servers or self._options)
                await self._call(
                    server, server.unload_if_stale(thread_id, own_settings=own_settings)
                )
            except RpcError as exc:
                return ErrorEvent(
                    "turn_failed",
                    f"codex app-server could not reload thread {thread_id} for this turn's "
                    f"tools or options ({exc.message}); try the turn again.",
                )
            self.start = await self.locate_start()
            params = thread_resume_params(
                thread_id, request.workspace, self.model_arg, self.mcp_servers, self._options
            )
            try:
                result = await self._call(server, server.resume_thread(thread_id, params))
            except RpcError as exc:
                log.warning("thread/resume %s failed: %s", thread_id, exc.message)
                if "mcp" in exc.message.lower():
                    return self._mcp_error(exc)
                return ThreadLost(thread_id)
            if result is not None:
                await self._adopt_path(result)
            self.thread_id = thread_id
            return thread_id
        params = thread_start_params(
            request.workspace, self.model_arg, self.mcp_servers, self._options
        )
        try:
            result = await self._call(server, server.start_thread(params))
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
        server.add_loaded(new_id)
        self.thread_id = new_id
        await self._adopt_path(result)
        self.save_new_thread(new_id)
        return new_id

    @property
    def _options(self) -> dict[str, str]:
        return dict(self.request.codex_options or {})

    async def _adopt_path(self, result: dict[str, Any]) -> None:
        """`thread.path` is the rollout: mirror from it (from 0 for a new thread)."""
        thread = result.get("thread")
        path = thread.get("path") if isinstance(thread, dict) else None
        if not isinstance(path, str) or not path:
            return
        if self.record is None:
            self.start = RolloutPosition(Path(path), 0)
        elif self.start.path is None:
            self.start = await off_loop(rollout_end, Path(path))

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
            result = await self._call(server, server.start_turn(params))
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
                await server.interrupt(thread_id, turn_id)
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
        how, tail = await server.how_it_ended()
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

    def _mirror(self) -> AsyncIterator[CanonicalEvent]:
        """This turn's tool calls from the rollout; then the thread's record is updated."""
        reported = self.mapper.thread_usage if self.mapper.ended is not None else None
        return self.mirror_and_save(self.start, reported)

    def _finish(self) -> CanonicalEvent:
        ended, thread_id = self.mapper.ended, self.thread_id
        assert ended is not None and thread_id is not None
        if ended.status == "completed":
            before = self.previous_total
            total = self.mapper.thread_usage or before
            return message_end(thread_id, total, before=before, turn_usage=self.mapper.usage)
        if ended.status == "interrupted":
            return ErrorEvent("turn_failed", "codex interrupted the turn before it ended")
        code, message = classify_failure(ended.error or "codex reported that the turn failed")
        return ErrorEvent(code, message)


def rollout_end(rollout: Path) -> RolloutPosition:
    """The rollout's end (0 when it is not there yet). A file that cannot be read leaves the
    position unknown: the mirror then locates the rollout afresh."""
    try:
        return RolloutPosition(rollout, rollout.stat().st_size)
    except (FileNotFoundError, NotADirectoryError):
        return RolloutPosition(rollout, 0)
    except OSError as exc:
        log.warning("cannot read the size of rollout %s: %s", rollout, exc)
        return RolloutPosition(None, 0)
