"""The seam between a turn and its backends (`exec/`, `app_server/`): what every attempt shares.

An attempt is one try at the turn on one backend: canonical events, then exactly one terminal
event, or `ThreadLost` when codex no longer has the session's thread (the turn then tries once
more on a fresh one), or `ThreadBusy` when another process holds it (the turn waits for it up to
`busy_wait_s`, else ends in `thread_busy`). `Attempt` holds what both backends start with and the
steps they share, written once: the session save and the rollout mirror off the event loop,
usage → `message_end`. `Backend` is what `Turn` picks by `config.backend`: how a turn's tools are
offered, how it runs.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import functools
from abc import ABC, abstractmethod
from collections.abc import AsyncGenerator, AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from ..bridge.spec import ToolCallback
from ..codex.thread_id import is_plain_id
from ..config import HostConfig, codex_home
from ..digest import sha256_hex
from ..errors import SessionStoreError
from ..events import CanonicalEvent, Context, MessageEnd, Usage, WarningEvent
from ..ownership.holders import Holder
from ..sandbox import Sandbox
from ..sessions import SessionStore, ThreadRecord
from .clock import TurnClock
from .mirror import RolloutPosition, mirror_turn, remembered_position, start_position
from .request import TurnLimits, TurnRequest
from .steer import SteerSlot

if TYPE_CHECKING:
    from ..bridge.socket_path import Listener
    from .exec.head_start import HeadStart

T = TypeVar("T")

_ON_LOOP: contextvars.ContextVar[bool] = contextvars.ContextVar("plexum_on_loop", default=False)


def blocking_work_on_loop() -> None:
    """For a process that runs one turn and nothing else (`say`): from here on, in this context,
    `off_loop` runs its work on the loop. No other turn waits on the loop, and a worker thread
    costs a cold turn its start, a wake-up per call and a join at exit (~5-10 ms, P1b)."""
    _ON_LOOP.set(True)


async def off_loop(fn: Callable[..., T], *args: Any) -> T:
    """`fn(*args)` in a worker thread: the session file's fsyncs and the rollout read block for
    milliseconds, and other turns of this process must keep streaming meanwhile (32 concurrent
    turns spent 40% of their loop time in fsync). A cancelled caller still waits for the thread,
    so the turn's workspace lock is never released under a write in progress. On the loop
    instead after `blocking_work_on_loop`."""
    if _ON_LOOP.get():
        return fn(*args)
    future = asyncio.get_running_loop().run_in_executor(None, functools.partial(fn, *args))
    try:
        return await asyncio.shield(future)
    except asyncio.CancelledError:
        with contextlib.suppress(BaseException):
            await future
        raise


@dataclass(frozen=True)
class ThreadLost:
    """The outcome of an attempt whose thread codex no longer has (no rollout in its home)."""

    thread_id: str

    def warning(self) -> WarningEvent:
        return WarningEvent(
            f"codex no longer has thread {self.thread_id} (no rollout found in its "
            "CODEX_HOME); starting a new thread — the earlier conversation is not in its "
            "context"
        )


@dataclass(frozen=True)
class ThreadBusy:
    """The outcome of an attempt whose thread another process holds (docs/sharing-codex-home.md):
    codex refused it (its writer lock), or where codex takes no lock another process writes it."""

    thread_id: str
    holders: tuple[Holder, ...]


def prompt_for_log(prompt: str, *, verbatim: bool) -> str:
    """The prompt for the debug log: its length and a digest, unless the operator opted in."""
    if verbatim:
        return repr(prompt)
    digest = sha256_hex(prompt.encode("utf-8", "surrogatepass"))[:16]
    return f"{len(prompt)} characters, sha256 {digest} (set `log_prompts` to log the text)"


def message_end(
    thread_id: str,
    thread_usage: Usage,
    *,
    before: Usage,
    turn_usage: Usage | None = None,
    context: Context | None = None,
) -> MessageEnd:
    """The turn's `message_end`: its usage as codex reported it for the turn, or else the growth
    of the thread's total since `before` (the total stored before this turn; zero for a thread
    this turn started); `context`, how full the thread's context is now, when known."""
    usage = turn_usage if turn_usage is not None else thread_usage.minus(before)
    return MessageEnd(thread_id=thread_id, usage=usage, thread_usage=thread_usage, context=context)


def mirror_and_measure(
    config: HostConfig, thread_id: str, start: RolloutPosition, measure: bool
) -> tuple[list[CanonicalEvent], RolloutPosition, Context | None]:
    """The mirror (`mirror.mirror_turn`), and with `measure` the context figures of the turn's
    last `token_count` in the same lines (exec reports them nowhere else). One worker call."""
    events, position = mirror_turn(config, thread_id, start)
    context = None
    if measure and position.path is not None:
        from ..codex.rollout.context import last_context

        begin = start.offset if start.path == position.path else 0
        try:
            fill = last_context(position.path, begin, position.offset)
        except OSError:
            fill = None  # the mirror has warned about an unreadable rollout already
        if fill is not None:
            context = Context(fill.tokens, fill.window)
    return events, position, context


AttemptEvents = AsyncGenerator[CanonicalEvent | ThreadLost | ThreadBusy, None]


@dataclass(frozen=True)
class AttemptSetup:
    """What `Turn` hands every attempt: the turn, its clock and store, and the thread to resume."""

    config: HostConfig
    request: TurnRequest
    limits: TurnLimits
    clock: TurnClock
    store: SessionStore
    record: ThreadRecord | None  # the thread to resume; None starts a new one
    model_arg: str | None
    turn_config: tuple[str, ...] = ()  # effort and codex option `-c`s
    turn_args: tuple[str, ...] = ()  # `--output-schema`, `--image PATH` (copies in a temp folder)
    sandbox: Sandbox = field(default_factory=Sandbox)  # the agent's, narrowed by the turn
    steer_slot: SteerSlot = field(default_factory=SteerSlot)  # where a steer reaches the attempt
    on_spawn: Callable[[int], None] = lambda pid: None  # codex's pid, for the MCP peer check
    # exec only: a codex a cold `say` started before the event loop, adopted if it matches.
    head_start: HeadStart | None = None


@dataclass(frozen=True)
class ToolSetup:
    """What offering a turn's tools needs (the request holds the tools)."""

    config: HostConfig
    request: TurnRequest
    call: ToolCallback
    codex_pid: Callable[[], int | None]  # the running attempt's codex, for the MCP peer check
    listener: Listener | None = None  # the agent's socket, bound by a cold `say`'s head start


class Backend(Protocol):
    """One way to run a turn (config `backend`): how its tools are offered, how it is attempted.

    `offer_tools` serves the tools for the whole turn and yields what every attempt passes to
    codex (exec: `-c` options; app-server: the thread's `mcp_servers` table); it raises
    `BridgeError` or `ConfigError` before yielding. `attempt` runs one attempt (see `Attempt`).
    """

    steers: bool  # can a running turn take more user input (`Turn.steer`)

    def offer_tools(self, setup: ToolSetup) -> contextlib.AbstractAsyncContextManager[Any]: ...

    def attempt(self, setup: AttemptSetup, tools: Any) -> AttemptEvents: ...


@dataclass
class Attempt(ABC):
    """One attempt's shared state and steps; each backend writes `run`."""

    setup: AttemptSetup
    thread_id: str | None = field(default=None, init=False)
    # Where this turn's lines begin in the thread's rollout (the mirror reads from there).
    start: RolloutPosition = field(default=RolloutPosition(None, 0), init=False)
    # The save of a newly announced thread runs while codex streams on (its fsyncs took ~20 ms on
    # a busy disk and held back every event behind them); it is awaited before the final save.
    pending_save: asyncio.Future[None] | None = field(default=None, init=False)
    # How full the thread's context is after the turn: app-server reports it live
    # (`thread/tokenUsage/updated`); on exec the mirror reads it from the rollout.
    context: Context | None = field(default=None, init=False)

    @property
    def config(self) -> HostConfig:
        return self.setup.config

    @property
    def request(self) -> TurnRequest:
        return self.setup.request

    @property
    def record(self) -> ThreadRecord | None:
        return self.setup.record

    @property
    def limits(self) -> TurnLimits:
        return self.setup.limits

    @property
    def clock(self) -> TurnClock:
        return self.setup.clock

    @property
    def model_arg(self) -> str | None:
        return self.setup.model_arg

    @property
    def previous_total(self) -> Usage:
        """The thread's usage stored before this turn (zero without a stored thread)."""
        return self.record.usage_total if self.record is not None else Usage()

    @abstractmethod
    def run(self) -> AttemptEvents:
        """The attempt's events; the last is terminal, or a `ThreadLost`."""

    async def busy_before_resume(self, *, loaded_here: bool = False) -> ThreadBusy | None:
        """Whether another process holds the thread this attempt would resume, asked only where
        codex cannot say it itself (see `ownership.busy.busy_before_resume`)."""
        record = self.record
        if record is None or loaded_here:
            return None
        from ..ownership import codex_locks_threads
        from ..ownership.busy import busy_before_resume

        home = codex_home(self.config)
        if codex_locks_threads(home):
            return None  # codex enforces its lock and refuses the thread itself (no thread hop)
        remembered = Path(record.rollout_path) if record.rollout_path else None
        holders = await off_loop(busy_before_resume, home, record.thread_id, remembered)
        return None if holders is None else ThreadBusy(record.thread_id, holders)

    def busy_from_codex(self, text: str) -> ThreadBusy | None:
        """codex's own refusal (exec stderr, app-server error) of the thread we asked for."""
        from ..codex.writer_conflict import conflict_thread
        from ..ownership.holders import lock_holders
        from ..ownership.writer_lock import lock_path

        record = self.record
        if record is None or conflict_thread(text) != record.thread_id:
            return None
        try:
            path = lock_path(codex_home(self.config), record.thread_id)
        except ValueError:
            return ThreadBusy(record.thread_id, ())
        return ThreadBusy(record.thread_id, lock_holders(path))

    async def locate_start(self) -> RolloutPosition:
        """Where this turn's lines will begin in the resumed thread's rollout (taken before codex
        writes them; see `mirror.start_position`), found off the loop."""
        if self.record is None:
            return RolloutPosition(None, 0)  # a new thread: its file starts with this turn
        # The remembered spot is checked on the loop: a warm turn saves a hop to a worker thread
        # and back (~2 ms on a busy machine); locating the file afresh may scan, so it does not.
        known = remembered_position(self.config, self.record)
        if known is not None:
            return known
        return await off_loop(start_position, self.config, self.record)

    def save_new_thread(self, thread_id: str) -> None:
        """Store a thread codex just announced, in the background (see `pending_save`)."""
        record = ThreadRecord(thread_id, self.model_arg)
        put = off_loop(self.setup.store.put, self.request.session_id, record)
        self.pending_save = asyncio.ensure_future(put)

    async def settle_save(self) -> None:
        """Wait for a background save still running: the workspace lock must outlive it."""
        if self.pending_save is not None:
            with contextlib.suppress(Exception):
                await self.pending_save

    async def mirror_and_save(
        self, start: RolloutPosition, reported_total: Usage | None
    ) -> AsyncIterator[CanonicalEvent]:
        """This turn's tool calls from the rollout (read from `start`); then the thread's record
        is stored with the new position and the thread's total usage (`reported_total`, or what
        was stored for this thread when codex reported none)."""
        if self.pending_save is not None:
            pending, self.pending_save = self.pending_save, None
            try:
                await pending
            except (SessionStoreError, OSError) as exc:
                yield self._save_failed(self.thread_id or "?", exc)
        thread_id, record = self.thread_id, self.record
        if thread_id is None or not is_plain_id(thread_id):
            return
        same_thread = record is not None and record.thread_id == thread_id
        total = reported_total or (self.previous_total if same_thread else Usage())
        events, context, failed = await off_loop(
            self._mirror_then_save, thread_id, start, total, self.context is None
        )
        self.context = self.context or context
        for event in events:
            yield event
        if failed is not None:
            yield self._save_failed(thread_id, failed)

    def _mirror_then_save(
        self, thread_id: str, start: RolloutPosition, total: Usage, measure: bool
    ) -> tuple[list[CanonicalEvent], Context | None, Exception | None]:
        """The mirror, then the thread's record stored with the position it ended at: one worker
        call (each hop to a worker thread and back cost a warm turn a wake-up on a busy machine)."""
        events, position, context = mirror_and_measure(self.config, thread_id, start, measure)
        path = str(position.path) if position.path is not None else None
        saved = ThreadRecord(thread_id, self.model_arg, total, path, position.offset)
        try:
            self.setup.store.put(self.request.session_id, saved)
        except (SessionStoreError, OSError) as exc:
            return events, context, exc
        return events, context, None

    def _save_failed(self, thread_id: str, exc: Exception) -> WarningEvent:
        """A failed save costs a warning, not the turn."""
        return WarningEvent(
            f"could not store codex thread {thread_id} for session "
            f"{self.request.session_id!r} ({exc}); the next turn may start a new thread"
        )
