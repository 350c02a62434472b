"""The fake app-server's state of one loaded thread: its kept rollout handle, its turn job.

`KeptWriter` is the thread's rollout handle for as long as it is loaded (codex keeps the file
open and ignores edits; the model-visible items it appends are remembered); `JobWriter` is that
handle as one turn sees it (silent once the turn was interrupted); `AppRecorder` reports each
model request's usage as app-server does.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fake_codex.agent.history import compacted_history
from fake_codex.agent.recorder import Recorder
from fake_codex.agent.rollout import RolloutWriter

if TYPE_CHECKING:
    from fake_codex.core.events import Totals
    from fake_codex.mcp.client import McpManager


class KeptWriter(RolloutWriter):
    """The loaded thread's rollout handle (kept open, like codex); remembers what it appends."""

    def __init__(self, path: Path, with_ordinal: bool, next_ordinal: int, items: list[Any]):
        super().__init__(path, with_ordinal, next_ordinal)
        self.items = items

    def write(self, kind: str, payload: Any, metadata: Any = None) -> None:
        super().write(kind, payload, metadata)
        if kind == "response_item" and isinstance(payload, dict):
            self.items.append(payload)
        elif kind == "compacted" and isinstance(payload, dict):
            self.items[:] = compacted_history(payload)  # what the model sees from now on

    def close(self) -> None:
        pass  # the thread's lifetime, not the turn's: see `really_close`

    def really_close(self) -> None:
        super().close()


class JobWriter(RolloutWriter):
    """The thread's writer as one turn sees it: silent once that turn was interrupted (its worker
    may still be sleeping in a slow reply while the next turn writes)."""

    def __init__(self, target: KeptWriter, job: Job) -> None:
        super().__init__(None, False)
        self.path = target.path
        self._target = target
        self._job = job

    def write(self, kind: str, payload: Any, metadata: Any = None) -> None:
        if not self._job.interrupted:
            self._target.write(kind, payload, metadata)

    def close(self) -> None:
        pass


class AppRecorder(Recorder):
    """Reports each model request's usage as `thread/tokenUsage/updated`, as app-server does."""

    on_usage: Callable[[Totals, Totals], None] | None = None

    def token_count(
        self, last: Totals | None, thread: Totals, reasoning_flag: bool | None = False
    ) -> None:
        super().token_count(last, thread, reasoning_flag)
        if last is not None and self.on_usage is not None:
            self.on_usage(last, thread)


@dataclass
class LoadedThread:
    id: str
    path: Path
    cwd: Path
    config: dict[str, Any]
    model: str | None
    writer: KeptWriter
    items: list[Any]  # the model-visible history as loaded, plus what this process appended
    totals: Totals
    last: Totals
    first_turn: bool
    mcp: McpManager | None = None
    running: Job | None = None
    created: int = field(default_factory=lambda: int(time.time()))
    preview: str = ""  # the thread's first prompt
    forked_from: str | None = None


@dataclass
class Job:
    turn_id: str
    interrupted: bool = False
    done: threading.Event = field(default_factory=threading.Event)
    translator: Any = None  # the turn's `notes.Translator`, once its worker runs
    hung: bool = False  # fault no_turn_completed: never done, its end never sent
    approval_policy: str = "never"  # `turn/start`'s; `on-request` asks for escalated commands
    steers: list[str] = field(default_factory=list)  # `turn/steer` texts this turn took


def last_turn_id(path: Path) -> str | None:
    """The id of the rollout's last turn (`turn_id` of its last line that names one)."""
    found = None
    try:
        with path.open(encoding="utf-8", errors="replace") as lines:
            for raw in lines:
                if '"turn_id"' not in raw:
                    continue
                try:
                    payload = json.loads(raw).get("payload")
                except (ValueError, AttributeError):
                    continue
                if isinstance(payload, dict) and isinstance(payload.get("turn_id"), str):
                    found = payload["turn_id"]
    except OSError:
        return None
    return found


def first_prompt(path: Path) -> str:
    """The first user prompt of a rollout (a thread's `preview`), "" when it has none: the first
    user message `response_item` that is not codex's own context (`<environment_context>`…)."""
    try:
        with path.open(encoding="utf-8", errors="replace") as lines:
            for raw in lines:
                if '"role":"user"' not in raw.replace(" ", ""):
                    continue
                try:
                    payload = json.loads(raw).get("payload")
                except (ValueError, AttributeError):
                    continue
                if not isinstance(payload, dict) or payload.get("type") != "message":
                    continue
                texts = [
                    part.get("text", "")
                    for part in payload.get("content") or []
                    if isinstance(part, dict) and part.get("type") == "input_text"
                ]
                text = "".join(t for t in texts if isinstance(t, str))
                if text and not text.startswith("<"):
                    return text
    except OSError:
        return ""
    return ""
