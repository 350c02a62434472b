"""Which threads a warm app-server of ANY plugin process has loaded: one shared flock per thread.

A server holds a shared lock on `$CODEX_HOME/plexum-loaded/<thread id>.lock` while the thread is
loaded in it (`mark`), and drops it when the thread is unloaded or the server ends (`release`);
locks die with their process, so a crashed plugin leaves none. `held_elsewhere` tries an exclusive
lock: consume uses it to refuse rewriting a rollout another process's app-server holds open.
`<thread id>.archived` is there from just before this plugin asks codex to archive a thread until
it is unarchived again: a thread found archived with it is ours to recover, even after a restart.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from pathlib import Path

from ...codex.thread_id import is_plain_id
from ...ownership.writer_lock import flock_held

FOLDER = "plexum-loaded"


def _lock_path(codex_home: Path, thread_id: str) -> Path:
    if not is_plain_id(thread_id):
        raise ValueError(f"not a plain thread id: {thread_id!r}")
    return codex_home / FOLDER / f"{thread_id}.lock"


def _open(codex_home: Path, thread_id: str) -> int:
    path = _lock_path(codex_home, thread_id)
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    return os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC | os.O_NOFOLLOW, 0o600)


def mark(codex_home: Path, thread_id: str) -> int:
    """A shared lock held while the thread is loaded; returns its fd (for `release`)."""
    fd = _open(codex_home, thread_id)
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except OSError:
        # Someone is rewriting the rollout right now (consume): the mark waits for it.
        fcntl.flock(fd, fcntl.LOCK_SH)
    return fd


def release(fd: int) -> None:
    os.close(fd)  # closing the fd drops the lock


def held_elsewhere(codex_home: Path, thread_id: str) -> bool:
    """True while some warm app-server (of any process) has the thread loaded."""
    return flock_held(_lock_path(codex_home, thread_id)) is True


def _archived_path(codex_home: Path, thread_id: str) -> Path:
    return _lock_path(codex_home, thread_id).with_suffix(".archived")


def note_archiving(codex_home: Path, thread_id: str) -> None:
    """Written before `thread/archive` is sent (an empty file: nothing to be half-written)."""
    path = _archived_path(codex_home, thread_id)
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_CLOEXEC | os.O_NOFOLLOW, 0o600))


def archived_by_us(codex_home: Path, thread_id: str) -> bool:
    """True while a thread this plugin archived may not be unarchived yet."""
    try:
        return _archived_path(codex_home, thread_id).is_file()
    except (OSError, ValueError):
        return False


def clear_archiving(codex_home: Path, thread_id: str) -> None:
    """The thread is unarchived (or was never archived): nothing to recover."""
    with contextlib.suppress(OSError, ValueError):
        _archived_path(codex_home, thread_id).unlink(missing_ok=True)
