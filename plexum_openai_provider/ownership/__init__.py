"""Who owns a codex thread: codex's per-thread writer lock and the processes that hold a file.

`codex_locks_threads` is here, not in `writer_lock`, so a cold `say`'s head start can tell with
one stat, before the rest of the room has loaded, whether codex refuses a held thread by itself.
"""

from __future__ import annotations

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (mypy knows the name)
if TYPE_CHECKING:
    from pathlib import Path

LOCK_DIR = "thread-writer-locks"  # under CODEX_HOME: codex's per-thread writer locks (≥ 0.150)


def codex_locks_threads(codex_home: Path) -> bool:
    """Whether a codex ≥ 0.150 ever ran in this CODEX_HOME (its lock folder exists): then every
    codex there takes the thread's writer lock and refuses a thread another process holds."""
    return (codex_home / LOCK_DIR).is_dir()
