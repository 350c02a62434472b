"""codex's per-thread writer lock (codex ≥ 0.150), taken exactly the way codex takes it.

`$CODEX_HOME/thread-writer-locks/<thread>.lock`, an exclusive `flock` (not fcntl: codex ignores
those) for as long as a codex process runs or has loaded the thread. Every open, lock and unlink of
a thread's file happens under an exclusive `flock` on `.coordination.lock` beside it (strace of
0.150.1 and 0.171.0); codex waits for that one and gives up at once on a held thread lock. `take`
does the same under a deadline, so while it is held no codex can open the thread; `Busy` names who
holds it. A lock file nobody holds is stale (a killed codex): codex takes it over, so does `take`.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from ..codex.thread_id import is_plain_id
from . import LOCK_DIR
from .holders import Holder, describe, lock_holders

COORDINATION = ".coordination.lock"
SUFFIX = ".lock"
_POLL_S = 0.02


def lock_dir(codex_home: Path) -> Path:
    return codex_home / LOCK_DIR


def lock_path(codex_home: Path, thread_id: str) -> Path:
    """The thread's lock file; a thread id that is not plain never becomes a path."""
    if not is_plain_id(thread_id):
        raise ValueError(f"not a plain thread id: {thread_id!r}")
    return lock_dir(codex_home) / f"{thread_id}{SUFFIX}"


@dataclass(frozen=True)
class Busy:
    """The thread's writer lock is held by someone else (`holders` may be empty off Linux)."""

    thread_id: str
    path: Path
    holders: tuple[Holder, ...]

    def describe(self) -> str:
        return describe(self.holders)


class WriterLock:
    """A held writer lock; `release()` gives it back the way codex does (close, then unlink)."""

    def __init__(self, codex_home: Path, thread_id: str, fd: int) -> None:
        self.codex_home = codex_home
        self.thread_id = thread_id
        self.path = lock_path(codex_home, thread_id)
        self._fd: int | None = fd

    @property
    def held(self) -> bool:
        return self._fd is not None

    def release(self) -> None:
        """Idempotent. Under the coordination lock, so no codex opens the file being unlinked;
        if that lock cannot be had at once the file is left behind (stale, harmless)."""
        fd, self._fd = self._fd, None
        if fd is None:
            return
        coordination = _try_coordination(self.codex_home)
        try:
            os.close(fd)
            if coordination is not None:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(self.path)
        finally:
            if coordination is not None:
                os.close(coordination)


def _open_dir(codex_home: Path) -> Path:
    folder = lock_dir(codex_home)
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    return folder


def _try_coordination(codex_home: Path) -> int | None:
    """The coordination lock's fd when it could be had without waiting, else None."""
    try:
        folder = _open_dir(codex_home)
        fd = os.open(folder / COORDINATION, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o666)
    except OSError:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        os.close(fd)
        return None
    return fd


def _try_thread(codex_home: Path, thread_id: str) -> int | None:
    """Under the coordination lock: the thread lock's fd, or None when another holds it."""
    path = lock_path(codex_home, thread_id)
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC | os.O_NOFOLLOW, 0o666)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as exc:
        os.close(fd)
        if exc.errno in (errno.EAGAIN, errno.EACCES):
            return None
        raise
    return fd


def try_take(codex_home: Path, thread_id: str) -> WriterLock | Busy | None:
    """One attempt: the lock, `Busy` (someone holds it), or None (the coordination lock is busy
    for a moment: try again). OSError when the folder cannot be used at all."""
    lock_path(codex_home, thread_id)  # refuse a bad id before touching anything
    _open_dir(codex_home)
    coordination = _try_coordination(codex_home)
    if coordination is None:
        return None
    try:
        fd = _try_thread(codex_home, thread_id)
    finally:
        os.close(coordination)
    if fd is None:
        path = lock_path(codex_home, thread_id)
        return Busy(thread_id, path, lock_holders(path))
    return WriterLock(codex_home, thread_id, fd)


async def take(
    codex_home: Path, thread_id: str, *, wait_s: float, poll_s: float = _POLL_S
) -> WriterLock | Busy:
    """The thread's writer lock, waiting up to `wait_s` while someone holds it; `Busy` after."""
    import asyncio  # here: a cold `say`'s head start checks the lock folder before asyncio loads

    deadline = time.monotonic() + wait_s
    while True:
        got = try_take(codex_home, thread_id)
        if isinstance(got, WriterLock):
            return got
        if time.monotonic() >= deadline:
            if got is None:  # only the coordination lock was busy the whole time
                path = lock_path(codex_home, thread_id)
                return Busy(thread_id, path, lock_holders(lock_dir(codex_home) / COORDINATION))
            return got
        await asyncio.sleep(poll_s)


@dataclass(frozen=True)
class LockState:
    """A lock file in the folder: held or not (None: could not tell now), and who holds it."""

    thread_id: str
    path: Path
    held: bool | None
    holders: tuple[Holder, ...]

    @property
    def stale(self) -> bool:
        """Left by a codex that died (or skipped its unlink): harmless, codex takes it over."""
        return self.held is False


def _probe(codex_home: Path, path: Path) -> bool | None:
    """Whether someone holds `path`'s lock, asked under the coordination lock (so no codex is
    taking or dropping it meanwhile, and a codex never sees our brief probe)."""
    if not path.exists():
        return False  # codex removes the file when it lets go (and 0.135 never makes one)
    coordination = _try_coordination(codex_home)
    if coordination is None:
        return None
    try:
        return flock_held(path)
    finally:
        os.close(coordination)


def flock_held(path: Path) -> bool | None:
    """Whether another open file holds a `flock` on `path` (a missing file: no; None: could not
    tell). The probe takes the lock for an instant: ask under a lock that orders the takers."""
    try:
        fd = os.open(path, os.O_RDWR | os.O_CLOEXEC | os.O_NOFOLLOW)
    except FileNotFoundError:
        return False  # codex removes the file when it lets go
    except OSError:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        return True
    finally:
        os.close(fd)
    return False


def is_held(codex_home: Path, thread_id: str) -> bool | None:
    """Whether some process holds the thread's writer lock now (None: could not tell), without
    taking it in a way a codex could notice."""
    return _probe(codex_home, lock_path(codex_home, thread_id))


def scan(codex_home: Path) -> Iterator[LockState]:
    """Every thread lock file under CODEX_HOME, whether it is held, and by whom."""
    try:
        names = sorted(os.listdir(lock_dir(codex_home)))
    except OSError:
        return
    for name in names:
        thread_id = name[: -len(SUFFIX)]
        if not name.endswith(SUFFIX) or not is_plain_id(thread_id):
            continue  # `.coordination.lock` and anything that is not a thread's lock
        path = lock_dir(codex_home) / name
        held = _probe(codex_home, path)
        yield LockState(thread_id, path, held, lock_holders(path) if held else ())
