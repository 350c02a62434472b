"""Consume: blank tool calls in a session's codex rollout so a resumed codex no longer sees them.

Takes the workspace lock, so it never rewrites a rollout while a turn of that workspace runs
(codex appends through an open handle: a rename under it would lose every later line), then holds
codex's own writer lock on the thread for the whole rewrite, with no other process writing the
rollout (any codex: `exec`, the TUI, another daemon; docs/sharing-codex-home.md); it waits up to
`consume_wait_s` in all, then refuses naming the holder. The mirror's stored position is
translated so it stays valid. A thread loaded in this process's warm app-server is unloaded first
and resumed by the next turn from the rewritten file.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Callable, Iterable
from dataclasses import replace
from pathlib import Path

from .codex.rollout import ConsumeResult, consume_rollout, locate_rollout
from .config import HostConfig, codex_env, codex_home
from .errors import ConsumeError
from .ownership.rewrite_guard import Refusal, hold_for_rewrite
from .ownership.writer_lock import WriterLock
from .sessions import SessionStore, acquire_workspace_lock

__all__ = ["ConsumeError", "ConsumeResult", "consume_blocks"]


async def consume_blocks(
    config: HostConfig, workspace: Path, session_id: str, block_ids: Iterable[str]
) -> ConsumeResult:
    ids = list(block_ids)
    deadline = time.monotonic() + config.consume_wait_s
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
        await _unload(config, record.thread_id)
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
        held = await _hold_thread(config, record.thread_id, path, deadline)

        def rewrite() -> ConsumeResult:
            result = consume_rollout(path, ids, marker=config.consume_marker, offsets=offsets)
            new_offset = result.offsets[0] if result.offsets else None
            store.put(
                session_id, replace(record, rollout_path=str(path), rollout_offset=new_offset)
            )
            return result

        # Once the rewrite has begun it finishes, and is reported, whatever cancels us: the lock
        # must outlive it, and a caller told "cancelled" must not find the rollout rewritten.
        task = asyncio.ensure_future(asyncio.to_thread(rewrite))
        try:
            return await asyncio.shield(task)
        except asyncio.CancelledError:
            result = await task
            current = asyncio.current_task()
            if current is not None:
                current.uncancel()
            return result
        finally:
            if task.done():
                held.release()
            else:  # cancelled twice: both locks are let go only when the rewrite is over
                task.add_done_callback(_release_when_done(held, lock_fd))
                lock_fd = -1
    finally:
        if lock_fd >= 0:
            os.close(lock_fd)


def _release_when_done(held: WriterLock, lock_fd: int) -> Callable[[object], None]:
    """A done-callback letting go of codex's writer lock and the workspace lock."""

    def release(_: object) -> None:
        held.release()
        os.close(lock_fd)

    return release


async def _hold_thread(
    config: HostConfig, thread_id: str, rollout: Path, deadline: float
) -> WriterLock:
    """codex's writer lock on the thread, nobody else writing its rollout: no codex can open the
    thread until it is released (0.135, which takes no lock: see the module docs of the guard)."""
    wait_s = max(0.0, deadline - time.monotonic())
    try:
        got = await hold_for_rewrite(codex_home(config), thread_id, rollout, wait_s=wait_s)
    except (OSError, ValueError) as exc:
        raise ConsumeError(
            f"codex's writer lock for thread {thread_id} cannot be taken ({exc}); the rollout was "
            "left unchanged."
        ) from exc
    if isinstance(got, Refusal):
        how = (
            "holds codex's writer lock on it"
            if got.how == "writer-lock"
            else "has its rollout open for writing"
        )
        raise ConsumeError(
            f"thread {thread_id} is in use: {got.describe()} {how} (still after "
            f"{config.consume_wait_s:g}s); a rewrite now would lose that process's next lines, so "
            "the rollout was left unchanged. Retry when it is done, or raise `consume_wait_s` in "
            "config.json."
        )
    return got


async def _unload(config: HostConfig, thread_id: str) -> None:
    """A warm app-server of this process that has the thread loaded lets go of it first, and a
    thread an earlier unload left archived is unarchived.

    A loaded thread ignores edits to its rollout and appends through an open handle (codex-facts
    §11): the next turn resumes it from the rewritten file instead.
    """
    from .errors import AppServerStartError, RpcError, ServerGone
    from .turn.app_server import loaded
    from .turn.app_server.pool import recover_archived, unload_everywhere

    try:
        await unload_everywhere(thread_id)
        await recover_archived(config, codex_env(config), thread_id)
    except (RpcError, ServerGone, AppServerStartError, OSError) as exc:
        reason = exc.message if isinstance(exc, RpcError) else str(exc)
        if loaded.archived_by_us(codex_home(config), thread_id):
            state = (
                "it is left archived (in archived_sessions/); the next turn or consume of this "
                "session unarchives it"
            )
        else:
            state = "its rollout was left unchanged"
        raise ConsumeError(
            f"codex app-server could not unload thread {thread_id} ({reason}); {state}. Retry, "
            "or restart the plugin."
        ) from exc


def _loaded_elsewhere(config: HostConfig, thread_id: str) -> bool:
    from .turn.app_server.loaded import held_elsewhere

    try:
        return held_elsewhere(codex_home(config), thread_id)
    except (OSError, ValueError):
        return False  # no readable mark: nothing of ours has it loaded
