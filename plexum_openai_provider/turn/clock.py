"""The turn's clock: its total and idle deadlines, and the host's cancel switch.

The idle deadline is reset by every stdout line but codex's `Reconnecting…` notices, and does not
run while a command or MCP call is in progress. A limit that runs out raises `Stop`.
"""

from __future__ import annotations

import asyncio
from typing import Any


class Stop(Exception):
    """The turn must stop early for `code`: cancelled, timeout or idle_timeout.

    Control flow inside a turn, never seen by a user (the turn makes it its terminal event), so it
    lives here and not in the package's error tree.
    """

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


class TurnClock:
    """The deadlines of one turn, and its cancel switch (usable from any task)."""

    def __init__(self, *, turn_timeout_s: float, idle_timeout_s: float) -> None:
        self._turn_timeout_s = turn_timeout_s
        self._idle_timeout_s = idle_timeout_s
        self._cancelled = asyncio.Event()
        self._settled = False
        self._deadline = 0.0
        self.last_progress = 0.0

    def start(self) -> None:
        now = asyncio.get_running_loop().time()
        self._deadline = now + self._turn_timeout_s
        self.last_progress = now

    def cancel(self) -> bool:
        """Stop the turn; False when it comes too late to change its outcome (`settle`)."""
        self._cancelled.set()
        return not self._settled

    def settle(self) -> None:
        """codex has ended the turn: its outcome is decided, and a cancel changes nothing."""
        self._settled = True

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
