"""The MCP server entry codex reads for an agent's `mcp-host`, in codex's own forms.

The `-c mcp_servers.NAME=…` options of one exec, the `codex mcp add` arguments, the entry read back
from `codex mcp get --json`, and the environment names `mcp-host` is configured by. STANDARD
LIBRARY ONLY and import-light: `mcp-host` reads `SOCKET_ENV`/`AGENT_ENV` from here on every exec.
What the keys do on the real 0.169.0 binary is recorded in bridge/NOTES.md.
"""

from __future__ import annotations

import os
from collections import namedtuple
from collections.abc import Mapping, Sequence

# typing.TYPE_CHECKING without importing `typing` (and `re` behind it): ~2-3 ms of every
# mcp-host start, which is on codex's path to its first model request. mypy knows the name.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from pathlib import Path
    from typing import Any, NamedTuple

SOCKET_ENV = "PLEXUM_MCP_SOCKET"
AGENT_ENV = "PLEXUM_MCP_AGENT_ID"
# Codex waits ~1 s for optional servers; `required` makes it wait for ours (up to the startup
# timeout) so the tools are in the first request, and fail the exec loudly when mcp-host is broken.
STARTUP_TIMEOUT_SEC = 10
# A Plexum tool may do real work on the host; codex's default (60 s) would cut it.
TOOL_TIMEOUT_SEC = 600
# What `codex mcp get` says on stderr for a name it does not know.
UNKNOWN_SERVER_TEXT = "No MCP server named"


if TYPE_CHECKING:

    class McpEntry(NamedTuple):
        """The stdio server entry codex should hold for one agent (command, args, env)."""

        command: str
        args: tuple[str, ...]
        env: Mapping[str, str]

else:
    # The same tuple at run time, without `typing` (not a dataclass either: `dataclasses` would
    # cost mcp-host ~10 ms at every start).
    McpEntry = namedtuple("McpEntry", ["command", "args", "env"])


def wanted_entry(agent_id: str, socket_path: Path, plugin_command: Sequence[str]) -> McpEntry:
    if not plugin_command or not os.path.isabs(plugin_command[0]):
        raise ValueError(
            f"plugin_command must start with an absolute path (codex runs it with a filtered "
            f"PATH, and under systemd with no shell PATH at all): {list(plugin_command)!r}"
        )
    return McpEntry(
        command=plugin_command[0],
        args=(*plugin_command[1:], "mcp-host"),
        env={SOCKET_ENV: str(socket_path), AGENT_ENV: agent_id},
    )


def toml_string(value: str) -> str:
    """A TOML basic string (JSON escaping is not enough: TOML has no surrogate pairs)."""
    out = ['"']
    for ch in value:
        code = ord(ch)
        if ch in ('"', "\\"):
            out.append("\\" + ch)
        elif code < 0x20 or code == 0x7F:
            out.append(f"\\u{code:04X}")
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


def _toml_value(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return toml_string(value)
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    if isinstance(value, Mapping):
        items = ", ".join(f"{toml_string(str(k))} = {_toml_value(v)}" for k, v in value.items())
        return "{" + items + "}"
    raise TypeError(f"no TOML form for {value!r}")


def _extra_keys() -> dict[str, object]:
    return {
        "startup_timeout_sec": STARTUP_TIMEOUT_SEC,
        "tool_timeout_sec": TOOL_TIMEOUT_SEC,
        "required": True,
        # exec without --dangerously-bypass-approvals-and-sandbox auto-cancels MCP calls that need
        # an approval (peers pain point 6); the tools are the host's own, so approve them.
        "default_tools_approval_mode": "approve",
    }


def exec_overrides(name: str) -> list[str]:
    """`-c mcp_servers.NAME.KEY=VALUE` for what `codex mcp add` cannot write (mode `global`)."""
    argv: list[str] = []
    for key, value in _extra_keys().items():
        argv += ["-c", f"mcp_servers.{name}.{key}={_toml_value(value)}"]
    return argv


def server_table(
    agent_id: str, socket_path: Path, plugin_command: Sequence[str]
) -> dict[str, object]:
    """The whole entry as a table: `mcp_servers.NAME` on an exec, or in app-server's `config`."""
    entry = wanted_entry(agent_id, socket_path, plugin_command)
    return {
        "command": entry.command,
        "args": list(entry.args),
        "env": dict(entry.env),
        **_extra_keys(),
    }


def per_turn_overrides(
    name: str, socket_path: Path, agent_id: str, plugin_command: Sequence[str]
) -> list[str]:
    """`-c mcp_servers.NAME={command=…, args=[…], env={…}, …}`: the whole entry, for one exec."""
    table = server_table(agent_id, socket_path, plugin_command)
    return ["-c", f"mcp_servers.{name}={_toml_value(table)}"]


def get_args(name: str) -> list[str]:
    """`codex mcp get NAME --json` (without the binary)."""
    return ["mcp", "get", name, "--json"]


def add_args(name: str, entry: McpEntry) -> list[str]:
    """`codex mcp add NAME --env K=V… -- COMMAND ARGS…` (without the binary)."""
    args = ["mcp", "add", name]
    for key, value in entry.env.items():
        args += ["--env", f"{key}={value}"]
    return [*args, "--", entry.command, *entry.args]


def entry_from_get(data: Any) -> McpEntry | None:
    """The stdio entry in `mcp get --json` output; None for anything else (e.g. an HTTP server)."""
    transport = data.get("transport") if isinstance(data, dict) else None
    if not isinstance(transport, dict) or transport.get("type") != "stdio":
        return None
    env = transport.get("env") or {}
    return McpEntry(
        command=str(transport.get("command")),
        args=tuple(str(a) for a in transport.get("args") or ()),
        env={str(k): str(v) for k, v in env.items()},
    )


def is_disabled(data: Any) -> bool:
    """Whether `mcp get --json` output describes a disabled entry (it would start no server)."""
    return isinstance(data, dict) and data.get("enabled") is False
