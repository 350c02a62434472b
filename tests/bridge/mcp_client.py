"""An official-SDK MCP client driving a real `mcp-host` subprocess.

`mcp_host_session` starts `mcp-host` (optionally through `launcher.py`, a stand-in codex parent
with a known pid) with the official `mcp` stdio client: a conformance check of our MCP side.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import AsyncIterator
from pathlib import Path

from mcp.client.session import ClientSession
from mcp.client.stdio import StdioServerParameters, stdio_client

LAUNCHER = Path(__file__).with_name("launcher.py")


def host_params(
    socket_path: Path | None, agent_id: str, *, launcher_pidfile: Path | None = None
) -> StdioServerParameters:
    env = {"PLEXUM_MCP_AGENT_ID": agent_id}
    if socket_path is not None:
        env["PLEXUM_MCP_SOCKET"] = str(socket_path)
    if launcher_pidfile is not None:
        args = [str(LAUNCHER), str(launcher_pidfile)]
    else:
        args = ["-m", "plexum_openai_provider.bridge.relay"]
    # The SDK's default env has no PYTHONPATH; the editable install makes the package importable.
    return StdioServerParameters(command=sys.executable, args=args, env=env, cwd=os.getcwd())


@contextlib.asynccontextmanager
async def mcp_host_session(
    socket_path: Path | None, agent_id: str, *, launcher_pidfile: Path | None = None
) -> AsyncIterator[ClientSession]:
    """An official-SDK client session talking to a real `mcp-host` subprocess (not initialized)."""
    params = host_params(socket_path, agent_id, launcher_pidfile=launcher_pidfile)
    with open(os.devnull, "w") as errlog:
        async with (
            stdio_client(params, errlog=errlog) as (read, write),
            ClientSession(read, write, read_timeout_seconds=20) as session,
        ):
            yield session
