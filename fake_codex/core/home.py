"""CODEX_HOME: the safety guard, the per-scenario turn counter, and finding rollouts.

The fake never writes into a home a real codex uses: it needs `CODEX_HOME` set explicitly
(and then marks the folder with `.fake-codex-home`) or a default `~/.codex` that already
carries that marker. The turn counter lives in `fake-codex-state.json` (fcntl lock, atomic
replace), so concurrent fakes on one home each get their own turn index.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path

MARKER = ".fake-codex-home"
STATE_FILE = "fake-codex-state.json"


class HomeRefused(Exception):
    """Writing into this CODEX_HOME could damage a real codex installation (exit 78)."""


def home_for_reading(environ: Mapping[str, str]) -> Path:
    explicit = environ.get("CODEX_HOME")
    if explicit:
        return Path(explicit)
    return Path(environ.get("HOME") or os.path.expanduser("~")) / ".codex"


def home_for_writing(environ: Mapping[str, str]) -> Path:
    """The home the fake may write into, creating the marker; raises `HomeRefused`."""
    home = home_for_reading(environ)
    marker = home / MARKER
    if not environ.get("CODEX_HOME"):
        if marker.is_file():
            return home
        raise HomeRefused(
            f"fake-codex: refusing to write into {home}: CODEX_HOME is not set and {home} has no "
            f"{MARKER} marker, so it may belong to a real codex.\n"
            "fake-codex: set CODEX_HOME to a scratch folder (e.g. a test's tmp_path), or create "
            f"{marker} if this folder really is for the fake.\n"
        )
    if not marker.is_file() and (home / "state_5.sqlite").exists():
        raise HomeRefused(
            f"fake-codex: refusing to write into CODEX_HOME={home}: it holds state_5.sqlite, so a "
            f"real codex uses it. Point CODEX_HOME at a scratch folder (or create {marker}).\n"
        )
    home.mkdir(parents=True, exist_ok=True)
    marker.touch()
    return home


def claim_turn(home: Path, scenario_key: str) -> int:
    """Atomically take the next turn index of `scenario_key` (0 for the first invocation)."""
    import fcntl

    with open(home / f"{STATE_FILE}.lock", "a+b") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        path = home / STATE_FILE
        state: dict[str, object] = {"schema_version": 1, "turns_used": {}}
        if path.is_file():
            loaded = json.loads(path.read_text(encoding="utf-8") or "{}")
            if isinstance(loaded, dict):
                state.update(loaded)
        used = state.get("turns_used")
        counters: dict[str, int] = dict(used) if isinstance(used, dict) else {}
        index = counters.get(scenario_key, 0)
        counters[scenario_key] = index + 1
        state["turns_used"] = counters
        tmp = home / f".{STATE_FILE}.{os.getpid()}.tmp"
        tmp.write_text(json.dumps(state, indent=2, sort_keys=True) + "\n", encoding="utf-8")
        os.replace(tmp, path)
        return index


def find_rollout(home: Path, thread_id: str) -> Path | None:
    """The rollout file of `thread_id` anywhere under `sessions/` (codex scans the tree)."""
    sessions = home / "sessions"
    if not sessions.is_dir():
        return None
    matches = sorted(sessions.glob(f"*/*/*/rollout-*-{thread_id.lower()}.jsonl"))
    return matches[0] if matches else None


def latest_rollout(home: Path, cwd: Path | None) -> Path | None:
    """The most recently updated rollout (`--last`), only for `cwd` unless it is None."""
    sessions = home / "sessions"
    if not sessions.is_dir():
        return None
    candidates = sorted(sessions.glob("*/*/*/rollout-*.jsonl"), key=lambda p: p.stat().st_mtime)
    for path in reversed(candidates):
        if cwd is None:
            return path
        with open(path, encoding="utf-8", errors="replace") as fh:
            try:
                first = json.loads(fh.readline())
            except json.JSONDecodeError:
                continue
        if isinstance(first, dict) and first.get("payload", {}).get("cwd") == str(cwd):
            return path
    return None
