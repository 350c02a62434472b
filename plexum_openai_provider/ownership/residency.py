"""Which threads a warm app-server keeps loaded, and which to give back: idle time and an LRU cap.

Pure bookkeeping (the caller passes the clock): `use` marks a thread in use by a turn, `done` ends
that use; `due(now)` lists the threads to unload — idle for `idle_s`, then the least recently used
beyond `max_loaded` — never one in use. A `RolloutMark` (inode, size, mtime) taken when a thread is
loaded or after our own turn tells, before the next turn, that another process changed the rollout.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class RolloutMark:
    """A rollout as it was: any other writer moves its size or mtime (a rewrite its inode)."""

    device: int
    inode: int
    size: int
    mtime_ns: int

    @classmethod
    def of(cls, path: Path) -> RolloutMark | None:
        try:
            st = os.stat(path)
        except OSError:
            return None
        return cls(st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)


@dataclass
class _Entry:
    last_used: float
    in_use: int = 0
    mark: RolloutMark | None = None


@dataclass
class Residency:
    """The loaded threads of one app-server, by last use; `None` limits mean "never"."""

    idle_s: float | None
    max_loaded: int | None
    _threads: dict[str, _Entry] = field(default_factory=dict)

    def __contains__(self, thread_id: object) -> bool:
        return thread_id in self._threads

    def __len__(self) -> int:
        return len(self._threads)

    def use(self, thread_id: str, now: float) -> None:
        """A turn starts on the thread (loaded now, or already)."""
        entry = self._threads.setdefault(thread_id, _Entry(now))
        entry.in_use += 1
        entry.last_used = now

    def done(self, thread_id: str, now: float, mark: RolloutMark | None = None) -> None:
        """That turn ended; `mark` is the rollout as our turn left it."""
        entry = self._threads.get(thread_id)
        if entry is None:
            return
        entry.in_use = max(0, entry.in_use - 1)
        entry.last_used = now
        if mark is not None:
            entry.mark = mark

    def set_mark(self, thread_id: str, mark: RolloutMark | None) -> None:
        entry = self._threads.get(thread_id)
        if entry is not None:
            entry.mark = mark

    def mark(self, thread_id: str) -> RolloutMark | None:
        entry = self._threads.get(thread_id)
        return entry.mark if entry is not None else None

    def in_use(self, thread_id: str) -> bool:
        entry = self._threads.get(thread_id)
        return entry is not None and entry.in_use > 0

    def forget(self, thread_id: str) -> None:
        """The thread is not loaded any more (unloaded, or the server ended)."""
        self._threads.pop(thread_id, None)

    def due(self, now: float) -> list[str]:
        """Threads to unload now, oldest use first: idle ones, then any beyond the cap."""
        idle = [t for t, e in self._threads.items() if not e.in_use]
        idle.sort(key=lambda t: self._threads[t].last_used)
        out = []
        if self.idle_s is not None:
            out = [t for t in idle if now - self._threads[t].last_used >= self.idle_s]
        if self.max_loaded is not None:
            excess = len(self._threads) - len(out) - self.max_loaded
            for thread_id in idle:
                if excess <= 0:
                    break
                if thread_id not in out:
                    out.append(thread_id)
                    excess -= 1
        return out

    def next_due(self, now: float) -> float | None:
        """Seconds until the next idle unload falls due (None: nothing will by time alone)."""
        if self.idle_s is None:
            return None
        waits = [
            max(0.0, e.last_used + self.idle_s - now)
            for e in self._threads.values()
            if not e.in_use
        ]
        return min(waits) if waits else None
