"""One turn's lifetime: codex under the workspace lock, ending with exactly one terminal event.

Use it as an async context manager, so a caller that stops early cannot orphan codex:

    async with open_turn(config, TurnRequest(prompt="hi", workspace=ws)) as turn:
        async for event in turn:
            ...

`turn.cancel()` (from any task) ends it with `error{code: cancelled}`. The workspace lock is held
for the whole turn; the thread id is stored as soon as codex announces it. When codex no longer
has the session's thread, the turn tries once more on a fresh one (see `backend.ThreadLost`).
The backend (`exec` or `app-server`, config `backend`) is picked from one table, `BACKENDS`.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import logging
import os
import sys
import tempfile
from collections.abc import AsyncGenerator
from types import TracebackType
from typing import TYPE_CHECKING, Any

from ..config import HostConfig
from ..errors import BridgeError, ConfigError, SessionStoreError, TurnInputError
from ..events import CanonicalEvent, ErrorEvent, WarningEvent, is_terminal
from ..sessions import SessionStore, ThreadRecord, acquire_workspace_lock
from .backend import AttemptSetup, Backend, ThreadLost, ToolSetup

if TYPE_CHECKING:
    from .exec.head_start import HeadStart
from .clock import Stop, TurnClock
from .inputs import check_turn_inputs, prepared
from .messages import stop_event
from .request import TurnLimits, TurnRequest, prompt_problem

log = logging.getLogger(__name__)

__all__ = ["Turn", "TurnLimits", "TurnRequest", "close_backends", "open_turn", "run_turn"]

# config `backend` → the room under `turn/` that runs it (its `BACKEND`), imported on first use.
BACKENDS = {"exec": "exec", "app-server": "app_server"}


def backend_for(config: HostConfig) -> Backend:
    room = importlib.import_module(f".{BACKENDS[config.backend]}", __package__)
    backend: Backend = room.BACKEND
    return backend


class Turn:
    """A running turn. Iterate it once; leaving the `async with` ends codex if it still runs."""

    def __init__(
        self,
        config: HostConfig,
        request: TurnRequest,
        limits: TurnLimits | None = None,
        *,
        head_start: HeadStart | None = None,
    ) -> None:
        self.config = config
        self.request = request
        self.limits = limits or TurnLimits()
        # A cold `say`'s codex, started before the loop with the workspace lock already taken
        # (`exec/head_start.py`); the first attempt adopts it if it is the codex it would start.
        self._head_start = head_start
        self._clock = TurnClock(
            turn_timeout_s=config.turn_timeout_s, idle_timeout_s=config.idle_timeout_s
        )
        self._events: AsyncGenerator[CanonicalEvent, None] | None = None
        # The running attempt's codex, for the MCP peer check; a head-started one's from the
        # start: its mcp-host may connect as soon as the tools are served, before the adoption.
        self._codex_pid: int | None = head_start.popen.pid if head_start is not None else None
        self._turn_config: tuple[str, ...] = ()  # effort and option `-c`s (before resume)
        self._turn_args: tuple[str, ...] = ()  # `--output-schema`, `--image` (after resume)

    async def __aenter__(self) -> Turn:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._events is not None:
            await self._events.aclose()

    def __aiter__(self) -> AsyncGenerator[CanonicalEvent, None]:
        if self._events is None:
            self._events = self._run()
        return self._events

    def cancel(self) -> None:
        """Ask the turn to stop; it ends with `error{code: cancelled}`."""
        self._clock.cancel()

    async def _run(self) -> AsyncGenerator[CanonicalEvent, None]:
        """The turn's events; whatever goes wrong inside, exactly one terminal event, last."""
        ended = False
        failure: Exception | None = None
        try:
            async with contextlib.aclosing(self._checked()) as events:
                async for event in events:
                    if ended:
                        log.warning("dropping a %s event after the terminal event", event.type)
                        continue
                    ended = is_terminal(event)
                    yield event
        except Exception as exc:  # a bug must not leave the host without a terminal event
            log.exception("plexum-openai-provider: unexpected error in a turn")
            failure = exc
        if not ended:
            what = f"{type(failure).__name__}: {failure}" if failure else "no terminal event"
            yield ErrorEvent(
                "internal",
                f"the plugin hit an unexpected error ({what}); codex was stopped and the "
                "workspace released. Please report it with the debug log (`--verbose`).",
            )

    async def _checked(self) -> AsyncGenerator[CanonicalEvent, None]:
        self._clock.start()
        request = self.request
        problem = prompt_problem(request.prompt)
        if problem is not None:
            yield ErrorEvent("config", problem)
            return
        try:
            model_arg = self.config.model_arg(request.model)
        except ConfigError as exc:
            yield ErrorEvent("config", str(exc))
            return
        if not request.workspace.is_dir():
            yield ErrorEvent("config", f"workspace {request.workspace} is not a directory")
            return
        try:
            inputs = check_turn_inputs(
                request.images,
                request.output_schema,
                request.reasoning_effort,
                request.codex_options,
            )
        except TurnInputError as exc:
            yield ErrorEvent("config", str(exc))
            return
        with prepared(inputs) as turn_args:
            if turn_args is None:
                yield ErrorEvent(
                    "spawn",
                    "could not write the turn's images / output schema to a private temp folder "
                    f"under {tempfile.gettempdir()}; check that it exists and has free space",
                )
                return
            self._turn_config = tuple(inputs.config_args())
            self._turn_args = tuple(turn_args)
            async with contextlib.aclosing(self._lock_and_run(model_arg)) as events:
                async for event in events:
                    yield event

    async def _lock_and_run(self, model_arg: str | None) -> AsyncGenerator[CanonicalEvent, None]:
        request = self.request
        if self._head_start is not None:
            lock_fd = self._head_start.take_lock()  # taken before codex was started
        else:
            lock_task = asyncio.create_task(acquire_workspace_lock(request.workspace))
            try:
                await self._clock.wait(lock_task, idle=False)
            except BaseException as exc:
                # Cancelled by the clock, or the host cancelled our task (`task.cancel()`, a
                # timeout around the turn): the waiter must not take the lock later and keep it.
                _abandon_lock(lock_task)
                if isinstance(exc, Stop):
                    yield stop_event(self.config, exc.code, waiting_for_lock=True)
                    return
                raise
            try:
                lock_fd = lock_task.result()
            except OSError as exc:
                yield ErrorEvent(
                    "session_store",
                    f"cannot lock the workspace {request.workspace} ({exc}); the plugin needs "
                    "to write `.plexum-codex-session` there",
                )
                return
        try:
            async with contextlib.aclosing(self._locked(model_arg)) as events:
                async for event in events:
                    yield event
        finally:
            os.close(lock_fd)

    async def _locked(self, model_arg: str | None) -> AsyncGenerator[CanonicalEvent, None]:
        """The turn once the workspace is ours: its thread, its tools, then its attempts."""
        request = self.request
        store = SessionStore(request.workspace)
        try:
            record = store.get(request.session_id)
        except SessionStoreError as exc:
            yield ErrorEvent("session_store", str(exc))
            return
        requested_model_arg = model_arg
        if record is not None and record.model_arg != model_arg:
            yield WarningEvent(
                f"session {request.session_id!r} continues codex thread {record.thread_id}, "
                f"started with --model {record.model_arg or '(codex default)'}; that model is "
                "kept for the thread (a switch would make codex compact it). Use a new "
                "session for another model."
            )
            model_arg = record.model_arg
        backend = backend_for(self.config)
        async with contextlib.AsyncExitStack() as stack:
            tools: Any = None
            if request.tools:
                try:
                    if request.call_tool is None:
                        raise ConfigError("a turn with tools needs a `call_tool` callback")
                    early = self._head_start
                    listener = early.take_listener() if early is not None else None
                    setup = ToolSetup(
                        self.config, request, request.call_tool, self._codex_pid_now, listener
                    )
                    tools = await stack.enter_async_context(backend.offer_tools(setup))
                except (BridgeError, ConfigError) as exc:
                    yield ErrorEvent("mcp", f"the turn's tools could not be offered: {exc}")
                    return
            resume = record
            while True:
                lost: ThreadLost | None = None
                attempt = backend.attempt(self._attempt_setup(store, resume, model_arg), tools)
                async with contextlib.aclosing(attempt) as events:
                    async for item in events:
                        if isinstance(item, ThreadLost):
                            lost = item
                            yield item.warning()
                        else:
                            yield item
                if lost is None or resume is None:
                    return
                # The one retry: the same prompt on a fresh thread, with the model asked for (the
                # lost thread's model was kept only to continue that thread).
                resume, model_arg = None, requested_model_arg

    def _attempt_setup(
        self, store: SessionStore, record: ThreadRecord | None, model_arg: str | None
    ) -> AttemptSetup:
        return AttemptSetup(
            self.config,
            self.request,
            self.limits,
            self._clock,
            store,
            record,
            model_arg,
            turn_config=self._turn_config,
            turn_args=self._turn_args,
            on_spawn=self._spawned,
            head_start=self._head_start,
        )

    def _spawned(self, pid: int) -> None:
        self._codex_pid = pid

    def _codex_pid_now(self) -> int | None:
        return self._codex_pid


def _abandon_lock(lock_task: asyncio.Task[int]) -> None:
    """Stop a lock waiter we no longer wait for; if it already holds the lock, release it."""

    def release(task: asyncio.Task[int]) -> None:
        if not task.cancelled() and task.exception() is None:
            os.close(task.result())

    lock_task.cancel()
    lock_task.add_done_callback(release)


def open_turn(config: HostConfig, request: TurnRequest, limits: TurnLimits | None = None) -> Turn:
    return Turn(config, request, limits)


async def run_turn(
    config: HostConfig, request: TurnRequest, limits: TurnLimits | None = None
) -> list[CanonicalEvent]:
    """Run a turn to its end and return all its events (the last one is terminal)."""
    async with open_turn(config, request, limits) as turn:
        return [event async for event in turn]


async def close_backends() -> None:
    """End the warm `codex app-server` processes of this process (call it before exiting).

    Turns on the `exec` backend leave nothing running; this is a no-op for them — and without
    importing the app-server room (a cold `say` on exec spent ~10 ms loading it to close nothing).
    """
    pool = sys.modules.get(f"{__package__}.app_server.pool")
    if pool is not None:  # no app-server was ever started without importing it
        await pool.shutdown_all()
