"""Which codex thread continues which Plexum session, per workspace.

`<workspace>/.plexum-codex-session` holds JSON
`{"version": 1, "threads": {session_id: {thread_id, model_arg, usage_total}}}`; the seed's
plain-text file (one thread id) is read as the session `default`. Writes are atomic (temp file,
fsync, rename); a write also removes what a killed writer left (stale temp files of ours, by name
and age, regular files only). `workspace_lock` is an fcntl lock on a sibling file, so turns and
consumes on one workspace never interleave, across processes too.
"""

from __future__ import annotations

import collections
import contextlib
import errno
import fcntl
import json
import os
import re
import stat
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

from .codex.thread_id import is_plain_id
from .errors import SessionStoreError
from .files import atomic_write_text

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (mypy knows the name)
if TYPE_CHECKING:
    from typing import Any

    from .events import Usage

SESSION_FILE = ".plexum-codex-session"
LOCK_FILE = ".plexum-codex-session.lock"
QUEUE_FILE = ".plexum-codex-session.queue"  # the lock's turnstile (see acquire_workspace_lock)
STORE_VERSION = 1
LEGACY_SESSION = "default"
# `files.create_temp`'s names for the session file, and how old one must be to be left over: the
# store is written under the workspace lock, so an older one's writer is gone (killed mid-write).
_TEMP_NAME = re.compile(rf"\.{re.escape(SESSION_FILE)}\.[0-9a-f]{{12}}\.tmp")
STALE_TEMP_S = 60.0
# O_NOFOLLOW: a symlink planted at a lock path must not make us open another file.
_LOCK_FLAGS = os.O_RDWR | os.O_CREAT | os.O_CLOEXEC | os.O_NOFOLLOW | os.O_NONBLOCK


def _zero_usage() -> Usage:
    # `events` loads on first use: a cold `say` reads the session before it starts codex, and
    # that module's dataclasses cost it ~5 ms; a new workspace's turn needs none of it by then.
    from .events import Usage

    return Usage()


@dataclass(frozen=True)
class ThreadRecord:
    """A session's codex thread: its model argument, usage so far, and where its rollout is.

    `rollout_offset` is the byte position up to which the thread's tool calls were mirrored.
    """

    thread_id: str
    model_arg: str | None
    usage_total: Usage = field(default_factory=_zero_usage)
    rollout_path: str | None = None
    rollout_offset: int | None = None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "thread_id": self.thread_id,
            "model_arg": self.model_arg,
            "usage_total": self.usage_total.to_json(),
        }
        if self.rollout_path is not None:
            out["rollout_path"] = self.rollout_path
            out["rollout_offset"] = self.rollout_offset
        return out


# The workspace is writable by the model: a session file is only read if it is a regular file
# (a FIFO would block the turn forever, a symlink would read any file) of a sane size.
MAX_SESSION_FILE_BYTES = 16 * 1024 * 1024


def _read_regular_file(path: Path, limit: int) -> bytes:
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise OSError(errno.EINVAL, "not a regular file")
        if info.st_size > limit:
            raise OSError(errno.EFBIG, f"{info.st_size} bytes, over the {limit} byte limit")
        # Read at most one byte past the limit, so a file that grows after the size check (a
        # hostile writer in the workspace) can never make us read an unbounded amount.
        chunks: list[bytes] = []
        left = limit + 1
        while left > 0 and (chunk := os.read(fd, min(left, 1024 * 1024))):
            chunks.append(chunk)
            left -= len(chunk)
        return b"".join(chunks)
    finally:
        os.close(fd)


def _plain_model_arg(value: object) -> bool:
    return (
        isinstance(value, str)
        and 0 < len(value) <= 256
        and not value.startswith("-")
        and value.isprintable()
    )


class SessionStore:
    """The thread map of one workspace. Callers hold `workspace_lock` around read-modify-write."""

    def __init__(self, workspace: Path) -> None:
        self.path = workspace / SESSION_FILE

    def load(self) -> dict[str, ThreadRecord]:
        try:
            text = _read_regular_file(self.path, MAX_SESSION_FILE_BYTES).decode("utf-8")
        except FileNotFoundError:
            return {}
        except (OSError, UnicodeDecodeError) as exc:
            raise SessionStoreError(
                f"cannot read the session file: {exc}", path=str(self.path)
            ) from exc
        stripped = text.strip()
        if not stripped:
            return {}
        if not stripped.startswith("{"):
            return {LEGACY_SESSION: self._legacy(stripped)}
        try:
            raw = json.loads(stripped)
        except json.JSONDecodeError as exc:
            raise self._corrupt(f"invalid JSON ({exc.msg})") from exc
        return self._parse(raw)

    def get(self, session_id: str) -> ThreadRecord | None:
        return self.load().get(session_id)

    def put(self, session_id: str, record: ThreadRecord) -> None:
        if not is_plain_id(record.thread_id):
            raise SessionStoreError(
                f"refusing to store thread id {record.thread_id!r}: not a plain id",
                path=str(self.path),
            )
        threads = self.load()
        threads[session_id] = record
        body = {
            "version": STORE_VERSION,
            "threads": {sid: rec.to_json() for sid, rec in sorted(threads.items())},
        }
        remove_stale_temps(self.path.parent)
        atomic_write_text(self.path, json.dumps(body, indent=2) + "\n")

    def _legacy(self, text: str) -> ThreadRecord:
        if not is_plain_id(text):
            raise self._corrupt("the legacy plain-text thread id is not a plain id")
        return ThreadRecord(thread_id=text, model_arg=None)

    def _parse(self, raw: Any) -> dict[str, ThreadRecord]:
        from .events import Usage  # see `_zero_usage`

        if not isinstance(raw, dict) or raw.get("version") != STORE_VERSION:
            raise self._corrupt(f"expected an object with version {STORE_VERSION}")
        threads = raw.get("threads")
        if not isinstance(threads, dict):
            raise self._corrupt("`threads` must be an object")
        out: dict[str, ThreadRecord] = {}
        for session_id, entry in threads.items():
            if not isinstance(entry, dict):
                raise self._corrupt(f"session {session_id!r} is not an object")
            thread_id = entry.get("thread_id")
            model_arg = entry.get("model_arg")
            if not isinstance(thread_id, str) or not is_plain_id(thread_id):
                raise self._corrupt(f"session {session_id!r} has no plain `thread_id`")
            if model_arg is not None and not _plain_model_arg(model_arg):
                # It goes on codex's argv: a value that reads as an option is never passed.
                raise self._corrupt(
                    f"session {session_id!r}: `model_arg` must be a model name, not an option"
                )
            usage = Usage.from_mapping(entry.get("usage_total"))
            path = entry.get("rollout_path")
            offset = entry.get("rollout_offset")
            # Only a hint (the mirror checks it against CODEX_HOME/sessions before any use);
            # anything malformed is dropped, so the rollout is located afresh.
            if (
                not isinstance(path, str)
                or "\x00" in path
                or not isinstance(offset, int)
                or isinstance(offset, bool)
                or not 0 <= offset < 2**63
            ):
                path, offset = None, None
            out[session_id] = ThreadRecord(thread_id, model_arg, usage, path, offset)
        return out

    def _corrupt(self, what: str) -> SessionStoreError:
        return SessionStoreError(
            f"{what}. The file was left as it is; move it aside to start new codex threads.",
            path=str(self.path),
        )


def remove_stale_temps(workspace: Path) -> None:
    """Delete the session store's temp files a killed writer left: our name pattern, a regular
    file (never a symlink or folder the model planted), untouched for `STALE_TEMP_S`."""
    cutoff = time.time() - STALE_TEMP_S
    with contextlib.suppress(OSError), os.scandir(workspace) as entries:
        for entry in entries:
            if not _TEMP_NAME.fullmatch(entry.name):
                continue
            with contextlib.suppress(OSError):
                info = entry.stat(follow_symlinks=False)
                if stat.S_ISREG(info.st_mode) and info.st_mtime < cutoff:
                    os.unlink(entry.path)


# Waiters of this process per lock file (device, inode), first come first served.
_waiting: dict[tuple[int, int], collections.deque[object]] = {}


def _try_flock(fd: int) -> bool:
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as exc:
        if exc.errno not in (errno.EAGAIN, errno.EACCES):
            raise
        return False
    return True


def try_workspace_lock(workspace: Path) -> int | None:
    """The workspace's exclusive lock if it is free now and nobody queues for it (its descriptor:
    close it to release), else None. A newcomer as in `acquire_workspace_lock`: it passes the
    turnstile first, without waiting, so a cold `say` never jumps a consume or turn in line.
    Raises OSError when the lock files cannot be opened or locked at all."""
    fd = os.open(workspace / LOCK_FILE, _LOCK_FLAGS, 0o600)
    gate = -1
    taken = False
    try:
        info = os.fstat(fd)
        if _waiting.get((info.st_dev, info.st_ino)):
            return None  # a waiter of this process is in line
        gate = os.open(workspace / QUEUE_FILE, _LOCK_FLAGS, 0o600)
        taken = _try_flock(gate) and _try_flock(fd)
        return fd if taken else None
    finally:
        if gate >= 0:
            os.close(gate)
        if not taken:
            os.close(fd)


async def acquire_workspace_lock(workspace: Path, *, poll_s: float = 0.02) -> int:
    """Take the workspace's exclusive lock and return its descriptor (close it to release).

    Fair, so a consume is not starved by turns that retake the lock the moment they let go: the
    waiters of this process queue in order, and the one at the head holds a turnstile (a flock on
    `.plexum-codex-session.queue`) while it waits, which newcomers of any process must pass
    first. Uncontended, both are taken at once. Waiting polls without blocking the loop, so a
    cancelled waiter leaves nothing behind.
    """
    import asyncio  # here: a cold `say` reads its session before asyncio has loaded

    fd = os.open(workspace / LOCK_FILE, _LOCK_FLAGS, 0o600)
    gate = -1
    ticket = object()
    info = os.fstat(fd)
    key = (info.st_dev, info.st_ino)
    queue = _waiting.setdefault(key, collections.deque())
    queue.append(ticket)
    try:
        while queue[0] is not ticket:
            await asyncio.sleep(poll_s)
        gate = os.open(workspace / QUEUE_FILE, _LOCK_FLAGS, 0o600)
        while not _try_flock(gate):
            await asyncio.sleep(poll_s)
        while not _try_flock(fd):
            await asyncio.sleep(poll_s)
        return fd
    except BaseException:
        os.close(fd)
        raise
    finally:
        if gate >= 0:
            os.close(gate)  # the turnstile: the next waiter (of any process) may queue at the lock
        queue.remove(ticket)
        if not queue and _waiting.get(key) is queue:
            del _waiting[key]


@contextlib.asynccontextmanager
async def workspace_lock(workspace: Path) -> AsyncIterator[None]:
    """Hold the workspace's exclusive lock for the body."""
    fd = await acquire_workspace_lock(workspace)
    try:
        yield
    finally:
        os.close(fd)  # closing the descriptor releases the lock
