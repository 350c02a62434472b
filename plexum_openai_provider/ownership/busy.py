"""Is a thread free for another codex process: codex's writer lock, and (codex 0.135 takes no
lock) another process writing its rollout. `held_by` answers with the holders (empty: free);
`busy_before_resume` is the check a turn makes before it starts codex on a thread (a cold `say`'s
head start too, before asyncio has loaded); `wait_free` polls `held_by` for a bounded time;
`busy_message` is what a `thread_busy` error says."""

from __future__ import annotations

import os
import time
from collections.abc import Iterable
from pathlib import Path

from ..codex.rollout import locate_rollout
from . import codex_locks_threads
from .holders import Holder, describe, lock_holders, opened_by
from .writer_lock import is_held, lock_path

_POLL_S = 0.05


def held_by(
    codex_home: Path, thread_id: str, rollout: Path | None, *, exclude: Iterable[int] = ()
) -> tuple[Holder, ...] | None:
    """Who holds the thread now: None when it is free, else the holders (possibly unnamed).

    The writer lock is asked without being taken (a codex must never see our probe); only where
    no codex ≥ 0.150 ever ran (no lock folder) are the rollout's writers looked up in /proc.
    """
    if codex_locks_threads(codex_home):
        if is_held(codex_home, thread_id):
            return lock_holders(lock_path(codex_home, thread_id))
        return None
    if rollout is None:
        return None
    writers = opened_by(rollout, exclude=(os.getpid(), *exclude), writers_only=True)
    return writers or None


def busy_before_resume(
    codex_home: Path, thread_id: str, remembered: Path | None
) -> tuple[Holder, ...] | None:
    """Who else holds a thread about to be resumed (None: nobody seen), asked only where codex
    cannot say it itself: no codex ≥ 0.150 ever ran in this CODEX_HOME (no lock folder), so
    another process writing the rollout is the only sign (codex 0.135). Where codex takes its
    lock, it refuses a held thread itself (its writer-conflict text: see `codex/writer_conflict`).
    `remembered` is the session file's rollout path (untrusted: `locate_rollout` checks it)."""
    if codex_locks_threads(codex_home):
        return None
    rollout = locate_rollout(codex_home, thread_id, remembered=remembered)
    return held_by(codex_home, thread_id, rollout)


async def wait_free(
    codex_home: Path,
    thread_id: str,
    rollout: Path | None,
    *,
    wait_s: float,
    exclude: Iterable[int] = (),
    poll_s: float = _POLL_S,
) -> tuple[Holder, ...] | None:
    """None once the thread is free (within `wait_s`), else who still holds it."""
    import asyncio  # here: a cold `say`'s head start imports this module before asyncio loads

    deadline = time.monotonic() + wait_s
    skip = tuple(exclude)
    while True:
        holders = await asyncio.to_thread(held_by, codex_home, thread_id, rollout, exclude=skip)
        if holders is None or time.monotonic() >= deadline:
            return holders
        await asyncio.sleep(poll_s)


def busy_message(thread_id: str, session_id: str, holders: Iterable[Holder]) -> str:
    """The `thread_busy` error's text: who holds the thread and what to do."""
    holders = tuple(holders)
    hint = ""
    if any("app-server" in (h.command or "") for h in holders):
        hint = " (a codex app-server gives an idle thread back by itself: this plugin's after "
        hint += "`idle_unload_s`)"
    return (
        f"codex thread {thread_id} of session {session_id!r} is in use by {describe(holders)}: "
        "codex lets one process write a thread at a time. Nothing was changed; retry when that "
        f"process is done{hint} (or set `busy_wait_s` in config.json to wait for it)."
    )
