"""The per-thread writer lock real codex keeps from 0.150 on (codex-facts §12), for the fake.

`$CODEX_HOME/thread-writer-locks/<thread>.lock`, an exclusive `flock` held while a thread runs
(exec) or is loaded (app-server); every open, lock and unlink happens under an exclusive `flock` on
`.coordination.lock` beside it, which a second process waits for, while a held thread lock fails at
once (strace and /proc/locks of 0.150.1, 0.169.0, 0.171.0). 0.135 has no lock: `acquire` returns
None there. The texts a refused resume prints are the real ones, per surface (exec, app-server).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import errno
import fcntl
import os
from collections.abc import Iterator
from pathlib import Path

LOCK_DIR = "thread-writer-locks"
COORDINATION = ".coordination.lock"
LOCKS_SINCE_FAMILY = 150
EXEC_EXIT_CODE = 1
APP_SERVER_ERROR_CODE = -32600


def has_writer_lock(family: int) -> bool:
    """0.150.1, 0.169.0 and 0.171.0 lock; 0.135.0 lets two processes write one thread."""
    return family >= LOCKS_SINCE_FAMILY


def conflict_message(thread_id: str) -> str:
    """The JSON-RPC error message of `thread/resume` (app-server, code -32600)."""
    return f"thread {thread_id} already has an active writer"


def exec_stderr_lines(thread_id: str, now: dt.datetime | None = None) -> list[str]:
    """What `codex exec resume` prints on stderr before exiting 1 with an empty stdout."""
    stamp = (now or dt.datetime.now(dt.UTC)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    conflict = f"thread-store conflict: {conflict_message(thread_id)}"
    return [
        f"{stamp} ERROR codex_core::session::session: failed to initialize thread persistence: "
        f"{conflict}",
        f"{stamp} ERROR codex_core::session: Failed to create session: {conflict}",
        f"Error: thread/resume: thread/resume failed: {conflict_message(thread_id)} "
        f"(code {APP_SERVER_ERROR_CODE})",
    ]


class WriterConflict(Exception):
    """Another process holds the thread's writer lock."""

    def __init__(self, thread_id: str) -> None:
        self.thread_id = thread_id
        super().__init__(conflict_message(thread_id))


class ThreadLock:
    """A held writer lock; `release` closes it and removes its file, as codex does on unload."""

    def __init__(self, path: Path, fd: int) -> None:
        self.path = path
        self._fd: int | None = fd

    def release(self) -> None:
        fd, self._fd = self._fd, None
        if fd is None:
            return
        with _coordination(self.path.parent):
            os.close(fd)
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self.path)


@contextlib.contextmanager
def _coordination(folder: Path) -> Iterator[None]:
    fd = os.open(folder / COORDINATION, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o666)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)  # codex waits for this one (held only for a moment)
        yield
    finally:
        os.close(fd)


def acquire(codex_home: Path, thread_id: str, family: int) -> ThreadLock | None:
    """Take the thread's writer lock (None on versions without one); WriterConflict when held."""
    if not has_writer_lock(family):
        return None
    folder = codex_home / LOCK_DIR
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{thread_id}.lock"
    with _coordination(folder):
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o666)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            os.close(fd)
            if exc.errno in (errno.EAGAIN, errno.EACCES):
                raise WriterConflict(thread_id) from None
            raise
    return ThreadLock(path, fd)


DEFAULT_UNLOAD_DELAY_S = 60.0  # measured: 60.2 s on 0.171.0


def unsubscribe_unload_delay(family: int, configured: float | None) -> float | None:
    """Seconds after `thread/unsubscribe` until the thread unloads (and its lock is freed), or
    None when it never does: 0.135 and 0.150 only stop sending notifications; 0.169 and 0.171
    unload after `thread_unload_delay_secs` (default 60 s)."""
    if family < 169:
        return None
    return DEFAULT_UNLOAD_DELAY_S if configured is None else max(0.0, configured)
