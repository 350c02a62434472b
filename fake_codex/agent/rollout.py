"""The rollout file: where it lives, how lines are appended, and what resume reads back.

Path `$CODEX_HOME/sessions/YYYY/MM/DD/rollout-YYYY-MM-DDThh-mm-ss-<thread>.jsonl` in LOCAL time;
timestamps inside are UTC with milliseconds. Lines are appended and flushed one by one through
an open handle, like codex. Resume continues `ordinal` from the count of valid lines and starts
on a fresh line when the file ends mid-line.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from fake_codex.core.events import Totals
from fake_codex.core.output import encode


def utc_timestamp(ns: int | None = None) -> str:
    ns = time.time_ns() if ns is None else ns
    secs, rem = divmod(ns, 1_000_000_000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(secs)) + f".{rem // 1_000_000:03d}Z"


def rollout_path(home: Path, thread_id: str, now: float | None = None) -> Path:
    local = time.localtime(time.time() if now is None else now)
    day = time.strftime("%Y/%m/%d", local)
    stamp = time.strftime("%Y-%m-%dT%H-%M-%S", local)
    return home / "sessions" / day / f"rollout-{stamp}-{thread_id}.jsonl"


class RolloutWriter:
    """Appends envelope lines; a `None` path (ephemeral) writes nothing."""

    def __init__(self, path: Path | None, with_ordinal: bool, next_ordinal: int = 0) -> None:
        self.path = path
        self._with_ordinal = with_ordinal
        self._ordinal = next_ordinal
        self._fh: IO[str] | None = None
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            needs_newline = False
            if path.exists() and path.stat().st_size:
                with open(path, "rb") as fh:
                    fh.seek(-1, 2)
                    needs_newline = fh.read(1) != b"\n"
            self._fh = open(path, "a", encoding="utf-8")  # noqa: SIM115 - lives for the turn
            if needs_newline:
                self._fh.write("\n")
                self._fh.flush()

    def write(self, kind: str, payload: Any, metadata: Any = None) -> None:
        if self._fh is None:
            return
        line: dict[str, Any] = {"timestamp": utc_timestamp()}
        if self._with_ordinal:
            line["ordinal"] = self._ordinal
        line["type"] = kind
        line["payload"] = payload
        if metadata is not None and self._with_ordinal:
            line["metadata"] = metadata
        self._fh.write(encode(line) + "\n")
        self._fh.flush()
        self._ordinal += 1

    def close(self) -> None:
        if self._fh is not None:
            self._fh.close()
            self._fh = None


@dataclass(frozen=True)
class ThreadHistory:
    """What a resume needs from an existing rollout."""

    valid_lines: int
    last_model: str | None
    totals: Totals
    cwd: str | None
    last: Totals = field(default_factory=Totals)
    """The last request's usage (`last_token_usage` of the last token count)."""
    last_effort: str | None = None
    """The last turn_context's `effort` (absent = the model's default)."""


def read_history(path: Path) -> ThreadHistory:
    """Scan a rollout, skipping truncated or garbage lines as codex does."""
    valid = 0
    model: str | None = None
    totals = Totals()
    last = Totals()
    cwd: str | None = None
    effort: str | None = None
    with open(path, "rb") as fh:
        for raw in fh:
            try:
                line = json.loads(raw)
            except (json.JSONDecodeError, UnicodeDecodeError):
                continue
            if not isinstance(line, dict):
                continue
            valid += 1
            payload = line.get("payload")
            if not isinstance(payload, dict):
                continue
            if line.get("type") == "session_meta" and isinstance(payload.get("cwd"), str):
                cwd = payload["cwd"]
            if line.get("type") == "turn_context" and isinstance(payload.get("model"), str):
                model = payload["model"]
                raw_effort = payload.get("effort")
                effort = raw_effort if isinstance(raw_effort, str) else None
            info = payload.get("info") if payload.get("type") == "token_count" else None
            if isinstance(info, dict) and isinstance(info.get("total_token_usage"), dict):
                totals = Totals.from_mapping(info["total_token_usage"])
                if isinstance(info.get("last_token_usage"), dict):
                    last = Totals.from_mapping(info["last_token_usage"])
    return ThreadHistory(valid, model, totals, cwd, last, effort)
