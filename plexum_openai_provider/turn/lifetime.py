"""One turn's lifetime: codex under the workspace lock, ending with exactly one terminal event.

Use it as an async context manager, so a caller that stops early cannot orphan codex:

    async with open_turn(config, TurnRequest(prompt="hi", workspace=ws)) as turn:
        async for event in turn:
            ...

`turn.cancel()` (from any task) ends it with `error{code: cancelled}`, unless codex had already
ended it (then it returns False and the turn keeps its own end). The workspace lock is held
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
from collections.abc import AsyncGenerator
from dataclasses import replace
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

from ..config import HostConfig, codex_home
from ..errors import (
    BridgeError,
    ConfigError,
    ControlError,
    SandboxWidened,
    SessionStoreError,
    TurnInputError,
)
from ..events import CanonicalEvent, ErrorEvent, MessageEnd, WarningEvent, is_terminal
from ..files import directory_problem
from ..sessions import SessionStore, ThreadRecord, acquire_workspace_lock
from .backend import AttemptSetup, Backend, ThreadBusy, ThreadLost, ToolSetup
from .clock import Stop, TurnClock
from .inputs import check_turn_inputs, prepared
from .messages import stop_event
from .request import TurnLimits, TurnRequest, prompt_problem
from .steer import SteerSlot

if TYPE_CHECKING:
    from .exec.head_start import HeadStart

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
        self._sandbox = config.sandbox_for(request.agent_id)
        self._steer_slot = SteerSlot()

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

    def cancel(self) -> bool:
        """Ask the turn to stop; it ends with `error{code: cancelled}`. False when codex had
        already ended the turn: it then keeps the end codex gave it (`message_end` or `error`)."""
        return self._clock.cancel()

    async def steer(self, text: str) -> None:
        """Add `text` to the running turn, as the user's message (app-server backend). Raises
        ControlError: `steer_unsupported` on exec (send it as the next turn instead),
        `not_running`, `codex_refused`."""
        if not backend_for(self.config).steers:
            raise ControlError(
                "steer_unsupported",
                f"the {self.config.backend} backend cannot add input to a running turn; send it "
                "as the next turn (or use backend app-server)",
            )
        await self._steer_slot.steer(text)

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
                    if ended:
                        self._stop_unadopted()
                    if isinstance(event, MessageEnd):
                        warning = context_warning(event, self.config.context_warning_fraction)
                        if warning is not None:
                            yield warning
                    yield event
        except Exception as exc:  # a bug must not leave the host without a terminal event
            log.exception("plexum-openai-provider: unexpected error in a turn")
            failure = exc
        finally:
            self._steer_slot.end()
        if not ended:
            self._stop_unadopted()
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
        problem = directory_problem(request.workspace)
        if problem is not None:
            yield ErrorEvent("config", f"workspace {request.workspace} {problem}")
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
        try:
            self._sandbox = self.config.sandbox_for(request.agent_id).narrowed(request.sandbox)
        except SandboxWidened as exc:
            yield ErrorEvent("config", f"sandbox: {exc}")
            return
        with prepared(inputs) as turn_args:
            if turn_args is None:
                import tempfile  # only to name the folder: `inputs.prepared` imports it

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
            self._stop_unadopted()  # codex never runs in the workspace without its lock
            os.close(lock_fd)

    def _stop_unadopted(self) -> None:
        """Stop and reap a head-started codex no attempt adopted, and let go of what of the head
        start the turn did not take (a no-op once it took all): the turn ends, or lets go of the
        workspace lock, only once nothing of that codex is left running."""
        if self._head_start is not None:
            self._head_start.discard()

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
        if record is not None and not self.config.allows_model_arg(record.model_arg):
            # The session file is in the workspace, which the model can write: only a model
            # config.json allows may reach codex's argv.
            yield WarningEvent(
                f"session {request.session_id!r}: the session file names --model "
                f"{record.model_arg!r} for codex thread {record.thread_id}, which is not one "
                "config.json allows (`supported_models` / `model_args`); it is ignored and the "
                "requested model used"
            )
            record = replace(record, model_arg=model_arg)
        elif record is not None and record.model_arg != model_arg:
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
            waited_for_thread = False
            while True:
                lost: ThreadLost | None = None
                busy: ThreadBusy | None = None
                attempt = backend.attempt(self._attempt_setup(store, resume, model_arg), tools)
                async with contextlib.aclosing(attempt) as events:
                    async for item in events:
                        if isinstance(item, ThreadLost):
                            lost = item
                            yield item.warning()
                        elif isinstance(item, ThreadBusy):
                            busy = item
                        else:
                            yield item
                if busy is not None:
                    # Never a silent new thread: wait for it (once, bounded), or say who has it.
                    if waited_for_thread or not self.config.busy_wait_s:
                        yield self._busy_event(busy)
                        return
                    waited_for_thread = True
                    async for event in self._wait_for_thread(busy, resume):
                        yield event
                        if isinstance(event, ErrorEvent):
                            return
                    continue
                if lost is None or resume is None:
                    return
                # The one retry: the same prompt on a fresh thread, with the model asked for (the
                # lost thread's model was kept only to continue that thread).
                resume, model_arg = None, requested_model_arg

    def _busy_event(self, busy: ThreadBusy) -> ErrorEvent:
        from ..ownership.busy import busy_message

        text = busy_message(busy.thread_id, self.request.session_id, busy.holders)
        return ErrorEvent("thread_busy", text)

    async def _wait_for_thread(
        self, busy: ThreadBusy, record: ThreadRecord | None
    ) -> AsyncGenerator[CanonicalEvent, None]:
        """Wait up to `busy_wait_s` (and within the turn's limits) for the thread to be free."""
        from ..ownership.busy import wait_free

        wait_s = self.config.busy_wait_s
        yield WarningEvent(
            f"codex thread {busy.thread_id} is in use by another process; waiting up to "
            f"{wait_s:g}s for it (busy_wait_s)"
        )
        rollout = Path(record.rollout_path) if record and record.rollout_path else None
        waiter = asyncio.ensure_future(
            wait_free(codex_home(self.config), busy.thread_id, rollout, wait_s=wait_s)
        )
        try:
            await self._clock.wait(waiter, idle=False)
        except Stop as stop:
            waiter.cancel()
            yield stop_event(self.config, stop.code)
            return
        still = waiter.result()
        if still is not None:
            yield self._busy_event(ThreadBusy(busy.thread_id, still or busy.holders))

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
            sandbox=self._sandbox,
            steer_slot=self._steer_slot,
            on_spawn=self._spawned,
            head_start=self._head_start,
        )

    def _spawned(self, pid: int) -> None:
        self._codex_pid = pid

    def _codex_pid_now(self) -> int | None:
        return self._codex_pid


def context_warning(end: MessageEnd, fraction: float) -> WarningEvent | None:
    """The warning for a thread whose context is at least `fraction` full, or None."""
    context = end.context
    full = context.fraction if context is not None else None
    if context is None or full is None or full < fraction:
        return None
    return WarningEvent(
        f"the thread's context is {full:.0%} full ({context.tokens} of {context.window} tokens) "
        "after this turn; consume tool blocks or start a new session before codex has to "
        "compact it"
    )


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
