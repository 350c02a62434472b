"""Who is on the other end of the agent's socket: peer credentials and process ancestry.

`peer_credentials(sock)` reads SO_PEERCRED (Linux); `descends_from(pid, ancestor)` walks the ppid
chain in /proc. The warm server uses them to serve a turn's tools only to that turn's codex.
"""

from __future__ import annotations

import socket
import struct
import sys
from dataclasses import dataclass

_MAX_DEPTH = 4096  # a ppid chain is never this long; the bound only guards against a /proc loop


@dataclass(frozen=True)
class PeerCredentials:
    pid: int
    uid: int
    gid: int


def peer_credentials(sock: socket.socket) -> PeerCredentials | None:
    """The connected peer's pid/uid/gid, or None where SO_PEERCRED does not exist."""
    so_peercred = getattr(socket, "SO_PEERCRED", None)
    if so_peercred is None:
        return None
    raw = sock.getsockopt(socket.SOL_SOCKET, so_peercred, struct.calcsize("3i"))
    pid, uid, gid = struct.unpack("3i", raw)
    return PeerCredentials(pid=pid, uid=uid, gid=gid)


def parent_pid(pid: int) -> int | None:
    """The ppid of `pid` from /proc/<pid>/stat, or None when the process is gone."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            data = f.read()
    except OSError:
        return None
    # The command name (field 2) may contain spaces and parentheses: split after the LAST ')'.
    fields = data[data.rfind(b")") + 2 :].split()
    try:
        return int(fields[1])
    except (IndexError, ValueError):
        return None


def descends_from(pid: int, ancestor_pid: int) -> bool:
    """True when `pid` is `ancestor_pid` or one of its descendants (Linux /proc).

    Elsewhere there is no cheap, reliable ancestry check, so this returns True there: the 0700
    socket directory still confines callers to this user.
    """
    if not sys.platform.startswith("linux"):
        return True
    current: int | None = pid
    for _ in range(_MAX_DEPTH):
        if current is None or current <= 0:
            return False
        if current == ancestor_pid:
            return True
        if current == 1:
            return False
        current = parent_pid(current)
    return False
