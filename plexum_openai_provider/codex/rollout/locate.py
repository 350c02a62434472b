"""Find a thread's rollout file under `$CODEX_HOME/sessions/YYYY/MM/DD/` without a full walk.

Order: the remembered path; the LOCAL-time date folder derived from the UUIDv7 thread id (exact
file names first, then that day and its neighbours); codex's `state_5.sqlite` (read-only); only
then a walk of `sessions/`. Cost does not grow with the tree except in the last step. Thread ids
that are not plain ids are refused before any path is built from them.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import stat
from pathlib import Path

from plexum_openai_provider.codex.thread_id import is_plain_id

_UUID7 = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-7[0-9a-fA-F]{3}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
# Codex takes the file name's time a few ms after minting the id: the same second or the next.
_SECOND_SKEW = (0, 1, -1, 2)


def locate_rollout(
    codex_home: Path,
    thread_id: str,
    *,
    remembered: Path | None = None,
    tz: dt.tzinfo | None = None,
) -> Path | None:
    """The rollout of `thread_id`, or None. `tz` defaults to the process's local time zone."""
    if not is_plain_id(thread_id):
        raise ValueError(f"not a plain thread id: {thread_id!r}")
    suffix = f"-{thread_id}.jsonl"
    if remembered is not None and trusted_rollout(codex_home, thread_id, remembered):
        return remembered
    sessions = codex_home / "sessions"
    found = _from_uuid7(sessions, thread_id, suffix, tz)
    if found is None:
        found = _from_state_db(codex_home, thread_id, suffix)  # codex's own index: trusted
    if found is None:
        found = _walk(sessions, suffix)
    return found


def trusted_rollout(codex_home: Path, thread_id: str, path: Path) -> bool:
    """Whether `path` may be this thread's rollout: a regular file (not a symlink) under
    `codex_home/sessions`, named `rollout-…-<thread_id>.jsonl`.

    A remembered path comes from the workspace's session file, which the model can write (codex
    runs sandbox-bypassed): anything else would let it feed the mirror, or have consume rewrite,
    a file of its choosing.
    """
    name = path.name
    if not (name.startswith("rollout-") and name.endswith(f"-{thread_id}.jsonl")):
        return False
    try:
        sessions = os.path.realpath(codex_home / "sessions")
        real = os.path.realpath(path)
        if os.path.commonpath([sessions, real]) != sessions or real == sessions:
            return False
        return stat.S_ISREG(os.lstat(path).st_mode)
    except (OSError, ValueError):  # ValueError: a NUL byte in the path
        return False


def uuid7_local_time(thread_id: str, tz: dt.tzinfo | None = None) -> dt.datetime | None:
    """Creation time encoded in a UUIDv7 (its first 48 bits, ms since the epoch), in `tz`."""
    if _UUID7.fullmatch(thread_id) is None:
        return None
    millis = int(thread_id.replace("-", "")[:12], 16)
    try:
        utc = dt.datetime.fromtimestamp(millis / 1000, dt.UTC)
    except (OverflowError, OSError, ValueError):
        return None
    return utc.astimezone(tz) if tz is not None else utc.astimezone()


def _from_uuid7(sessions: Path, thread_id: str, suffix: str, tz: dt.tzinfo | None) -> Path | None:
    created = uuid7_local_time(thread_id, tz)
    if created is None:
        return None
    for skew in _SECOND_SKEW:  # O(1): stat the exact names codex would have chosen
        when = created.replace(microsecond=0) + dt.timedelta(seconds=skew)
        name = f"rollout-{when:%Y-%m-%dT%H-%M-%S}{suffix}"
        candidate = sessions / when.strftime("%Y/%m/%d") / name
        if candidate.is_file():
            return candidate
    # Clock or TZ changes between minting and naming: list that day and its neighbours.
    for days in (0, -1, 1):
        day_dir = sessions / (created + dt.timedelta(days=days)).strftime("%Y/%m/%d")
        found = _scan_dir(day_dir, suffix)
        if found is not None:
            return found
    return None


def _scan_dir(directory: Path, suffix: str) -> Path | None:
    try:
        with os.scandir(directory) as entries:
            for entry in entries:
                if (
                    entry.name.startswith("rollout-")
                    and entry.name.endswith(suffix)
                    and entry.is_file()
                ):
                    return Path(entry.path)
    except OSError:
        return None
    return None


def _from_state_db(codex_home: Path, thread_id: str, suffix: str) -> Path | None:
    """Ask codex's own index; any trouble with the DB (missing, locked, old schema) is a miss."""
    import sqlite3  # only needed on this slower path

    db = codex_home / "state_5.sqlite"
    if not db.is_file():
        return None
    try:
        # mode=ro: never create or migrate codex's DB; a short timeout: a busy DB is just a miss.
        conn = sqlite3.connect(f"{db.resolve().as_uri()}?mode=ro", uri=True, timeout=0.5)
        try:
            row = conn.execute(
                "SELECT rollout_path FROM threads WHERE id = ?", (thread_id,)
            ).fetchone()
        finally:
            conn.close()
    except sqlite3.Error:
        return None
    if not row or not isinstance(row[0], str):
        return None
    path = Path(row[0])
    return path if path.name.endswith(suffix) and path.is_file() else None


def _walk(sessions: Path, suffix: str) -> Path | None:
    # Newest folders first: a thread being resumed is usually recent.
    for root, dirs, files in os.walk(sessions):
        dirs.sort(reverse=True)
        for name in files:
            if name.startswith("rollout-") and name.endswith(suffix):
                return Path(root) / name
    return None
