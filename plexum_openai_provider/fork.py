"""Fork: a new session of the same workspace continuing from a copy of a session's codex thread.

Takes the workspace lock (no turn of the workspace runs meanwhile; waits up to `consume_wait_s`),
asks codex for `thread/fork` (`turn/app_server/fork.py`), and stores the new thread for the new
session with the mirror's position at the end of the copied history, so its first turn reports
only its own tool calls. The two sessions then diverge: each has its own thread and rollout, and
consume on one never touches the other's file.
"""

from __future__ import annotations

import asyncio
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .config import HostConfig, codex_env
from .errors import ControlError, SessionStoreError
from .sessions import SessionStore, ThreadRecord, acquire_workspace_lock


@dataclass(frozen=True)
class ForkResult:
    session_id: str
    thread_id: str
    from_session_id: str
    from_thread_id: str

    def to_json(self) -> dict[str, Any]:
        return {
            "session_id": self.session_id,
            "thread_id": self.thread_id,
            "forked_from": {"session_id": self.from_session_id, "thread_id": self.from_thread_id},
        }


async def fork_session(
    config: HostConfig,
    workspace: Path,
    session_id: str,
    new_session_id: str,
    *,
    agent: str | None = None,
) -> ForkResult:
    """`agent`: whose warm app-server forks (backend `app-server`; one server per agent).
    Raises ControlError `fork_failed` saying why (nothing is stored then)."""
    if new_session_id == session_id:
        raise ControlError("fork_failed", "the new session must differ from the one forked")
    try:
        lock_fd = await asyncio.wait_for(
            acquire_workspace_lock(workspace), timeout=config.consume_wait_s
        )
    except TimeoutError:
        raise ControlError(
            "fork_failed",
            f"a turn is still running in {workspace} after {config.consume_wait_s:g}s; fork "
            "when it has ended",
        ) from None
    try:
        return await _fork_locked(config, workspace, session_id, new_session_id, agent)
    except SessionStoreError as exc:
        raise ControlError("fork_failed", str(exc)) from exc
    finally:
        os.close(lock_fd)


async def _fork_locked(
    config: HostConfig, workspace: Path, session_id: str, new_session_id: str, agent: str | None
) -> ForkResult:
    from .turn.app_server.fork import fork_thread

    store = SessionStore(workspace)
    record = store.get(session_id)
    if record is None:
        raise ControlError("fork_failed", f"session {session_id!r} has no codex thread yet")
    if store.get(new_session_id) is not None:
        raise ControlError(
            "fork_failed", f"session {new_session_id!r} exists already; fork into a new one"
        )
    new_id, path = await fork_thread(
        config, codex_env(config), record.thread_id, workspace, agent=agent
    )
    offset = await asyncio.to_thread(_size, path) if path is not None else None
    fork = ThreadRecord(
        new_id,
        record.model_arg,  # the thread keeps its model, as a resumed one does
        record.usage_total,  # codex's total of the copy starts where the source's was
        str(path) if offset is not None else None,
        offset,
    )
    await asyncio.to_thread(store.put, new_session_id, fork)
    return ForkResult(new_session_id, new_id, session_id, record.thread_id)


def _size(path: Path) -> int | None:
    try:
        return path.stat().st_size
    except OSError:
        return None
