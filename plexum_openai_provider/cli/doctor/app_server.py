"""`doctor` with `backend: "app-server"`: does `codex app-server` start and answer its handshake?

Started the way a turn starts it (process group, the configured `extra_args`), initialized, then
ended (EOF, bounded wait, group killed). Only run when the config selects that backend.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping

from ...config import HostConfig
from ...errors import AppServerStartError
from ...turn.app_server.pool import acquire, shutdown_all
from .finding import Finding

HANDSHAKE_TIMEOUT_S = 30.0


async def check_app_server(config: HostConfig, env: Mapping[str, str]) -> Finding:
    try:
        async with asyncio.timeout(HANDSHAKE_TIMEOUT_S):
            server = await acquire(config, env)
    except TimeoutError:
        return Finding(
            "app-server",
            "fail",
            f"`codex app-server` did not answer `initialize` within {HANDSHAKE_TIMEOUT_S:g} s",
            "run `codex app-server` by hand to see what it waits for, or set `backend` to exec",
        )
    except AppServerStartError as exc:
        tail = " | ".join(exc.stderr.strip().splitlines()[-3:]) or "(nothing on stderr)"
        return Finding("app-server", "fail", f"{exc}; stderr: {tail}", 'set `backend` to "exec"')
    except OSError as exc:
        return Finding("app-server", "fail", f"`codex app-server` cannot start: {exc}")
    finally:
        await shutdown_all()
    return Finding("app-server", "ok", f"`codex app-server` answers ({server.user_agent})")
