"""Durable writes: nothing the project writes is left half-written.

`atomic_write_text` replaces a file through a temp file, fsync and `os.replace`; `fsync_dir` makes a
rename inside a directory durable; `directory_problem` says why a path is no usable directory,
without raising (an overlong path makes `Path.is_dir()` raise). `os` only: `tempfile` (with
`shutil`, `random` and the compression modules it pulls in) cost every cold turn 3-6 ms of
imports for one `mkstemp`.
"""

from __future__ import annotations

import contextlib
import os
import stat
from pathlib import Path

_TEMP_FLAGS = os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC | getattr(os, "O_NOFOLLOW", 0)


def fsync_dir(directory: Path) -> None:
    """Flush `directory`'s entries (a rename in it survives a crash once this returns)."""
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def directory_problem(path: Path) -> str | None:
    """None when `path` is a directory; else what is wrong with it (never raises)."""
    try:
        info = os.stat(path)
    except FileNotFoundError:
        return "is not a directory (it does not exist)"
    except OSError as exc:  # ENAMETOOLONG, EACCES, ELOOP...: is_dir() would raise these
        return f"cannot be used ({exc.strerror or exc})"
    except ValueError as exc:  # an embedded NUL
        return f"cannot be used ({exc})"
    return None if stat.S_ISDIR(info.st_mode) else "is not a directory"


def create_temp(folder: Path, name: str) -> tuple[int, str]:
    """A new 0600 file `.<name>.<random>.tmp` in `folder`, opened for writing: like
    `tempfile.mkstemp`, O_EXCL and O_NOFOLLOW, so a planted file or symlink is never opened."""
    for _ in range(100):
        tmp = os.path.join(folder, f".{name}.{os.urandom(6).hex()}.tmp")
        try:
            return os.open(tmp, _TEMP_FLAGS, 0o600), tmp
        except FileExistsError:
            continue  # 48 random bits taken: try another name
    raise FileExistsError(f"no free temporary name for {name!r} in {folder}")


def atomic_write_text(path: Path, text: str) -> None:
    """Replace `path` with `text` so a crash leaves either the old or the new file."""
    fd, tmp = create_temp(path.parent, path.name)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    fsync_dir(path.parent)
