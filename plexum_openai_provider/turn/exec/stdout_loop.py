"""The stdout loop: one codex process's stdout, framed and mapped, under the turn's clock.

`stream_events` reads until EOF (or, once codex has exited, for a bounded time), feeding every
line to the clock (progress) and the mapper; it raises `Stop` (see `clock`) when a limit runs
out, and the turn turns that into the terminal event.
"""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import AsyncGenerator

from ...codex.exec_stream import ThreadStarted, is_reconnect_notice, parse_exec_line
from ...events import CanonicalEvent, WarningEvent
from ...jsonrpc.framing import LineFramer, OversizedLine
from ...process import exited, signal_group
from ..clock import TurnClock
from .mapper import TurnMapper

READ_CHUNK = 256 * 1024
log = logging.getLogger(__name__)


async def stream_events(
    proc: asyncio.subprocess.Process,
    mapper: TurnMapper,
    clock: TurnClock,
    *,
    max_line_bytes: int,
    post_exit_drain_s: float,
    kill_grace_s: float,
) -> AsyncGenerator[CanonicalEvent | ThreadStarted, None]:
    """Canonical events (and `ThreadStarted`) from codex's stdout until EOF; raises Stop.

    Once codex has exited the stream ends within `post_exit_drain_s + kill_grace_s`, EOF or not.
    """
    assert proc.stdout is not None
    loop = asyncio.get_running_loop()
    framer = LineFramer(max_line_bytes)
    exit_task = asyncio.create_task(exited(proc))
    # After codex exits, a child it left behind may still hold stdout open: read what is
    # buffered for `post_exit_drain_s`, then kill the group so the pipe closes. A holder outside
    # the group (its own session) survives that: after `kill_grace_s` more, stop reading.
    drain_until: float | None = None
    killed = False
    clock.progress()
    try:
        while True:
            read = asyncio.create_task(proc.stdout.read(READ_CHUNK))
            try:
                while not read.done():
                    await clock.wait(read, idle=not mapper.busy, also=exit_task, limit=drain_until)
                    if read.done():
                        break
                    if exit_task.done() and drain_until is None:
                        drain_until = loop.time() + post_exit_drain_s
                    elif drain_until is not None and loop.time() >= drain_until:
                        if killed:
                            log.warning(
                                "codex (pid %s) exited, but a process outside its group still "
                                "holds its stdout open; stopped reading it",
                                proc.pid,
                            )
                            break
                        signal_group(proc.pid, signal.SIGKILL)
                        killed = True
                        drain_until = loop.time() + kill_grace_s
            finally:
                if not read.done():
                    read.cancel()
            chunk = read.result() if read.done() and not read.cancelled() else b""
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
