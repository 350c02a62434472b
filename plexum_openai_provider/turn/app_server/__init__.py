"""The `app-server` backend: one warm `codex app-server` per CODEX_HOME, threads loaded in it.

`pool` owns the processes (lazy start, restart, teardown) and the thread operations on them (open,
resume, reload, unload, interrupt, a turn's notifications); `loaded` marks the threads they hold
for other plugin processes; `params` builds what is sent, `notifications` maps what comes back to
canonical events; `app_server_attempt` runs one turn on it. The JSON-RPC client is
`rpc_client.py`. Opt-in with config `backend: "app-server"` (docs/app-server.md).
"""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any

from ...config import codex_env
from ..backend import AttemptEvents, AttemptSetup, ToolSetup


class AppServerBackend:
    """`Backend` for the warm app-server: tools as the thread's `mcp_servers`, turns on a thread."""

    steers = True  # `turn/steer` with `expectedTurnId`, in every pinned version's stable schema

    def offer_tools(self, setup: ToolSetup) -> contextlib.AbstractAsyncContextManager[Any]:
        from ..tools import offer_thread_tools

        request = setup.request
        return offer_thread_tools(
            setup.config, request.agent_id, request.tools, setup.call, codex_pid=setup.codex_pid
        )

    def attempt(self, setup: AttemptSetup, tools: Any) -> AttemptEvents:
        from .app_server_attempt import AppServerAttempt

        attempt = AppServerAttempt(
            setup,
            env=codex_env(setup.config),
            mcp_servers=tools or {},
            image_paths=_image_paths(setup.turn_args),
        )
        return attempt.run()


def _image_paths(turn_args: tuple[str, ...]) -> tuple[Path, ...]:
    """The image copies in the turn's private folder, from its `--image PATH` options."""
    return tuple(Path(turn_args[i + 1]) for i, a in enumerate(turn_args[:-1]) if a == "--image")


BACKEND = AppServerBackend()
