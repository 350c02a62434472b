"""One turn: spawn `codex exec [resume]`, stream its events, end with exactly one terminal event.

Use it as an async context manager, so a caller that stops early cannot orphan codex:

    async with open_turn(config, TurnRequest(prompt="hi", workspace=ws)) as turn:
        async for event in turn:
            ...

`turn.cancel()` (from any task) ends it with `error{code: cancelled}`. The workspace lock is held
for the whole turn; the thread id is stored as soon as codex announces it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
from collections.abc import AsyncGenerator, Iterator
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

from .bridge.errors import BridgeError
from .bridge.spec import ToolCallback, ToolSpec
from .codex.argv import build_exec_argv, redact_argv
from .codex.exec_stream import ThreadStarted
from .config import DEFAULT_MODEL, HostConfig
from .errors import ConfigError, SessionStoreError
from .events import CanonicalEvent, ErrorEvent, MessageEnd, Usage, WarningEvent
from .mapper import Completed, Failed, TurnMapper, classify_failure
from .process import StderrTail, spawn, terminate_group, write_and_close
from .sessions import SessionStore, ThreadRecord, acquire_workspace_lock, is_plain_id
from .thread_mirror import RolloutPosition, mirror_turn, start_position
from .turn_messages import binary_help, stderr_tail_text, stop_event
from .turn_stream import Stop, TurnClock, stream_events

log = logging.getLogger(__name__)

NO_ROLLOUT = "no rollout found"


@dataclass(frozen=True)
class TurnLimits:
    """Mechanics a host rarely changes (tests shrink them)."""

    max_line_bytes: int = 64 * 1024 * 1024  # a 1 MiB command_execution line is normal
    kill_grace_s: float = 3.0  # SIGTERM -> SIGKILL
    post_exit_drain_s: float = 2.0  # stdout read after codex exits (a child may hold it open)


@dataclass(frozen=True)
class TurnRequest:
    """One turn. `tools` are offered to codex over MCP; codex's calls go to `call_tool`."""

    prompt: str
    workspace: Path
    session_id: str = "default"
    model: str = DEFAULT_MODEL
    agent_id: str = "cli"
    tools: tuple[ToolSpec, ...] = ()
    call_tool: ToolCallback | None = None


class Turn:
    """A running turn. Iterate it once; leaving the `async with` ends codex if it still runs."""

    def __init__(
        self, config: HostConfig, request: TurnRequest, limits: TurnLimits | None = None
    ) -> None:
        self.config = config
        self.request = request
        self.limits = limits or TurnLimits()
        self._clock = TurnClock(
            turn_timeout_s=config.turn_timeout_s, idle_timeout_s=config.idle_timeout_s
        )
        self._events: AsyncGenerator[CanonicalEvent, None] | None = None
        self._fresh_retry = False
        self._codex_pid: int | None = None
        self._mcp_args: list[str] = []

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

    # -- the turn ------------------------------------------------------------------------------

    async def _run(self) -> AsyncGenerator[CanonicalEvent, None]:
        self._clock.start()
        request = self.request
        try:
            model_arg = self.config.model_arg(request.model)
        except ConfigError as exc:
            yield ErrorEvent("config", str(exc))
            return
        if not request.workspace.is_dir():
            yield ErrorEvent("config", f"workspace {request.workspace} is not a directory")
            return
        lock_task = asyncio.create_task(acquire_workspace_lock(request.workspace))
        try:
            await self._clock.wait(lock_task, idle=False)
        except Stop as stop:
            lock_task.cancel()
            with contextlib.suppress(BaseException):
                os.close(await lock_task)
            yield stop_event(self.config, stop.code, waiting_for_lock=True)
            return
        try:
            lock_fd = lock_task.result()
        except OSError as exc:
            yield ErrorEvent(
                "session_store",
                f"cannot lock the workspace {request.workspace} ({exc}); the plugin needs to "
                "write `.plexum-codex-session` there",
            )
            return
        try:
            store = SessionStore(request.workspace)
            try:
                record = store.get(request.session_id)
            except SessionStoreError as exc:
                yield ErrorEvent("session_store", str(exc))
                return
            if record is not None and record.model_arg != model_arg:
                yield WarningEvent(
                    f"session {request.session_id!r} continues codex thread {record.thread_id}, "
                    f"started with --model {record.model_arg or '(codex default)'}; that model is "
                    "kept for the thread (a switch would make codex compact it). Use a new "
                    "session for another model."
                )
                model_arg = record.model_arg
            async with contextlib.AsyncExitStack() as stack:
                if request.tools:
                    try:
                        self._mcp_args = await stack.enter_async_context(self._offer_tools())
                    except (BridgeError, ConfigError) as exc:
                        yield ErrorEvent("mcp", f"the turn's tools could not be offered: {exc}")
                        return
                async with contextlib.aclosing(self._attempt(store, record, model_arg)) as events:
                    async for event in events:
                        yield event
                if self._fresh_retry:
                    async with contextlib.aclosing(self._attempt(store, None, model_arg)) as events:
                        async for event in events:
                            yield event
        finally:
            os.close(lock_fd)

    async def _attempt(
        self, store: SessionStore, record: ThreadRecord | None, model_arg: str | None
    ) -> AsyncGenerator[CanonicalEvent, None]:
        self._fresh_retry = False
        config, request = self.config, self.request
        argv = build_exec_argv(
            config.binary,
            resume_thread_id=record.thread_id if record else None,
            model_arg=model_arg,
            extra_args=[*config.extra_args, *self._mcp_args],
        )
        env = self._env()
        log.debug("starting %s in %s", redact_argv(argv), request.workspace)
        log.debug("prompt: %r", request.prompt)
        # Before codex starts: once it runs it appends this turn's lines to the same file.
        start = start_position(config, record)
        try:
            proc = await spawn(argv, cwd=request.workspace, env=env)
        except (FileNotFoundError, PermissionError, NotADirectoryError) as exc:
            yield ErrorEvent("binary_not_found", binary_help(self.config, exc))
            return
        except OSError as exc:
            yield ErrorEvent("spawn", f"could not start codex ({config.binary}): {exc}")
            return
        self._codex_pid = proc.pid

        stderr = StderrTail()
        helpers = [
            asyncio.create_task(write_and_close(proc, request.prompt.encode("utf-8"))),
            asyncio.create_task(stderr.drain(proc.stderr)),
        ]
        mapper = TurnMapper(previous_total=record.usage_total if record else Usage())
        thread_id: str | None = None
        fresh_thread = record is None
        try:
            try:
                stream_gen = stream_events(
                    proc,
                    mapper,
                    self._clock,
                    max_line_bytes=self.limits.max_line_bytes,
                    post_exit_drain_s=self.limits.post_exit_drain_s,
                )
                async with contextlib.aclosing(stream_gen) as stream:
                    async for item in stream:
                        if isinstance(item, ThreadStarted):
                            thread_id = item.thread_id
                            fresh_thread = record is None or thread_id != record.thread_id
                            for event in self._thread_started(store, record, model_arg, item):
                                yield event
                        else:
                            yield item
            except Stop as stop:
                for event in mapper.finish():
                    yield event
                await terminate_group(proc, grace_s=self.limits.kill_grace_s)
                for event in self._mirror(store, record, model_arg, mapper, thread_id, start):
                    yield event
                yield stop_event(self.config, stop.code)
                return
            for event in mapper.finish():
                yield event
            await self._wait_exit(proc)
            await asyncio.wait(helpers, timeout=1.0)
            for event in self._mirror(store, record, model_arg, mapper, thread_id, start):
                yield event
            for event in self._finish(record, mapper, proc, stderr, thread_id, fresh_thread):
                yield event
        finally:
            for task in helpers:
                task.cancel()
            # Stops codex if it still runs, reaps it, and sweeps what it left in its group.
            await terminate_group(proc, grace_s=self.limits.kill_grace_s)

    async def _wait_exit(self, proc: asyncio.subprocess.Process) -> None:
        exit_task = asyncio.create_task(proc.wait())
        try:
            await self._clock.wait(exit_task, idle=False)
        except Stop:
            await terminate_group(proc, grace_s=self.limits.kill_grace_s)
        finally:
            exit_task.cancel()

    def _thread_started(
        self,
        store: SessionStore,
        record: ThreadRecord | None,
        model_arg: str | None,
        started: ThreadStarted,
    ) -> Iterator[CanonicalEvent]:
        thread_id = started.thread_id
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
            yield from self._save(store, ThreadRecord(thread_id, model_arg))

    def _mirror(
        self,
        store: SessionStore,
        record: ThreadRecord | None,
        model_arg: str | None,
        mapper: TurnMapper,
        thread_id: str | None,
        start: RolloutPosition,
    ) -> Iterator[CanonicalEvent]:
        """This turn's tool calls from the rollout; then the thread's record is updated."""
        if thread_id is None or not is_plain_id(thread_id):
            return
        same_thread = record is not None and record.thread_id == thread_id
        if not same_thread:
            start = RolloutPosition(None, 0)
        events, position = mirror_turn(self.config, thread_id, start)
        yield from events
        outcome = mapper.outcome
        if isinstance(outcome, Completed):
            usage_total = outcome.thread_usage
        else:
            usage_total = record.usage_total if record is not None and same_thread else Usage()
        path = str(position.path) if position.path is not None else None
        yield from self._save(
            store, ThreadRecord(thread_id, model_arg, usage_total, path, position.offset)
        )

    def _save(self, store: SessionStore, record: ThreadRecord) -> Iterator[CanonicalEvent]:
        """Store the session's thread; a failure costs a warning, not the turn."""
        try:
            store.put(self.request.session_id, record)
        except (SessionStoreError, OSError) as exc:
            yield WarningEvent(
                f"could not store codex thread {record.thread_id} for session "
                f"{self.request.session_id!r} ({exc}); the next turn may start a new thread"
            )

    def _finish(
        self,
        record: ThreadRecord | None,
        mapper: TurnMapper,
        proc: asyncio.subprocess.Process,
        stderr: StderrTail,
        thread_id: str | None,
        fresh_thread: bool,
    ) -> Iterator[CanonicalEvent]:
        outcome = mapper.outcome
        if isinstance(outcome, Completed) and thread_id is not None:
            usage = outcome.thread_usage if fresh_thread else outcome.turn_usage
            yield MessageEnd(thread_id=thread_id, usage=usage, thread_usage=outcome.thread_usage)
            return
        if isinstance(outcome, Failed):
            code, message = classify_failure(outcome.message)
            yield ErrorEvent(code, message)
            return
        tail = stderr.text().strip()
        returncode = proc.returncode
        if record is not None and thread_id is None and NO_ROLLOUT in tail:
            yield WarningEvent(
                f"codex no longer has thread {record.thread_id} (no rollout found in its "
                "CODEX_HOME); starting a new thread — the earlier conversation is not in its "
                "context"
            )
            self._fresh_retry = True
            return
        if returncode is not None and returncode != 0:
            how = (
                f"was killed by signal {signal.Signals(-returncode).name}"
                if returncode < 0
                else f"exited with code {returncode}"
            )
            yield ErrorEvent("exit", f"codex {how} before the turn ended.{stderr_tail_text(tail)}")
            return
        yield ErrorEvent(
            "protocol",
            "codex exited without reporting the end of the turn (no turn.completed or "
            f"turn.failed).{stderr_tail_text(tail)}",
        )

    def _env(self) -> dict[str, str]:
        env = dict(os.environ)
        if self.config.codex_home:
            env["CODEX_HOME"] = self.config.codex_home
        return env

    def _offer_tools(self) -> contextlib.AbstractAsyncContextManager[list[str]]:
        from .turn_tools import offer_tools  # imports the `mcp` SDK: only for turns with tools

        request = self.request
        if request.call_tool is None:
            raise ConfigError("a turn with tools needs a `call_tool` callback")
        return offer_tools(
            self.config,
            request.agent_id,
            request.tools,
            request.call_tool,
            codex_pid=lambda: self._codex_pid,
            env=self._env(),
        )


def open_turn(config: HostConfig, request: TurnRequest, limits: TurnLimits | None = None) -> Turn:
    return Turn(config, request, limits)


async def run_turn(
    config: HostConfig, request: TurnRequest, limits: TurnLimits | None = None
) -> list[CanonicalEvent]:
    """Run a turn to its end and return all its events (the last one is terminal)."""
    async with open_turn(config, request, limits) as turn:
        return [event async for event in turn]
