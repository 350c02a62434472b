"""What `doctor` finds of codex's writer locks: threads held by a process other than this plugin
(turns on their sessions get `thread_busy` until it lets go), and stale lock files (harmless)."""

from __future__ import annotations

from pathlib import Path

from ...ownership import LOCK_DIR
from ...ownership.holders import Holder, ancestors, command_of
from ...ownership.writer_lock import LockState, scan
from .finding import Finding

_PLUGIN_MARKS = ("plexum-openai-provider", "plexum_openai_provider")


def _ours(holder: Holder) -> bool:
    """Held by a codex this plugin started: the holder or one of its parents is the plugin."""
    if holder.pid is None:
        return False
    for pid in (holder.pid, *ancestors(holder.pid)):
        command = command_of(pid) or ""
        if any(mark in command for mark in _PLUGIN_MARKS):
            return True
    return False


def check_threads(home: Path) -> list[Finding]:
    if not (home / LOCK_DIR).is_dir():
        return [
            Finding(
                "threads",
                "info",
                f"no {LOCK_DIR}/ in {home}: no codex ≥ 0.150 has run a thread here (0.135 takes "
                "no writer lock; see docs/sharing-codex-home.md for what that leaves unprotected)",
            )
        ]
    states = list(scan(home))
    held = [s for s in states if s.held]
    foreign = [s for s in held if not any(_ours(h) for h in s.holders)]
    stale = [s for s in states if s.stale]
    found: list[Finding] = []
    if foreign:
        found.append(
            Finding(
                "threads",
                "warn",
                f"{len(foreign)} thread(s) held by a process other than this plugin: "
                + "; ".join(_held_by(s) for s in foreign),
                "a turn or consume on those sessions gets `thread_busy` until that process lets "
                "go: end it (or close the session in the codex TUI), or wait for it",
            )
        )
    else:
        ours = len(held)
        found.append(
            Finding(
                "threads",
                "ok",
                f"no thread held by another process ({ours} held by this plugin's codex)"
                if ours
                else "no thread is held by any codex process now",
            )
        )
    if stale:
        found.append(
            Finding(
                "stale_locks",
                "info",
                f"{len(stale)} stale lock file(s) in {home / LOCK_DIR} (left by a codex that was "
                "killed, or that could not tidy up): harmless, the next codex takes them over",
                "nothing to do; they may be deleted while no codex runs",
            )
        )
    return found


def _held_by(state: LockState) -> str:
    who = ", ".join(h.describe() for h in state.holders) or "a process the OS does not name"
    return f"thread {state.thread_id} by {who}"
