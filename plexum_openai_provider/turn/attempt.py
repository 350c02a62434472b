"""One attempt of a turn: one `codex exec [resume]` process, from spawn to reaped, as events.

An attempt ends with the turn's terminal event, or with `ThreadLost` when codex no longer has the
thread it was asked to resume; the turn then decides to try once more on a fresh thread.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import hashlib
import logging
import signal
from collections.abc import AsyncGenerator, AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

from ..codex.argv import build_exec_argv, redact_argv
from ..codex.thread_id import is_plain_id
from ..config import HostConfig, codex_env
from ..errors import SessionStoreError
from ..events import (
    CanonicalEvent,
    ErrorEvent,
    MessageEnd,
    TextDelta,
    Usage,
    WarningEvent,
)
from ..process import (
    StderrTail,
    exited,
    release_pipes,
    signal_group,
    spawn,
    terminate_group,
    write_and_close,
)
from ..sessions import SessionStore, ThreadRecord
from .clock import Stop, TurnClock
from .inputs import turn_end
from .messages import binary_help, stderr_tail_text, stop_event
from .mirror import RolloutPosition, mirror_turn, start_position
from .request import TurnLimits, TurnRequest

if TYPE_CHECKING:
    from .mapper import TurnMapper

log = logging.getLogger(__name__)
T = TypeVar("T")

# What codex prints on stderr when `exec resume` finds no rollout for the thread.
NO_ROLLOUT = "no rollout found"


async def off_loop(fn: Callable[..., T], *args: Any) -> T:
    """`fn(*args)` in a worker thread: the session file's fsyncs and the rollout read block for
    milliseconds, and other turns of this process must keep streaming meanwhile (32 concurrent
    turns spent 40% of their loop time in fsync). A cancelled caller still waits for the thread,
    so the turn's workspace lock is never released under a write in progress."""
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


def signal_text(number: int) -> str:
    """`signal 9 (SIGKILL)`; a real-time or unknown signal has no name: `signal 40`."""
    try:
        return f"signal {number} ({signal.Signals(number).name})"
    except ValueError:
        return f"signal {number}"


def prompt_for_log(prompt: str, *, verbatim: bool) -> str:
    """The prompt for the debug log: its length and a digest, unless the operator opted in."""
    if verbatim:
        return repr(prompt)
    digest = hashlib.sha256(prompt.encode("utf-8", "surrogatepass")).hexdigest()[:16]
    return f"{len(prompt)} characters, sha256 {digest} (set `log_prompts` to log the text)"


@dataclass
class Attempt:
    """The state of one attempt: what it was started with, then what codex has said so far."""

    config: HostConfig
    request: TurnRequest
    limits: TurnLimits
    clock: TurnClock
    store: SessionStore
    record: ThreadRecord | None  # the thread to resume; None starts a new one
    model_arg: str | None
    extra_args: tuple[str, ...] = ()  # the turn's MCP options, effort and codex options
    turn_args: tuple[str, ...] = ()  # the turn's `--output-schema`/`--image`: after `resume`
    on_spawn: Callable[[int], None] = lambda pid: None
    mapper: TurnMapper = field(init=False)
    thread_id: str | None = field(default=None, init=False)
    fresh_thread: bool = field(init=False)
    start: RolloutPosition = field(default=RolloutPosition(None, 0), init=False)
    last_text: str | None = field(default=None, init=False)  # the final agent message so far
    prompt_error: BaseException | None = field(default=None, init=False)
    # The save of a newly announced thread runs while codex streams on (its fsyncs took ~20 ms on
    # a busy disk and held back every event behind them); it is awaited before the final save.
    pending_save: asyncio.Future[None] | None = field(default=None, init=False)

    def __post_init__(self) -> None:
        self.fresh_thread = self.record is None

    async def run(self) -> AsyncGenerator[CanonicalEvent | ThreadLost, None]:
        """The attempt's events; the last is terminal, or a `ThreadLost`."""
        config, request, record = self.config, self.request, self.record
        argv = build_exec_argv(
            config.binary,
            resume_thread_id=record.thread_id if record else None,
            model_arg=self.model_arg,
            extra_args=[*config.extra_args, *self.extra_args],
            turn_args=self.turn_args,
        )
        log.debug("starting %s in %s", redact_argv(argv), request.workspace)
        prompt = request.prompt.encode("utf-8")  # checked by the turn before anything started
        log.debug("prompt: %s", prompt_for_log(request.prompt, verbatim=config.log_prompts))
        # Before codex starts: once it runs it appends this turn's lines to the same file.
        self.start = start_position(config, record)
        try:
            proc = await spawn(argv, cwd=request.workspace, env=codex_env(config))
        except (FileNotFoundError, PermissionError, NotADirectoryError) as exc:
            yield ErrorEvent("binary_not_found", binary_help(config, exc))
            return
        except OSError as exc:
            yield ErrorEvent("spawn", f"could not start codex ({config.binary}): {exc}")
            return
        # From here on codex runs: every step sits inside this try, so none can skip the teardown.
        helpers: list[asyncio.Task[None]] = []
        try:
            self.on_spawn(proc.pid)
            # Imported only now, so a cold `say` loads the stream machinery while codex starts up.
            from .mapper import TurnMapper

            self.mapper = TurnMapper(previous_total=record.usage_total if record else Usage())
            stderr = StderrTail()
            helpers.append(asyncio.create_task(self._feed(proc, prompt)))
            helpers.append(asyncio.create_task(stderr.drain(proc.stderr)))
            try:
                async with contextlib.aclosing(self._stream(proc)) as stream:
                    async for event in stream:
                        yield event
            except Stop as stop:
                for event in self.mapper.finish():
                    yield event
                await terminate_group(proc, grace_s=self.limits.kill_grace_s)
                async for event in self._mirror():
                    yield event
                yield stop_event(config, stop.code)
                return
            for event in self.mapper.finish():
                yield event
            await self._wait_exit(proc)
            await asyncio.wait(helpers, timeout=1.0)
            async for event in self._mirror():
                yield event
            final = self._finish(proc, stderr)
            for end in turn_end(final, request.output_schema, self.last_text):
                yield end
        finally:
            for task in helpers:
                task.cancel()
            try:
                # Stops codex if it still runs, reaps it, and sweeps what it left in its group.
                await terminate_group(proc, grace_s=self.limits.kill_grace_s)
                release_pipes(proc)
            except BaseException:
                # Even a failing (or cancelled) graceful stop leaves no process behind.
                signal_group(proc.pid, signal.SIGKILL)
                raise
            finally:
                if self.pending_save is not None:  # the workspace lock must outlive the write
                    with contextlib.suppress(Exception):
                        await self.pending_save

    async def _feed(self, proc: asyncio.subprocess.Process, prompt: bytes) -> None:
        """Write the prompt and close stdin; if that fails, stop codex rather than let it wait
        for EOF forever (or answer half a prompt)."""
        try:
            await write_and_close(proc, prompt)
        except BaseException as exc:
            self.prompt_error = exc
            signal_group(proc.pid, signal.SIGKILL)
            raise

    async def _stream(
        self, proc: asyncio.subprocess.Process
    ) -> AsyncGenerator[CanonicalEvent, None]:
        from ..codex.exec_stream import ThreadStarted
        from .stream import stream_events

        stream_gen = stream_events(
            proc,
            self.mapper,
            self.clock,
            max_line_bytes=self.limits.max_line_bytes,
            post_exit_drain_s=self.limits.post_exit_drain_s,
            kill_grace_s=self.limits.kill_grace_s,
        )
        async with contextlib.aclosing(stream_gen) as stream:
            async for item in stream:
                if isinstance(item, ThreadStarted):
                    async for event in self._thread_started(item.thread_id):
                        yield event
                else:
                    if isinstance(item, TextDelta):
                        self.last_text = item.text
                    yield item

    async def _wait_exit(self, proc: asyncio.subprocess.Process) -> None:
        exit_task = asyncio.create_task(exited(proc))
        try:
            await self.clock.wait(exit_task, idle=False)
        except Stop:
            await terminate_group(proc, grace_s=self.limits.kill_grace_s)
        finally:
            exit_task.cancel()

    async def _thread_started(self, thread_id: str) -> AsyncIterator[CanonicalEvent]:
        record = self.record
        self.thread_id = thread_id
        self.fresh_thread = record is None or thread_id != record.thread_id
        if record is not None and thread_id != record.thread_id:
            yield WarningEvent(
                f"codex started a new thread {thread_id} instead of resuming "
                f"{record.thread_id}; the earlier conversation is not in its context"
            )
        if not is_plain_id(thread_id):
            yield WarningEvent(
                f"codex reported thread id {thread_id!r}, which is not a plain id; it is not "
                "stored, so the next turn of this session starts a new thread"
            )
            return
        if record is None or thread_id != record.thread_id:
            put = off_loop(
                self.store.put, self.request.session_id, ThreadRecord(thread_id, self.model_arg)
            )
            self.pending_save = asyncio.ensure_future(put)

    async def _mirror(self) -> AsyncIterator[CanonicalEvent]:
        """This turn's tool calls from the rollout; then the thread's record is updated."""
        from .mapper import Completed

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
        start = self.start if same_thread else RolloutPosition(None, 0)
        events, position = await off_loop(mirror_turn, self.config, thread_id, start)
        for event in events:
            yield event
        outcome = self.mapper.outcome
        if isinstance(outcome, Completed):
            usage_total = outcome.thread_usage
        else:
            usage_total = record.usage_total if record is not None and same_thread else Usage()
        path = str(position.path) if position.path is not None else None
        saved = ThreadRecord(thread_id, self.model_arg, usage_total, path, position.offset)
        async for event in self._save(saved):
            yield event

    async def _save(self, record: ThreadRecord) -> AsyncIterator[CanonicalEvent]:
        """Store the session's thread; a failure costs a warning, not the turn."""
        try:
            await off_loop(self.store.put, self.request.session_id, record)
        except (SessionStoreError, OSError) as exc:
            yield self._save_failed(record.thread_id, exc)

    def _save_failed(self, thread_id: str, exc: Exception) -> WarningEvent:
        return WarningEvent(
            f"could not store codex thread {thread_id} for session "
            f"{self.request.session_id!r} ({exc}); the next turn may start a new thread"
        )

    def _finish(
        self, proc: asyncio.subprocess.Process, stderr: StderrTail
    ) -> CanonicalEvent | ThreadLost:
        """The attempt's last word once codex has exited: terminal event, or `ThreadLost`."""
        from .mapper import Completed, Failed, classify_failure

        outcome, thread_id = self.mapper.outcome, self.thread_id
        if isinstance(outcome, Completed) and thread_id is not None:
            usage = outcome.thread_usage if self.fresh_thread else outcome.turn_usage
            return MessageEnd(thread_id=thread_id, usage=usage, thread_usage=outcome.thread_usage)
        if isinstance(outcome, Completed):
            return ErrorEvent(
                "protocol",
                "codex reported turn.completed but never thread.started, so the turn has no "
                "thread id and the session cannot continue it. Check that `binary` is codex "
                "(`codex --version`).",
            )
        if isinstance(outcome, Failed):
            code, message = classify_failure(outcome.message)
            return ErrorEvent(code, message)
        if self.prompt_error is not None:
            return ErrorEvent(
                "spawn",
                f"the prompt could not be written to codex's stdin ({self.prompt_error!r}); "
                "codex was stopped before it could answer",
            )
        tail = stderr.text().strip()
        returncode = proc.returncode
        if self.record is not None and thread_id is None and NO_ROLLOUT in tail:
            return ThreadLost(self.record.thread_id)
        if returncode is not None and returncode != 0:
            how = (
                f"was killed by {signal_text(-returncode)}"
                if returncode < 0
                else f"exited with code {returncode}"
            )
            return ErrorEvent("exit", f"codex {how} before the turn ended.{stderr_tail_text(tail)}")
        return ErrorEvent(
            "protocol",
            "codex exited without reporting the end of the turn (no turn.completed or "
            f"turn.failed).{stderr_tail_text(tail)}",
        )
