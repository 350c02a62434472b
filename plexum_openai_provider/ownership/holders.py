"""Which processes hold a file: its lock owners (`/proc/locks`) or open descriptors (`/proc/*/fd`).

Linux tells both; elsewhere (no `/proc`) every answer is empty and callers say "another process".
A `Holder` carries the pid and the command line where the OS tells them (an OFD lock has no pid);
nothing here takes a lock or keeps a file open, so asking never disturbs a codex.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

PROC = Path("/proc")
_COMMAND_CHARS = 160


@dataclass(frozen=True)
class Holder:
    """A process that holds a lock on a file or has it open."""

    pid: int | None
    command: str | None
    how: str  # "flock", "posix", "ofd" (from /proc/locks) or "open" (a descriptor)

    def describe(self) -> str:
        if self.pid is None:
            return "another process (the OS does not say which)"
        return f"pid {self.pid} ({self.command})" if self.command else f"pid {self.pid}"


def command_of(pid: int, proc: Path = PROC) -> str | None:
    """The process's command line (NULs as spaces, shortened), or None when it is gone."""
    try:
        raw = (proc / str(pid) / "cmdline").read_bytes()
    except OSError:
        return None
    text = raw.rstrip(b"\0").replace(b"\0", b" ").decode("utf-8", "replace").strip()
    if len(text) > _COMMAND_CHARS:
        text = text[: _COMMAND_CHARS - 1] + "…"
    return text or None


def _file_key(path: Path) -> tuple[int, int, int] | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return os.major(st.st_dev), os.minor(st.st_dev), st.st_ino


def _parse_locks(text: str) -> Iterable[tuple[str, int, tuple[int, int, int]]]:
    """(kind, pid, (major, minor, inode)) of each granted lock in /proc/locks text."""
    for line in text.splitlines():
        parts = line.split()
        if len(parts) < 6 or parts[1] == "->":  # "->" marks a waiter, not a holder
            continue
        kind, pid_text, where = parts[1], parts[4], parts[5].split(":")
        if len(where) != 3:
            continue
        try:
            key = (int(where[0], 16), int(where[1], 16), int(where[2]))
            pid = int(pid_text)
        except ValueError:
            continue
        yield kind, pid, key


def lock_holders(path: Path, proc: Path = PROC) -> tuple[Holder, ...]:
    """The processes holding a lock on `path` now (empty when none, or the OS does not say)."""
    key = _file_key(path)
    if key is None:
        return ()
    try:
        text = (proc / "locks").read_text()
    except OSError:
        return ()
    out: list[Holder] = []
    for kind, pid, where in _parse_locks(text):
        if where != key:
            continue
        how = {"FLOCK": "flock", "POSIX": "posix", "OFDLCK": "ofd"}.get(kind, kind.lower())
        # An OFD lock belongs to an open file, not a process: the kernel reports pid -1.
        holder_pid = pid if pid > 0 else None
        command = command_of(holder_pid, proc) if holder_pid is not None else None
        out.append(Holder(holder_pid, command, how))
    return tuple(out)


def _writes(fdinfo: Path) -> bool:
    """Whether the descriptor was opened for writing (`flags:` in fdinfo, octal)."""
    try:
        for line in fdinfo.read_text().splitlines():
            if line.startswith("flags:"):
                return int(line.split()[1], 8) & os.O_ACCMODE != os.O_RDONLY
    except (OSError, ValueError, IndexError):
        pass
    return True  # cannot tell: count it


def opened_by(
    path: Path, *, exclude: Iterable[int] = (), writers_only: bool = False, proc: Path = PROC
) -> tuple[Holder, ...]:
    """The processes (other than `exclude`) with `path` open (for writing, with `writers_only`),
    read from `/proc/<pid>/fd`. Other users' processes cannot be read without privileges and are
    not reported."""
    key = _file_key(path)
    if key is None:
        return ()
    skip = set(exclude)
    out: list[Holder] = []
    try:
        entries = list(proc.iterdir())
    except OSError:
        return ()
    for entry in entries:
        if not entry.name.isdigit() or int(entry.name) in skip:
            continue
        pid = int(entry.name)
        try:
            fds = list((entry / "fd").iterdir())
        except OSError:
            continue  # gone, or not ours to read
        for fd in fds:
            if _file_key(fd) != key:
                continue
            if writers_only and not _writes(entry / "fdinfo" / fd.name):
                continue
            out.append(Holder(pid, command_of(pid, proc), "open"))
            break
    return tuple(out)


def parent_of(pid: int, proc: Path = PROC) -> int | None:
    """The parent pid from `/proc/<pid>/stat` (None when gone or unreadable)."""
    try:
        text = (proc / str(pid) / "stat").read_text()
        # "pid (comm) state ppid ...": comm may hold spaces and parentheses.
        return int(text[text.rindex(")") + 2 :].split()[1])
    except (OSError, ValueError, IndexError):
        return None


def ancestors(pid: int, proc: Path = PROC, limit: int = 64) -> list[int]:
    """The process's parents up to init, nearest first (bounded: a cycle cannot loop)."""
    out: list[int] = []
    current = parent_of(pid, proc)
    while current is not None and current > 1 and len(out) < limit:
        out.append(current)
        current = parent_of(current, proc)
    return out


def describe(holders: Iterable[Holder]) -> str:
    """`pid 12 (codex exec resume …), pid 40 (…)`, or a sentence saying the OS did not tell."""
    named = sorted({h.describe() for h in holders})
    return ", ".join(named) if named else "another process (the OS does not say which)"
