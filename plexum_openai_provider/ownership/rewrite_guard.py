"""Consume's promise: no live codex writes a rollout while it is being rewritten.

`hold_for_rewrite` takes codex's writer lock on the thread (from 0.150 no codex can then open it
until `release`) and waits until no other process has the rollout open for writing (0.135 takes no
lock: its open append handle is the only sign). Both within `wait_s`; past it, a `Refusal` names
who holds the thread. Unprotected, 0.135 only: a codex that opens the thread after the check and
before the rename (a few milliseconds) — see docs/sharing-codex-home.md.
"""

from __future__ import annotations

import asyncio
import os
import time
from dataclasses import dataclass
from pathlib import Path

from .holders import Holder, describe, opened_by
from .writer_lock import Busy, WriterLock, take

_POLL_S = 0.02


@dataclass(frozen=True)
class Refusal:
    """The thread stayed held past the wait: by its writer lock, or by a process writing it."""

    thread_id: str
    how: str  # "writer-lock" | "open"
    holders: tuple[Holder, ...]

    def describe(self) -> str:
        return describe(self.holders)


async def hold_for_rewrite(
    codex_home: Path,
    thread_id: str,
    rollout: Path,
    *,
    wait_s: float,
    exclude: tuple[int, ...] = (),
    poll_s: float = _POLL_S,
) -> WriterLock | Refusal:
    """The thread's writer lock with nobody else writing `rollout`, or a `Refusal` after `wait_s`
    (this process and `exclude` do not count as writers). OSError: the lock folder is unusable."""
    deadline = time.monotonic() + wait_s
    got = await take(codex_home, thread_id, wait_s=wait_s, poll_s=poll_s)
    if isinstance(got, Busy):
        return Refusal(thread_id, "writer-lock", got.holders)
    skip = (os.getpid(), *exclude)
    try:
        while True:
            writers = await asyncio.to_thread(opened_by, rollout, exclude=skip, writers_only=True)
            if not writers:
                return got
            if time.monotonic() >= deadline:
                got.release()
                return Refusal(thread_id, "open", writers)
            await asyncio.sleep(poll_s)
    except BaseException:
        got.release()
        raise
