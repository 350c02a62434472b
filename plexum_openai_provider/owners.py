"""Owner markers: what our children started is found and ended, even outside their group; and
every child dies with us (Linux: `parent_death_hook`, a SIGKILL when its starter's thread exits).

Every child the plugin starts carries `OWNER_ENV` = `<pid>:<start time>:<n>` (the starter, told
from a reused pid by its start time; `n` numbers its children) and passes it on to whatever it
starts (a shell command in a session of its own, an MCP relay). `end_marked(select)` SIGKILLs the
marked processes `select` picks; `end_leftovers()` — run by a new `serve` before it reads a line,
and by `serve` as it exits — ends those whose owner is gone (or is this process, at its exit).
Never this process or its ancestors. Linux only (/proc); elsewhere nothing is found.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import signal
import sys
from collections.abc import Callable

OWNER_ENV = "PLEXUM_OPENAI_PROVIDER_OWNER"
_KEY = OWNER_ENV.encode() + b"="
_children = itertools.count(1)
PARENT_DEATH_SIGNAL = signal.SIGKILL
_PR_SET_PDEATHSIG = 1


def parent_death_hook() -> Callable[[], None] | None:
    """A preexec_fn that makes the child get SIGKILL when the thread that forked it exits (the
    event loop's thread: every spawn runs on the loop, `say`'s head start on the main thread that
    then runs it), or None off Linux."""
    if not sys.platform.startswith("linux"):
        return None
    import ctypes  # only now: a cold `say` imports it just before its head start spawns codex

    prctl = ctypes.CDLL(None, use_errno=True).prctl
    parent = os.getpid()

    def die_with_parent() -> None:  # runs in the child between fork and exec: no allocation
        prctl(_PR_SET_PDEATHSIG, int(PARENT_DEATH_SIGNAL), 0, 0, 0)
        if os.getppid() != parent:  # the parent died before the line above took effect
            os._exit(1)

    return die_with_parent


def start_time(pid: int) -> int | None:
    """A process's start time in clock ticks since boot (/proc/<pid>/stat field 22), or None
    when it is gone, a zombie, or unreadable."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            fields = f.read().rsplit(b")", 1)[1].split()
    except OSError:
        return None
    if len(fields) < 20 or fields[0] in (b"Z", b"X"):
        return None
    return int(fields[19])


def owner_of_this_process() -> str:
    """`<pid>:<start time>` of this process (read each time: a fork is another owner)."""
    pid = os.getpid()
    return f"{pid}:{start_time(pid) or 0}"


def new_marker() -> str:
    """The marker for a child about to be started."""
    return f"{owner_of_this_process()}:{next(_children)}"


def owner_alive(marker: str) -> bool:
    """True when the process a marker names still runs (same pid, same start time)."""
    pid, _, rest = marker.partition(":")
    start = rest.partition(":")[0]
    if not (pid.isdigit() and start.isdigit()):
        return False
    return start_time(int(pid)) == int(start)


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


def end_marked(select: Callable[[str], bool]) -> list[int]:
    """SIGKILL every marked process (but this one and its ancestors) whose marker `select`
    picks; their pids."""
    try:
        entries = [int(e) for e in os.listdir("/proc") if e.isdigit()]
    except OSError:
        return []
    spared: set[int] | None = None
    ended: list[int] = []
    for pid in entries:
        marker = _marker(pid)
        if marker is None or not select(marker):
            continue
        if spared is None:
            spared = _ancestors()
        if pid in spared:
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
    return ended


def end_leftovers(*, ours: bool = False) -> list[int]:
    """End what a plugin that is gone left running (with `ours`, this process's too: at exit)."""
    me = owner_of_this_process() + ":"

    def orphaned(marker: str) -> bool:
        return (ours and marker.startswith(me)) or not owner_alive(marker)

    ended = end_marked(orphaned)
    if ended:
        import logging  # only here: a cold `say` imports this module before it starts codex

        logging.getLogger(__name__).warning(
            "ended %d process(es) a plugin left running (pids %s)",
            len(ended),
            ", ".join(map(str, ended)),
        )
    return ended
