"""The end-of-turn mirror: the tool calls a turn added to codex's rollout, position kept per thread.

Before a turn, `start_position` says where this turn's lines will begin (the end of the file as it
is, for a thread whose position was never recorded); after it, `mirror_turn` reads from there and
returns `tool_call` / `tool_result` events with codex's real call ids, plus the new position.
A rollout that cannot be found or read costs a warning, never the turn.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from ..codex.rollout import locate_rollout, read_tool_calls
from ..config import HostConfig, codex_home
from ..errors import RolloutError
from ..events import CanonicalEvent, WarningEvent
from ..sessions import ThreadRecord

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RolloutPosition:
    path: Path | None
    offset: int


def start_position(config: HostConfig, record: ThreadRecord | None) -> RolloutPosition:
    if record is None:
        return RolloutPosition(None, 0)  # a new thread: its file starts with this turn
    remembered = Path(record.rollout_path) if record.rollout_path else None
    if remembered is not None and record.rollout_offset is not None and remembered.exists():
        return RolloutPosition(remembered, record.rollout_offset)
    try:
        path = locate_rollout(codex_home(config), record.thread_id, remembered=remembered)
    except (OSError, ValueError) as exc:
        log.warning("cannot locate the rollout of thread %s: %s", record.thread_id, exc)
        path = None
    # Unknown position: what is in the file now belongs to earlier turns.
    offset = path.stat().st_size if path is not None else 0
    return RolloutPosition(path, offset)


def mirror_turn(
    config: HostConfig, thread_id: str, start: RolloutPosition
) -> tuple[list[CanonicalEvent], RolloutPosition]:
    """The tool calls this turn added to the thread's rollout, and the position after them."""
    try:
        path = start.path if start.path is not None and start.path.exists() else None
        if path is None:
            path = locate_rollout(codex_home(config), thread_id)
        if path is None:
            return [], start
        result = read_tool_calls(path, start.offset)
    except (OSError, ValueError, RolloutError) as exc:
        message = f"the tool calls of this turn could not be read from codex's rollout: {exc}"
        return [WarningEvent(message)], start
    return list(result.events), RolloutPosition(path, result.offset)
