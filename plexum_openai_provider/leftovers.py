"""Ending what a killed plugin left running: the second line behind the parent-death signal.

Every child the plugin starts carries `process.OWNER_ENV` (its starter's pid and start time), and
passes it on to whatever it starts (a shell command, an MCP relay). `end_leftovers()` — run by a
new `serve` before it reads its first line — SIGKILLs each process of ours whose marker names a
process that no longer runs. Never one whose owner lives (another `serve`'s child), nor this
process or its ancestors. Linux only (/proc); elsewhere it finds nothing.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal

from .process import OWNER_ENV, owner_alive

log = logging.getLogger(__name__)

_KEY = OWNER_ENV.encode() + b"="


def _marker(pid: int) -> str | None:
    """The owner marker in a process's environment (None: none, gone, or not ours to read)."""
    try:
        with open(f"/proc/{pid}/environ", "rb") as f:
            environ = f.read()
    except OSError:
        return None
    for entry in environ.split(b"\0"):
        if entry.startswith(_KEY):
            return entry[len(_KEY) :].decode("ascii", "replace")
    return None


def _ancestors() -> set[int]:
    """This process and its ancestors: a `serve` started inside a turn inherited a marker."""
    found, pid = set(), os.getpid()
    while pid > 1 and pid not in found:
        found.add(pid)
        try:
            with open(f"/proc/{pid}/stat", "rb") as f:
                pid = int(f.read().rsplit(b")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            break
    return found


def end_leftovers() -> list[int]:
    """SIGKILL every process carrying the marker of an owner that is gone; their pids."""
    try:
        entries = [int(e) for e in os.listdir("/proc") if e.isdigit()]
    except OSError:
        return []
    spared = _ancestors()
    ended: list[int] = []
    for pid in entries:
        if pid in spared:
            continue
        marker = _marker(pid)
        if marker is None or owner_alive(marker):
            continue
        # Through a pidfd, with the marker read again after it was opened: if `pid` ended and
        # was reused meanwhile, the new process has no such marker, or the signal finds nobody.
        try:
            pidfd = os.pidfd_open(pid)
        except OSError:
            continue
        try:
            if _marker(pid) == marker:
                signal.pidfd_send_signal(pidfd, signal.SIGKILL)
                ended.append(pid)
        except OSError:
            pass
        finally:
            with contextlib.suppress(OSError):
                os.close(pidfd)
    if ended:
        log.warning(
            "ended %d process(es) a killed plugin left running (pids %s)",
            len(ended),
            ", ".join(map(str, ended)),
        )
    return ended
