"""The app-server backend's attempt: open the thread on the warm server, run the turn, mirror it.

The contract is the seam's (`turn/backend.py`): canonical events, then exactly one terminal event,
or `ThreadLost` when codex cannot resume the session's thread (`ThreadBusy`: another process holds
it). The server outlives the turn; a turn stopped early (cancel, timeouts, the caller leaving) is
interrupted with `turn/interrupt`, and a server that does not answer that is ended so the next
turn starts afresh. Every thread
operation is the pool's (`pool.AppServer`); this module decides which to ask for, and when.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from ...codex.thread_id import is_plain_id
from ...errors import AppServerStartError, ControlError, RpcError, ServerGone
from ...events import CanonicalEvent, Context, ErrorEvent
from ..backend import (
    Attempt,
    AttemptEvents,
    ThreadBusy,
    ThreadLost,
    message_end,
    off_loop,
    prompt_for_log,
)
from ..clock import Stop
from ..failures import classify_failure
from ..inputs import turn_end
from ..messages import spawn_failed, stderr_tail_text, stop_event
from ..mirror import RolloutPosition
from .approvals import approval_request, approve_body, decline_body
from .notifications import NotificationMapper
from .params import thread_resume_params, thread_start_params, turn_start_params
from .pool import AppServer, acquire
from .rpc_client import CLOSED, Notification

log = logging.getLogger(__name__)

T = TypeVar("T")
STEER_TIMEOUT_S = 10.0  # `turn/steer` is answered at once; a server that does not is not steered


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
    _using: str | None = field(default=None, init=False)  # the thread this turn holds in use
    # `turn/start` once sent: kept even when the turn stops before its reply, because codex may
    # have started the turn all the same and only the reply (or `turn/started`) names it.
    _starting: asyncio.Future[dict[str, Any]] | None = field(default=None, init=False)

    async def run(self) -> AttemptEvents:
        config = self.config
        try:
            # The agent's own process: its tools answer only what descends from it.
            agent = self.request.agent_id
            server = await self._within_clock(acquire(config, self.env, agent))
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
            if server.keeper is not None and self._using is not None:
                # However the attempt ended: the thread may go back now.
                ended = self.mapper.ended is not None and self.mapper.ended.status == "completed"
                server.keeper.done(self._using, ended=ended)
                self._using = None
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
        if isinstance(opened, ThreadLost | ThreadBusy | ErrorEvent):
            yield opened
            return
        thread_id = opened
        queue = server.subscribe(thread_id)
        server.approvals.serve(thread_id, self._approve)
        try:
            try:
                async with contextlib.aclosing(self._stream(server, thread_id, queue)) as stream:
                    async for event in stream:
                        yield event
            except Stop as stop:
                server.approvals.stop(thread_id)  # a cancelled turn declines what it was asked
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
            server.approvals.stop(thread_id)
            self.setup.steer_slot.withdraw()
            if self.mapper.ended is None and not self._interrupted:
                # The caller left early: the turn must not run on in the warm process.
                await self._interrupt(server, queue)
            server.unsubscribe(thread_id, queue)
            if self.mcp_servers or self._options:
                server.reload_before_next_turn(thread_id)

    async def _open_thread(self, server: AppServer) -> str | ThreadLost | ThreadBusy | ErrorEvent:
        """Resume the session's thread (unless it is loaded and fit) or start a new one."""
        request, record = self.request, self.record
        if record is not None:
            thread_id = record.thread_id
            changed = await self._use(server, thread_id)
            try:
                await self._call(server, server.recover(thread_id))
            except RpcError as exc:
                return ErrorEvent(
                    "turn_failed",
                    f"thread {thread_id} was left archived by an earlier unload and codex "
                    f"app-server would not unarchive it ({exc.message}); try the turn again.",
                )
            try:
                own_settings = bool(self.mcp_servers or self._options) or changed
                await self._call(
                    server, server.unload_if_stale(thread_id, own_settings=own_settings)
                )
            except RpcError as exc:
                return ErrorEvent(
                    "turn_failed",
                    f"codex app-server could not reload thread {thread_id} for this turn's "
                    f"tools or options ({exc.message}); try the turn again.",
                )
            busy = await self.busy_before_resume(loaded_here=server.is_loaded(thread_id))
            if busy is not None:
                return busy
            self.start = await self.locate_start()
            params = thread_resume_params(
                thread_id,
                request.workspace,
                self.model_arg,
                self.mcp_servers,
                self._options,
                self.setup.sandbox,
                exclude_turns=server.excludes_turns,
            )
            try:
                result = await self._call(server, server.resume_thread(thread_id, params))
            except RpcError as exc:
                log.warning("thread/resume %s failed: %s", thread_id, exc.message)
                if "mcp" in exc.message.lower():
                    return self._mcp_error(exc)
                # Another process holds it: never a silent new thread (docs/sharing-codex-home.md).
                return self.busy_from_codex(exc.message) or ThreadLost(thread_id)
            if result is not None:
                await self._adopt_path(result)
                self._loaded(server, thread_id, result)
            self.thread_id = thread_id
            return thread_id
        params = thread_start_params(
            request.workspace, self.model_arg, self.mcp_servers, self._options, self.setup.sandbox
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
        await self._use(server, new_id)
        self._loaded(server, new_id, result)
        self.thread_id = new_id
        await self._adopt_path(result)
        self.save_new_thread(new_id)
        return new_id

    async def _use(self, server: AppServer, thread_id: str) -> bool:
        """Mark the thread in use (it is not given back meanwhile), wait for a give-back of it in
        progress, and say whether another process wrote its rollout since it was loaded here
        (then it is reloaded before this turn: docs/sharing-codex-home.md)."""
        keeper = server.keeper
        if keeper is None or self._using == thread_id:
            return False
        keeper.use(thread_id)
        self._using = thread_id
        await self._call(server, keeper.settled(thread_id))
        changed = server.is_loaded(thread_id) and keeper.changed_elsewhere(thread_id)
        if changed:
            log.info("thread %s changed on disk since it was loaded: reloading it", thread_id)
        return changed

    def _loaded(self, server: AppServer, thread_id: str, result: dict[str, Any]) -> None:
        if server.keeper is None:
            return
        thread = result.get("thread")
        path = thread.get("path") if isinstance(thread, dict) else None
        server.keeper.loaded(thread_id, Path(path) if isinstance(path, str) and path else None)

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
            sandbox=self.setup.sandbox,
        )
        if log.isEnabledFor(logging.DEBUG):  # a digest for nobody to read otherwise
            log.debug(
                "prompt: %s", prompt_for_log(request.prompt, verbatim=self.config.log_prompts)
            )
        starting = self._starting = asyncio.ensure_future(server.start_turn(params))
        starting.add_done_callback(_retrieved)
        try:
            result = await self._call(server, asyncio.shield(starting))
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
            self.setup.steer_slot.offer(functools.partial(self._steer, server, thread_id))
        self.clock.progress()
        while self.mapper.ended is None:
            note = await self._next(queue)
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
            if self.mapper.ended is not None:
                self.clock.settle()  # codex ended the turn: a cancel from now on is too late

    async def _next(self, queue: asyncio.Queue[Notification]) -> Notification:
        """The next notification, within the turn's limits. One already queued is taken at once:
        codex writes in bursts, and waiting for a ready one cost two tasks and a loop round (a
        notification that is there wins over a cancel, as it did; the clock is asked when none
        is)."""
        if not queue.empty():
            return queue.get_nowait()
        get = asyncio.create_task(queue.get())
        try:
            await self.clock.wait(get, idle=not self.mapper.busy)
        finally:
            if not get.done():
                get.cancel()
        return get.result()

    def _this_turn(self, method: str, params: dict[str, Any]) -> bool:
        if self.turn_id is None:
            return True
        turn_id = params.get("turnId")
        if method in ("turn/started", "turn/completed"):
            turn = params.get("turn")
            turn_id = turn.get("id") if isinstance(turn, dict) else None
        return turn_id is None or turn_id == self.turn_id

    async def _approve(self, method: str, params: dict[str, Any]) -> dict[str, Any]:
        """codex asks to run a command or apply a patch: the host decides, within the
        deadline; anything but an explicit approval declines (`approvals.py` writes the body)."""
        approve, sandbox = self.request.approve, self.setup.sandbox
        if approve is None or sandbox.approvals != "daemon" or not sandbox.sandboxed:
            return decline_body(method)
        asked = approval_request(method, params)
        try:
            async with asyncio.timeout(self.config.approval_timeout_s):
                decision = await approve(asked)
        except TimeoutError:
            log.warning(
                "no answer to an approval within %gs: declined", self.config.approval_timeout_s
            )
            return decline_body(method)
        finally:
            self.clock.progress()  # waiting for the host is not codex being silent
        return approve_body(method, params, decision)

    async def _steer(self, server: AppServer, thread_id: str, text: str) -> None:
        """`turn/steer` for this turn, within a deadline; whatever fails is `codex_refused`."""
        turn_id = self.turn_id
        if turn_id is None or self.mapper.ended is not None:
            raise ControlError("not_running", "the codex turn has already ended")
        try:
            async with asyncio.timeout(STEER_TIMEOUT_S):
                await server.steer(thread_id, turn_id, text)
        except RpcError as exc:
            raise ControlError("codex_refused", f"codex refused the steer: {exc.message}") from exc
        except (ServerGone, TimeoutError) as exc:
            raise ControlError(
                "codex_refused", f"codex app-server did not take the steer ({exc!r})"
            ) from exc

    async def _interrupt(self, server: AppServer, queue: asyncio.Queue[Notification]) -> None:
        """Stop the turn: `turn/interrupt`, then wait (bounded) for the turn to end.

        A turn whose `turn/start` reply has not come yet is waited for (bounded) until codex
        names it, then interrupted: a turn reported stopped must not run on. Waiting for
        `turn/completed` keeps the thread free for the next turn at once. When codex does not
        stop it, the thread is unloaded instead (`_stop_thread`).
        """
        self._interrupted = True
        thread_id = self.thread_id
        if thread_id is None or self._starting is None or not server.alive:
            return  # no turn was asked for: nothing runs
        try:
            async with asyncio.timeout(self.limits.kill_grace_s):
                turn_id = await self._named_turn(queue)
                if turn_id is None:
                    return  # codex refused the turn: nothing runs
                await server.interrupt(thread_id, turn_id)
                while self.mapper.ended is None:
                    note = await queue.get()
                    if note is CLOSED:
                        return
                    if self._this_turn(*note):
                        self.mapper.feed(*note)
                return
        except ServerGone:
            return  # the process is gone, and its turns with it
        except (RpcError, TimeoutError) as exc:
            log.warning("turn/interrupt of thread %s failed (%r)", thread_id, exc)
        await self._stop_thread(server, thread_id)

    async def _named_turn(self, queue: asyncio.Queue[Notification]) -> str | None:
        """This turn's id: known, or from the `turn/start` reply or `turn/started`, whichever
        comes first (None: codex refused the turn). Raises ServerGone."""
        starting = self._starting
        assert starting is not None
        while self.turn_id is None:
            if starting.done():
                if starting.cancelled() or isinstance(starting.exception(), RpcError):
                    return None
                result = starting.result()  # raises ServerGone
                turn = result.get("turn")
                if isinstance(turn, dict) and isinstance(turn.get("id"), str):
                    self.turn_id = self.mapper.turn_id = turn["id"]
                    break
                return None
            get: asyncio.Future[Notification] = asyncio.ensure_future(queue.get())
            waiting: set[asyncio.Future[Any]] = {starting, get}
            try:
                await asyncio.wait(waiting, return_when=asyncio.FIRST_COMPLETED)
            finally:
                if not get.done():
                    get.cancel()
            if get.done():
                note = get.result()
                if note is CLOSED:
                    raise ServerGone("codex app-server exited")
                if self._this_turn(*note):
                    self.mapper.feed(*note)  # `turn/started` names the turn
                    self.turn_id = self.mapper.turn_id
        return self.turn_id

    async def _stop_thread(self, server: AppServer, thread_id: str) -> None:
        """Stop what runs on the thread without its turn id: unload it (archiving a thread ends
        its turn). Only a server that does not even do that within the kill grace is ended."""
        try:
            async with asyncio.timeout(self.limits.kill_grace_s):
                await server.unload(thread_id)
            return
        except (RpcError, ServerGone, TimeoutError) as exc:
            log.warning(
                "cannot stop thread %s (%r); ending codex app-server %d", thread_id, exc, server.pid
            )
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
        # Idle counts from the request: the steps before it (a start, a reload) were progress.
        self.clock.progress()
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
        tokens, window = self.mapper.context_tokens, self.mapper.context_window
        if tokens is not None and window is not None:
            self.context = Context(tokens, window)  # else the mirror reads the rollout's
        return self.mirror_and_save(self.start, reported)

    def _finish(self) -> CanonicalEvent:
        ended, thread_id = self.mapper.ended, self.thread_id
        assert ended is not None and thread_id is not None
        if ended.status == "completed":
            before = self.previous_total
            total = self.mapper.thread_usage or before
            return message_end(
                thread_id, total, before=before, turn_usage=self.mapper.usage, context=self.context
            )
        if ended.status == "interrupted":
            return ErrorEvent("turn_failed", "codex interrupted the turn before it ended")
        code, message = classify_failure(ended.error or "codex reported that the turn failed")
        return ErrorEvent(code, message)


def _retrieved(future: asyncio.Future[Any]) -> None:
    """Mark a background request's failure as seen (its caller may have stopped waiting)."""
    if not future.cancelled():
        future.exception()


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
