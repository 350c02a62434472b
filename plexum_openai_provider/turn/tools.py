"""The tools a turn offers codex: the exec's MCP argv, and the warm server around the turn.

`offer_tools(...)` yields the extra `codex exec` options and serves the tools on the agent's stable
socket until the block ends. Mode `per-turn` puts the whole server entry on the exec's argv (nothing
is written to codex's config.toml); mode `global` registers it once per agent with `codex mcp add`
(checked with `codex mcp get`, repaired when stale). Only the codex process of this turn, or a
descendant of it, may use the socket. The bridge (stdlib only) is imported lazily.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from ..bridge.spec import ToolCallback, ToolSpec
from ..config import HostConfig
from ..errors import BridgeError, ConfigError

if TYPE_CHECKING:
    from ..bridge.socket_path import Listener

# Registrations this process has made sure of (binary, codex_home, agent, socket): `codex mcp get`
# once per agent, again when the socket path changes.
_registered: set[tuple[str, str | None, str, str]] = set()


@contextlib.asynccontextmanager
async def offer_tools(
    config: HostConfig,
    agent_id: str,
    tools: tuple[ToolSpec, ...],
    call: ToolCallback,
    *,
    codex_pid: Callable[[], int | None],
    env: Mapping[str, str],
    listener: Listener | None = None,
) -> AsyncIterator[list[str]]:
    """Serve `tools` for one turn; yields the `-c` options that make codex start `mcp-host`.
    `listener`: the agent's socket, bound already by a cold `say`'s head start.

    Raises `BridgeError` (unsafe socket dir, socket in use, registration failed) before yielding.
    """
    from ..bridge.names import server_name
    from ..bridge.registration import default_plugin_command, ensure_registered
    from ..codex.mcp_entry import exec_overrides

    socket_path = agent_socket(config, agent_id)
    name = server_name(agent_id)
    plugin_command = default_plugin_command()
    if config.mcp_registration == "global":
        key = (config.binary, config.codex_home, agent_id, str(socket_path))
        if key not in _registered:
            await ensure_registered(
                config.binary,
                agent_id,
                socket_path,
                plugin_command,
                env=dict(env),
                codex_home=Path(config.codex_home) if config.codex_home else None,
            )
            _registered.add(key)
        argv = exec_overrides(name)
    else:
        argv = per_turn_args(agent_id, socket_path)

    async with _serving(socket_path, tools, call, agent_id, codex_pid, listener):
        yield argv


@contextlib.asynccontextmanager
async def offer_thread_tools(
    config: HostConfig,
    agent_id: str,
    tools: tuple[ToolSpec, ...],
    call: ToolCallback,
    *,
    codex_pid: Callable[[], int | None],
) -> AsyncIterator[dict[str, object]]:
    """Serve `tools` for one turn on app-server; yields its `mcp_servers` table for the thread.

    app-server takes MCP servers per thread (`thread/start` / `thread/resume` `config`), so
    `mcp_registration` does not apply: the whole entry goes with the thread, nothing is written
    to codex's config.toml. Raises `BridgeError` before yielding.
    """
    from ..bridge.names import server_name
    from ..bridge.registration import turn_plugin_command
    from ..codex.mcp_entry import server_table

    socket_path = agent_socket(config, agent_id)
    table: dict[str, object] = {
        server_name(agent_id): server_table(agent_id, socket_path, turn_plugin_command())
    }
    async with _serving(socket_path, tools, call, agent_id, codex_pid):
        yield table


def per_turn_args(agent_id: str, socket_path: Path) -> list[str]:
    """The `-c` options of mode `per-turn`: the whole server entry on the exec's argv."""
    from ..bridge.names import server_name
    from ..bridge.registration import turn_plugin_command
    from ..codex.mcp_entry import per_turn_overrides

    name = server_name(agent_id)
    return per_turn_overrides(name, socket_path, agent_id, turn_plugin_command())


def agent_socket(config: HostConfig, agent_id: str) -> Path:
    """The agent's socket path, its folder made safe; an unusable `socket_dir` is reported."""
    from ..bridge.socket_path import ensure_socket_dir, stable_socket_path

    socket_dir = Path(config.socket_dir) if config.socket_dir else None
    try:
        socket_path = stable_socket_path(agent_id, socket_dir=socket_dir)
    except ValueError as exc:  # a socket_dir too long for sun_path: the operator's to fix
        raise ConfigError(str(exc), path=config.source, key="socket_dir") from None
    try:
        ensure_socket_dir(socket_path.parent)
    except OSError as exc:
        # A parent that is a regular file, no permission, a read-only file system.
        raise BridgeError(f"cannot use socket_dir {socket_path.parent}: {exc}") from exc
    return socket_path


@contextlib.asynccontextmanager
async def _serving(
    socket_path: Path,
    tools: tuple[ToolSpec, ...],
    call: ToolCallback,
    agent_id: str,
    codex_pid: Callable[[], int | None],
    listener: Listener | None = None,
) -> AsyncIterator[None]:
    """Serve `tools` on `socket_path` for one turn, to `codex_pid()`'s descendants only (mcp-host
    is started by the codex process of this turn, or by the warm app-server serving it)."""
    from ..bridge.mcp_server import serve_tools
    from ..bridge.peers import descends_from

    def allow_peer(pid: int) -> bool:
        leader = codex_pid()
        return leader is not None and descends_from(pid, leader)

    try:
        serving = serve_tools(
            socket_path, tools, call, agent_id=agent_id, allow_peer=allow_peer, listener=listener
        )
        server = await serving.__aenter__()
    except OSError as exc:
        raise BridgeError(f"cannot listen on {socket_path}: {exc}") from exc
    try:
        yield
    finally:
        server.end_turn()
        await serving.__aexit__(None, None, None)
