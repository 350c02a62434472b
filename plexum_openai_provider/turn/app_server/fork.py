"""`thread/fork` on codex app-server: a new thread continuing from a copy of another's history.

With backend `app-server` the warm server of the pool forks (then unloads the new thread, which
the session's next turn resumes from disk with its own settings); with `exec`, a short-lived
`codex app-server` is started for the fork and ended (EOF, bounded wait, group killed) — codex
writes the new rollout at once (0.135.0-0.171.0). Never a copy of rollout files by hand.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from pathlib import Path

from ...codex.thread_id import is_plain_id
from ...config import HostConfig
from ...errors import AppServerStartError, ControlError, RpcError, ServerGone
from .params import thread_fork_params
from .pool import AppServer, acquire, start_unpooled

FORK_TIMEOUT_S = 60.0  # codex reads the whole source rollout before it answers


async def fork_thread(
    config: HostConfig,
    env: Mapping[str, str],
    thread_id: str,
    workspace: Path,
    *,
    agent: str | None = None,
) -> tuple[str, Path | None]:
    """The new thread's id and rollout path. Raises ControlError `fork_failed`."""
    warm = config.backend == "app-server"
    try:
        if not warm:
            server = await start_unpooled(config, env)
        elif agent is None:
            server = await acquire(config, env)
        else:  # the agent's own warm server (one per agent), where its thread may be loaded
            server = await acquire(config, env, agent)
    except (AppServerStartError, OSError) as exc:
        raise ControlError("fork_failed", f"codex app-server could not start: {exc}") from exc
    try:
        return await _fork(server, thread_id, workspace, keep_loaded=warm)
    finally:
        if not warm:
            await server.close()


async def _fork(
    server: AppServer, thread_id: str, workspace: Path, *, keep_loaded: bool
) -> tuple[str, Path | None]:
    try:
        async with asyncio.timeout(FORK_TIMEOUT_S):
            result = await server.rpc.request(
                "thread/fork", thread_fork_params(thread_id, workspace)
            )
    except RpcError as exc:
        raise ControlError(
            "fork_failed", f"codex refused to fork {thread_id}: {exc.message}"
        ) from exc
    except (ServerGone, TimeoutError) as exc:
        raise ControlError(
            "fork_failed", f"codex app-server did not fork {thread_id}: {exc!r}"
        ) from exc
    thread = result.get("thread")
    new_id = thread.get("id") if isinstance(thread, dict) else None
    if not isinstance(new_id, str) or not is_plain_id(new_id):
        raise ControlError("fork_failed", f"codex forked a thread without a usable id: {new_id!r}")
    if keep_loaded:
        # A fork just made is loaded with none of the session's settings (its model, tools), and
        # on 0.150+ it answered its first turn without the copied history: unload it, so the
        # next turn resumes it from disk like any other thread.
        server.add_loaded(new_id)
        try:
            async with asyncio.timeout(FORK_TIMEOUT_S):
                await server.unload(new_id)
        except (RpcError, ServerGone, TimeoutError) as exc:
            raise ControlError(
                "fork_failed", f"codex app-server could not unload fork {new_id}: {exc!r}"
            ) from exc
    path = thread.get("path") if isinstance(thread, dict) else None
    return new_id, Path(path) if isinstance(path, str) and path else None
