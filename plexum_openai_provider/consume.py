"""Consume: blank tool calls in a session's codex rollout so a resumed codex no longer sees them.

Takes the workspace lock, so it never rewrites a rollout while a turn of that workspace runs
(codex appends through an open handle: a rename under it would lose every later line); it waits
up to `consume_wait_s`. The mirror's stored position is translated so it stays valid. A thread
loaded in this process's warm app-server is unloaded first (archive, unarchive) and resumed by the
next turn from the rewritten file.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterable
from dataclasses import replace
from pathlib import Path

from .codex.rollout import ConsumeResult, consume_rollout, locate_rollout
from .config import HostConfig, codex_home
from .errors import ConsumeError
from .sessions import SessionStore, acquire_workspace_lock

__all__ = ["ConsumeError", "ConsumeResult", "consume_blocks"]


async def consume_blocks(
    config: HostConfig, workspace: Path, session_id: str, block_ids: Iterable[str]
) -> ConsumeResult:
    ids = list(block_ids)
    try:
        lock_fd = await asyncio.wait_for(
            acquire_workspace_lock(workspace), timeout=config.consume_wait_s
        )
    except TimeoutError:
        raise ConsumeError(
            f"a turn is still running in {workspace} after {config.consume_wait_s:g}s; its "
            "rollout cannot be rewritten while codex writes it. Retry when the turn has ended, "
            "or raise `consume_wait_s` in config.json."
        ) from None
    try:
        store = SessionStore(workspace)
        record = store.get(session_id)
        if record is None:
            raise ConsumeError(f"session {session_id!r} has no codex thread in {workspace}")
        await _unload(record.thread_id)
        if _loaded_elsewhere(config, record.thread_id):
            raise ConsumeError(
                f"thread {record.thread_id} is loaded in the warm codex app-server of another "
                "plugin process, which holds its rollout open; a rewrite now would lose that "
                "process's next lines. Consume through that process (`serve`'s consume), or "
                "stop it first."
            )
        remembered = Path(record.rollout_path) if record.rollout_path else None
        path = locate_rollout(codex_home(config), record.thread_id, remembered=remembered)
        if path is None:
            raise ConsumeError(
                f"no rollout file for thread {record.thread_id} under {codex_home(config)}/sessions"
            )
        # The stored offset belongs to the stored path only (a forged or stale one is dropped).
        keep = record.rollout_offset is not None and remembered == path
        offsets = [record.rollout_offset] if keep and record.rollout_offset is not None else []
        result = await asyncio.to_thread(
            consume_rollout, path, ids, marker=config.consume_marker, offsets=offsets
        )
        new_offset = result.offsets[0] if result.offsets else None
        store.put(session_id, replace(record, rollout_path=str(path), rollout_offset=new_offset))
        return result
    finally:
        os.close(lock_fd)


async def _unload(thread_id: str) -> None:
    """A warm app-server of this process that has the thread loaded lets go of it first.

    A loaded thread ignores edits to its rollout and appends through an open handle (codex-facts
    §11): the next turn resumes it from the rewritten file instead.
    """
    from .errors import RpcError
    from .turn.app_server.pool import unload_everywhere

    try:
        await unload_everywhere(thread_id)
    except RpcError as exc:
        raise ConsumeError(
            f"codex app-server would not unload thread {thread_id} ({exc.message}); its "
            "rollout was left unchanged. Retry, or restart the plugin."
        ) from exc


def _loaded_elsewhere(config: HostConfig, thread_id: str) -> bool:
    from .turn.app_server.loaded import held_elsewhere

    try:
        return held_elsewhere(codex_home(config), thread_id)
    except (OSError, ValueError):
        return False  # no readable mark: nothing of ours has it loaded
