"""The completed turns of each thread the fake app-server ran (thread/read, resume, fork).

Held in memory until the thread is unloaded; `spill` then moves them to one anonymous temp file
(later turns of a reloaded thread are appended there), so an unloaded thread costs the process a
file offset, not its turns: the real codex frees an unloaded thread and reads its turns back from
the rollout. Read back, they are the same.
"""

from __future__ import annotations

import json
import tempfile
import threading
from typing import IO, Any

Turn = dict[str, Any]


class TurnLog:
    """Thread id → its completed turns, in full; safe to append from a turn's worker thread."""

    def __init__(self) -> None:
        self._held: dict[str, list[Turn]] = {}
        self._spilled: dict[str, tuple[int, int]] = {}  # thread id → (offset, length)
        self._file: IO[bytes] | None = None  # created on the first spill, gone with the process
        self._lock = threading.Lock()

    def get(self, thread_id: str) -> list[Turn]:
        """A copy of the thread's turns (empty for a thread this process never ran)."""
        with self._lock:
            return list(self._read(thread_id))

    def append(self, thread_id: str, turn: Turn) -> None:
        with self._lock:
            if thread_id in self._spilled:  # a turn ending after its thread was unloaded
                self._write(thread_id, [*self._read(thread_id), turn])
            else:
                self._held.setdefault(thread_id, []).append(turn)

    def copy(self, source_id: str, thread_id: str) -> None:
        """The fork `thread_id` starts with `source_id`'s turns."""
        with self._lock:
            self._held[thread_id] = list(self._read(source_id))
            self._spilled.pop(thread_id, None)

    def held(self, thread_id: str) -> bool:
        """Whether the thread's turns are in memory (for tests)."""
        return thread_id in self._held

    def spill(self, thread_id: str) -> None:
        """The thread was unloaded: its turns leave memory."""
        with self._lock:
            turns = self._held.pop(thread_id, None)
            if turns:
                self._write(thread_id, turns)

    def close(self) -> None:
        """Drop the spill file (the server is ending)."""
        with self._lock:
            if self._file is not None:
                self._file.close()
                self._file = None
            self._spilled.clear()

    def _read(self, thread_id: str) -> list[Turn]:
        held = self._held.get(thread_id)
        if held is not None:
            return held
        where = self._spilled.get(thread_id)
        if where is None or self._file is None:
            return []
        self._file.seek(where[0])
        turns: list[Turn] = json.loads(self._file.read(where[1]))
        return turns

    def _write(self, thread_id: str, turns: list[Turn]) -> None:
        if self._file is None:
            # Lives as long as the log (`close`); unlinked at once, so nothing is left behind.
            self._file = tempfile.TemporaryFile(prefix="fake-codex-turns-")  # noqa: SIM115
        data = json.dumps(turns).encode()
        offset = self._file.seek(0, 2)  # appended: an older copy stays on disk, unread
        self._file.write(data)
        self._file.flush()
        self._spilled[thread_id] = (offset, len(data))
