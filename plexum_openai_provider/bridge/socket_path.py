"""The agent's stable unix socket path, its private directory, and a safe listener on it.

`stable_socket_path(agent_id)` depends only on the uid, the agent id and the configured
`socket_dir` (default `/tmp/plexum-<uid>`, never $TMPDIR or $XDG_RUNTIME_DIR, which differ between
a shell and systemd), so codex's registration and every turn's listener agree. Paths stay within
`MAX_SOCKET_PATH_BYTES` (sun_path is 108 bytes on Linux, 104 on macOS). `bind_listener` takes the
path safely: 0700 directory, 0600 socket, stale sockets removed, a live one refused.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import socket
import stat
from dataclasses import dataclass
from pathlib import Path

from plexum_openai_provider.digest import sha256_hex
from plexum_openai_provider.errors import SocketInUseError, UnsafeSocketDirError

MAX_SOCKET_PATH_BYTES = 100
_FILE_HASH_HEX = 24  # 96 bits: the file name is all hash, so arbitrary ids never lengthen it


def default_socket_dir(uid: int | None = None) -> Path:
    """`/tmp/plexum-<uid>`: the same for a login shell and a systemd unit of that user."""
    return Path("/tmp") / f"plexum-{os.geteuid() if uid is None else uid}"


def socket_file_name(agent_id: str) -> str:
    digest = sha256_hex(agent_id.encode("utf-8", "surrogatepass"))
    return f"{digest[:_FILE_HASH_HEX]}.sock"


def stable_socket_path(
    agent_id: str, *, socket_dir: Path | None = None, uid: int | None = None
) -> Path:
    """The socket path of `agent_id`; ValueError when `socket_dir` is too long for sun_path."""
    directory = default_socket_dir(uid) if socket_dir is None else Path(socket_dir)
    path = directory / socket_file_name(agent_id)
    size = len(os.fsencode(path))
    if size > MAX_SOCKET_PATH_BYTES:
        raise ValueError(
            f"socket_dir {str(directory)!r} is too long: the socket path would be {size} bytes, "
            f"over the {MAX_SOCKET_PATH_BYTES}-byte unix socket limit; choose a shorter socket_dir"
        )
    return path


def ensure_socket_dir(directory: Path) -> None:
    """Create `directory` 0700 if missing; refuse a symlink, a foreign owner or group/other bits."""
    directory = Path(directory)
    directory.parent.mkdir(parents=True, exist_ok=True)
    with contextlib.suppress(FileExistsError):
        directory.mkdir(mode=0o700)
    try:
        st = os.lstat(directory)
    except OSError as exc:
        raise UnsafeSocketDirError(
            f"cannot inspect socket dir: {exc}", path=str(directory)
        ) from exc
    if stat.S_ISLNK(st.st_mode):
        raise UnsafeSocketDirError(
            "socket dir is a symlink; refusing to use it", path=str(directory)
        )
    if not stat.S_ISDIR(st.st_mode):
        raise UnsafeSocketDirError("socket dir is not a directory", path=str(directory))
    if st.st_uid != os.geteuid():
        raise UnsafeSocketDirError(
            f"socket dir is owned by uid {st.st_uid}, not by this user (uid {os.geteuid()}); "
            "another user could read or hijack the agent's socket — remove it or set socket_dir",
            path=str(directory),
        )
    if st.st_mode & 0o077:
        raise UnsafeSocketDirError(
            f"socket dir has mode {stat.S_IMODE(st.st_mode):04o}; it must be 0700 "
            f"(run: chmod 700 {directory})",
            path=str(directory),
        )


@dataclass
class Listener:
    """A bound, listening unix socket plus the lock file that proves we own the path."""

    path: Path
    sock: socket.socket
    inode: int
    lock_fd: int

    def close(self) -> None:
        """Close the socket; unlink the path only if it is still our socket (never another's)."""
        if self.lock_fd < 0:
            return  # already closed
        self.sock.close()
        with contextlib.suppress(FileNotFoundError):
            if os.lstat(self.path).st_ino == self.inode:
                os.unlink(self.path)
        os.close(self.lock_fd)
        self.lock_fd = -1


def _probe(path: Path) -> bool:
    """True when a live process accepts connections on `path`; False when the socket is stale."""
    probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        probe.connect(os.fspath(path))
    except (ConnectionRefusedError, FileNotFoundError):
        return False
    except OSError as exc:
        if exc.errno in (errno.ECONNREFUSED, errno.ENOENT):
            return False
        raise
    finally:
        probe.close()
    return True


def _take_lock(path: Path) -> int:
    lock_path = path.with_name(path.name + ".lock")
    fd = os.open(lock_path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        raise SocketInUseError(
            "another process of this plugin is serving this agent's socket (its lock is held); "
            "two turns of one agent cannot run at once",
            path=str(path),
        ) from None
    return fd


def bind_listener(path: Path, *, backlog: int = 16) -> Listener:
    """Listen on `path` (socket 0600 in a safe 0700 dir), removing a stale socket first.

    The lock file beside the socket is held for the listener's lifetime, so two processes of this
    plugin never both decide a socket is stale and unlink each other's.
    """
    path = Path(path)
    ensure_socket_dir(path.parent)
    lock_fd = _take_lock(path)
    try:
        if path.exists() or path.is_symlink():
            if not stat.S_ISSOCK(os.lstat(path).st_mode):
                raise SocketInUseError(
                    "exists and is not a socket; refusing to replace it", path=str(path)
                )
            if _probe(path):
                raise SocketInUseError(
                    "a live process is already listening on this socket; refusing to take it over",
                    path=str(path),
                )
            os.unlink(path)  # stale: its process is gone (connect was refused)
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            # umask makes the socket 0600 from its first instant; chmod repeats it in case
            # another thread changed the umask in between (the 0700 dir already shields it).
            old = os.umask(0o177)
            try:
                sock.bind(os.fspath(path))
            finally:
                os.umask(old)
            os.chmod(path, 0o600)
            sock.listen(backlog)
            sock.setblocking(False)
            inode = os.lstat(path).st_ino
        except BaseException:
            sock.close()
            raise
    except BaseException:
        os.close(lock_fd)
        raise
    return Listener(path=path, sock=sock, inode=inode, lock_fd=lock_fd)
