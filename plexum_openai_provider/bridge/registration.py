"""Codex's MCP entry for an agent's `mcp-host`: written with codex's own CLI, or per exec.

`ensure_registered` (mode `global`) reads `codex mcp get NAME --json` and runs `codex mcp add` only
when the entry is missing or differs (command, args, env); it never edits config.toml itself.
`per_turn_overrides` (mode `per-turn`) is the `-c mcp_servers.NAME={…}` argv that defines the whole
server for one exec, and `exec_overrides` adds what `mcp add` cannot write, on every exec.
What the keys do on the real 0.169.0 binary is recorded in bridge/NOTES.md.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from plexum_openai_provider.bridge.errors import RegistrationError
from plexum_openai_provider.bridge.names import server_name

SOCKET_ENV = "PLEXUM_MCP_SOCKET"
AGENT_ENV = "PLEXUM_MCP_AGENT_ID"
# Codex waits ~1 s for optional servers; `required` makes it wait for ours (up to the startup
# timeout) so the tools are in the first request, and fail the exec loudly when mcp-host is broken.
STARTUP_TIMEOUT_SEC = 10
# A Plexum tool may do real work on the host; codex's default (60 s) would cut it.
TOOL_TIMEOUT_SEC = 600
_CLI_TIMEOUT = 30.0


@dataclass(frozen=True)
class McpEntry:
    """The stdio server entry codex should hold for one agent."""

    command: str
    args: tuple[str, ...]
    env: Mapping[str, str]


@dataclass(frozen=True)
class RegistrationResult:
    name: str
    action: Literal["unchanged", "added", "replaced"]
    entry: McpEntry


def default_plugin_command() -> list[str]:
    """This interpreter running `mcp_host` directly: absolute, and no console-script detour."""
    return [sys.executable, "-m", "plexum_openai_provider.mcp_host"]


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


def per_turn_overrides(
    name: str, socket_path: Path, agent_id: str, plugin_command: Sequence[str]
) -> list[str]:
    """`-c mcp_servers.NAME={command=…, args=[…], env={…}, …}`: the whole entry, for one exec."""
    entry = wanted_entry(agent_id, socket_path, plugin_command)
    table: dict[str, object] = {
        "command": entry.command,
        "args": list(entry.args),
        "env": dict(entry.env),
        **_extra_keys(),
    }
    return ["-c", f"mcp_servers.{name}={_toml_value(table)}"]


async def _codex(
    binary: str, args: Sequence[str], env: Mapping[str, str], name: str
) -> tuple[int, str, str]:
    try:
        proc = await asyncio.create_subprocess_exec(
            binary,
            *args,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env=dict(env),
            start_new_session=True,
        )
    except OSError as exc:
        raise RegistrationError(f"cannot run {binary!r}: {exc}", name=name) from exc
    try:
        async with asyncio.timeout(_CLI_TIMEOUT):
            out, err = await proc.communicate()
    except TimeoutError:
        proc.kill()
        await proc.wait()
        raise RegistrationError(
            f"`codex {' '.join(args[:2])}` did not finish in {_CLI_TIMEOUT:.0f} s", name=name
        ) from None
    assert proc.returncode is not None
    return proc.returncode, out.decode(errors="replace"), err.decode(errors="replace")


def _entry_from_get(data: Any) -> McpEntry | None:
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


async def current_entry(
    codex_binary: str, name: str, env: Mapping[str, str]
) -> tuple[McpEntry | None, bool]:
    """(entry, exists) from `codex mcp get NAME --json`; a missing name is (None, False)."""
    rc, out, err = await _codex(codex_binary, ["mcp", "get", name, "--json"], env, name)
    if rc != 0:
        if "No MCP server named" in err:
            return None, False
        raise RegistrationError("`codex mcp get` failed", name=name, exit_code=rc, stderr=err)
    try:
        data = json.loads(out)
    except ValueError as exc:
        raise RegistrationError(
            f"`codex mcp get --json` printed no JSON: {out[:200]!r}", name=name
        ) from exc
    # A disabled entry would start no server at all: treat it as stale.
    if isinstance(data, dict) and data.get("enabled") is False:
        return None, True
    return _entry_from_get(data), True


async def ensure_registered(
    codex_binary: str | Path,
    agent_id: str,
    socket_path: Path,
    plugin_command: Sequence[str],
    *,
    env: Mapping[str, str],
    codex_home: Path | None = None,
) -> RegistrationResult:
    """Make codex's global entry for `agent_id` match; run `codex mcp add` only when it differs."""
    name = server_name(agent_id)
    wanted = wanted_entry(agent_id, socket_path, plugin_command)
    run_env = dict(env)
    if codex_home is not None:
        run_env["CODEX_HOME"] = str(codex_home)
    binary = str(codex_binary)
    have, exists = await current_entry(binary, name, run_env)
    if have == wanted:
        return RegistrationResult(name, "unchanged", wanted)
    add = ["mcp", "add", name]
    for key, value in wanted.env.items():
        add += ["--env", f"{key}={value}"]
    add += ["--", wanted.command, *wanted.args]
    rc, _out, err = await _codex(binary, add, run_env, name)
    if rc != 0:
        raise RegistrationError("`codex mcp add` failed", name=name, exit_code=rc, stderr=err)
    return RegistrationResult(name, "replaced" if exists else "added", wanted)
