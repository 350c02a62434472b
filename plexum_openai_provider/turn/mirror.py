"""The end-of-turn mirror: the tool calls a turn added to codex's rollout, position kept per thread.

Before a turn, `start_position` says where this turn's lines will begin (the end of the file as it
is, for a thread whose position was never recorded); after it, `mirror_turn` reads from there and
returns `tool_call` / `tool_result` events with codex's real call ids, plus the new position.
A rollout that cannot be found or read costs a warning, never the turn.
"""

from __future__ import annotations

import logging
import os
import stat
from dataclasses import dataclass
from pathlib import Path

from ..codex.rollout import locate_rollout, read_tool_calls
from ..codex.rollout.locate import trusted_rollout
from ..config import HostConfig, codex_home
from ..errors import RolloutError
from ..events import CanonicalEvent, WarningEvent
from ..sessions import ThreadRecord

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RolloutPosition:
    path: Path | None
    offset: int


def remembered_position(config: HostConfig, record: ThreadRecord) -> RolloutPosition | None:
    """The position the session file remembers, if it still holds (this thread's file under
    CODEX_HOME/sessions, a line start inside it); None when the rollout must be located
    (`start_position`). A few system calls: cheap enough to ask on the event loop."""
    if record.rollout_path is None or record.rollout_offset is None:
        return None
    remembered = Path(record.rollout_path)
    home = codex_home(config)
    if trusted_rollout(home, record.thread_id, remembered) and _line_start(
        remembered, record.rollout_offset
    ):
        return RolloutPosition(remembered, record.rollout_offset)
    return None


def start_position(config: HostConfig, record: ThreadRecord | None) -> RolloutPosition:
    """Where this turn's lines will begin in the thread's rollout (taken before codex starts).

    The remembered path and offset come from the workspace (untrusted): the path is used only if
    it is this thread's file under CODEX_HOME/sessions, the offset only if it is a line start
    inside it. Otherwise the file is located afresh and read from its current end, so nothing
    an earlier turn reported is reported again.
    """
    if record is None:
        return RolloutPosition(None, 0)  # a new thread: its file starts with this turn
    home = codex_home(config)
    remembered = Path(record.rollout_path) if record.rollout_path else None
    if remembered is not None and not trusted_rollout(home, record.thread_id, remembered):
        log.warning(
            "plexum-openai-provider: ignoring the remembered rollout %r of thread %s: not this "
            "thread's file under %s",
            record.rollout_path,
            record.thread_id,
            home / "sessions",
        )
        remembered = None
    if (
        remembered is not None
        and record.rollout_offset is not None
        and _line_start(remembered, record.rollout_offset)
    ):
        return RolloutPosition(remembered, record.rollout_offset)
    try:
        path = locate_rollout(home, record.thread_id, remembered=remembered)
        # Unknown position: what is in the file now belongs to earlier turns.
        offset = path.stat().st_size if path is not None else 0
    except (OSError, ValueError) as exc:
        log.warning(
            "plexum-openai-provider: cannot locate the rollout of thread %s: %s",
            record.thread_id,
            exc,
        )
        path, offset = None, 0
    return RolloutPosition(path, offset)


def _line_start(path: Path, offset: int) -> bool:
    """`offset` is inside the file and starts a line (the file did not shrink or change). Opened
    without blocking and checked to be a regular file once open: this runs on the event loop
    (`remembered_position`), and the file may have been swapped for a FIFO since it was checked."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError:
        return False
    try:
        info = os.fstat(fd)
        return (
            stat.S_ISREG(info.st_mode)
            and 0 <= offset <= info.st_size
            and (offset == 0 or os.pread(fd, 1, offset - 1) == b"\n")
        )
    except OSError:
        return False
    finally:
        os.close(fd)


def mirror_turn(
    config: HostConfig, thread_id: str, start: RolloutPosition
) -> tuple[list[CanonicalEvent], RolloutPosition]:
    """The tool calls this turn added to the thread's rollout, and the position after them.

    When the rollout cannot be read, the position returned is unknown (no path): the next turn
    locates the file afresh instead of failing on the same stored position forever.
    """
    try:
        path = start.path if start.path is not None and start.path.exists() else None
        if path is None:
            path = locate_rollout(codex_home(config), thread_id)
        if path is None:
            return [], RolloutPosition(None, 0)
        result = read_tool_calls(path, start.offset)
    except (OSError, ValueError, RolloutError) as exc:
        message = f"the tool calls of this turn could not be read from codex's rollout: {exc}"
        return [WarningEvent(message)], RolloutPosition(None, 0)
    return list(result.events), RolloutPosition(path, result.offset)
