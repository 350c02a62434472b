"""Reading one codex process's stdout under the turn's clock.

`TurnClock` owns the turn's limits: the total deadline, the idle deadline (reset by every stdout
line but codex's `Reconnecting…` notices, and not running while a command or MCP call is in
progress) and the host's cancel. `stream_events` frames and maps stdout until EOF; both raise
`Stop` when a limit runs out, and the runner turns that into the terminal event.
"""

from __future__ import annotations

import asyncio
import signal
from collections.abc import AsyncGenerator
from typing import Any

from .codex.exec_stream import ThreadStarted, is_reconnect_notice, parse_exec_line
from .codex.framing import LineFramer, OversizedLine
from .events import CanonicalEvent, WarningEvent
from .mapper import TurnMapper
from .process import signal_group

READ_CHUNK = 256 * 1024


class Stop(Exception):
    """The turn must stop early for `code`: cancelled, timeout or idle_timeout."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


class TurnClock:
    """The deadlines of one turn, and its cancel switch (usable from any task)."""

    def __init__(self, *, turn_timeout_s: float, idle_timeout_s: float) -> None:
        self._turn_timeout_s = turn_timeout_s
        self._idle_timeout_s = idle_timeout_s
        self._cancelled = asyncio.Event()
        self._deadline = 0.0
        self.last_progress = 0.0

    def start(self) -> None:
        now = asyncio.get_running_loop().time()
        self._deadline = now + self._turn_timeout_s
        self.last_progress = now

    def cancel(self) -> None:
        self._cancelled.set()

    def progress(self) -> None:
        self.last_progress = asyncio.get_running_loop().time()

    async def wait(
        self,
        task: asyncio.Future[Any],
        *,
        idle: bool,
        also: asyncio.Future[Any] | None = None,
        limit: float | None = None,
    ) -> None:
        """Wait for `task` (or `also`, or until `limit`); raise Stop when a turn limit is hit."""
        loop = asyncio.get_running_loop()
        idle_deadline = self.last_progress + self._idle_timeout_s
        deadline = min(self._deadline, idle_deadline) if idle else self._deadline
        if limit is not None:
            deadline = min(deadline, limit)
        cancel = asyncio.create_task(self._cancelled.wait())
        waiting: set[asyncio.Future[Any]] = {task, cancel}
        if also is not None and also.done():
            also = None  # already seen by the caller: do not wake up for it again
        if also is not None:
            waiting.add(also)
        try:
            await asyncio.wait(
                waiting, timeout=max(0.0, deadline - loop.time()), return_when="FIRST_COMPLETED"
            )
        finally:
            cancel.cancel()
        if task.done() or (also is not None and also.done()):
            return
        if self._cancelled.is_set():
            raise Stop("cancelled")
        now = loop.time()
        if now >= self._deadline:
            raise Stop("timeout")
        if idle and now >= idle_deadline:
            raise Stop("idle_timeout")
        # Only `limit` passed: the caller decides.


async def stream_events(
    proc: asyncio.subprocess.Process,
    mapper: TurnMapper,
    clock: TurnClock,
    *,
    max_line_bytes: int,
    post_exit_drain_s: float,
) -> AsyncGenerator[CanonicalEvent | ThreadStarted, None]:
    """Canonical events (and `ThreadStarted`) from codex's stdout until EOF; raises Stop."""
    assert proc.stdout is not None
    loop = asyncio.get_running_loop()
    framer = LineFramer(max_line_bytes)
    exit_task = asyncio.create_task(proc.wait())
    # After codex exits, a child it left behind may still hold stdout open: read what is
    # buffered for `post_exit_drain_s`, then kill the group so the pipe closes.
    drain_until: float | None = None
    clock.progress()
    try:
        while True:
            read = asyncio.create_task(proc.stdout.read(READ_CHUNK))
            try:
                while not read.done():
                    await clock.wait(read, idle=not mapper.busy, also=exit_task, limit=drain_until)
                    if exit_task.done() and drain_until is None and not read.done():
                        drain_until = loop.time() + post_exit_drain_s
                    elif drain_until is not None and loop.time() >= drain_until:
                        signal_group(proc.pid, signal.SIGKILL)
                        drain_until = float("inf")
            finally:
                if not read.done():
                    read.cancel()
            chunk = read.result()
            for line in framer.feed(chunk) if chunk else framer.finish():
                for out in _map_line(line, mapper, clock, max_line_bytes):
                    yield out
            if not chunk:
                return
    finally:
        exit_task.cancel()


def _map_line(
    line: bytes | OversizedLine, mapper: TurnMapper, clock: TurnClock, max_line_bytes: int
) -> list[CanonicalEvent | ThreadStarted]:
    if isinstance(line, OversizedLine):
        clock.progress()
        return [
            WarningEvent(
                f"skipped a line of {line.size} bytes from codex: longer than the "
                f"{max_line_bytes} byte limit"
            )
        ]
    event = parse_exec_line(line)
    if not is_reconnect_notice(event):
        clock.progress()
    out: list[CanonicalEvent | ThreadStarted] = []
    if isinstance(event, ThreadStarted):
        out.append(event)
    out.extend(mapper.feed(event))
    return out
