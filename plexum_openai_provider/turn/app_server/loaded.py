"""Which threads a warm app-server of ANY plugin process has loaded: one shared flock per thread.

A server holds a shared lock on `$CODEX_HOME/plexum-loaded/<thread id>.lock` while the thread is
loaded in it (`mark`), and drops it when the thread is unloaded or the server ends (`release`);
locks die with their process, so a crashed plugin leaves none. `held_elsewhere` tries an exclusive
lock: consume uses it to refuse rewriting a rollout another process's app-server holds open.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

from ...codex.thread_id import is_plain_id

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
    try:
        fd = _open(codex_home, thread_id)
    except FileNotFoundError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)
    return False
