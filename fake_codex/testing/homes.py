"""Throwaway codex homes and what a codex leaves in them: `isolated_home` (refuses a real user's
codex home: `UnsafeCodexHome`), the rollouts (`rollout_paths`, `read_rollout`) and the fake's
invocation log records (`LoggedInvocation`). Standard library only.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fake_codex.core.home import MARKER

JsonObject = dict[str, Any]


# Written by a real codex into a home it uses; a folder holding one without the fake's marker is
# someone's real codex home.
_REAL_HOME_FILES = ("state_5.sqlite", "auth.json", "sessions")


class UnsafeCodexHome(RuntimeError):
    """A fixture was about to use a CODEX_HOME that may hold a real codex's data."""


def real_codex_home() -> Path:
    """`~/.codex` of the user running the tests (from HOME, like codex)."""
    return Path(os.path.expanduser("~")) / ".codex"


def isolated_home(path: Path, user_home: Path | None = None) -> Path:
    """`path` as a CODEX_HOME for tests, or UnsafeCodexHome: never `~/.codex` (nor inside or
    above it), never a folder a real codex has written to (unless the fake marked it)."""
    resolved = path.resolve()
    real = (user_home or real_codex_home()).resolve()
    if resolved == real or real in resolved.parents or resolved in real.parents:
        raise UnsafeCodexHome(
            f"refusing to use {path} as CODEX_HOME: it is (or contains, or is inside) {real}, "
            "the real codex home; give the fixture a throwaway folder (e.g. tmp_path)"
        )
    if resolved.is_dir() and not (resolved / MARKER).exists():
        found = [name for name in _REAL_HOME_FILES if (resolved / name).exists()]
        if found:
            raise UnsafeCodexHome(
                f"refusing to use {path} as CODEX_HOME: it holds {', '.join(found)}, so a real "
                f"codex may use it; give the fixture an empty throwaway folder"
            )
    return path


@dataclass(frozen=True)
class LoggedInvocation:
    """One line of the fake's invocation log (`FAKE_CODEX_LOG`)."""

    argv: list[str]
    cwd: str
    stdin: str | None
    env: dict[str, str]
    pid: int
    pgid: int
    exit_code: int | None
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_record(cls, record: Mapping[str, Any]) -> LoggedInvocation:
        known = {"argv", "cwd", "stdin", "env", "pid", "pgid", "exit_code"}
        return cls(
            argv=list(record.get("argv", [])),
            cwd=str(record.get("cwd", "")),
            stdin=record.get("stdin"),
            env=dict(record.get("env", {})),
            pid=int(record.get("pid", 0)),
            pgid=int(record.get("pgid", 0)),
            exit_code=record.get("exit_code"),
            extra={k: v for k, v in record.items() if k not in known},
        )


def rollout_paths(home: Path) -> list[Path]:
    """Every rollout under `home/sessions`, oldest first."""
    return sorted((home / "sessions").glob("*/*/*/rollout-*.jsonl"), key=lambda p: p.name)


def read_rollout(home: Path, thread_id: str | None = None) -> list[JsonObject]:
    """The lines of `thread_id`'s rollout (or of the only rollout), parsed."""
    paths = rollout_paths(home)
    if thread_id is not None:
        paths = [p for p in paths if p.stem.endswith(thread_id.lower())]
    if len(paths) != 1:
        names = [p.name for p in rollout_paths(home)]
        wanted = f"thread {thread_id}" if thread_id else "exactly one thread"
        raise LookupError(f"{home}: no single rollout for {wanted}; rollouts: {names}")
    lines = paths[0].read_text(encoding="utf-8").split("\n")  # not splitlines(): U+2028
    return [json.loads(line) for line in lines if line.strip()]
