"""The `mcp_servers` entries of config.toml as codex reads them, and the names the model sees.

`specs_from_config` keeps the enabled stdio servers with their timeouts and tool filters;
`filtered_env` is the environment codex gives a server; `namespaces_for` / `callable_parts` turn
server and tool names into codex's `mcp__<server>__` namespaces (sanitised, hashed when too long).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

PROTOCOL_VERSION = "2025-06-18"


STARTUP_GRACE = 1.0


DEFAULT_STARTUP_TIMEOUT = 10.0


DEFAULT_TOOL_TIMEOUT = 120.0


ENV_PASSTHROUGH = (
    "HOME",
    "LANG",
    "PATH",
    "SHELL",
    "TERM",
    "SSL_CERT_FILE",
    "SSL_CERT_DIR",
    "REQUESTS_CA_BUNDLE",
    "CURL_CA_BUNDLE",
    "NODE_EXTRA_CA_CERTS",
)


_MAX_NAME = 64


_HASH_LEN = 12


@dataclass(frozen=True)
class ServerSpec:
    name: str
    command: str
    args: tuple[str, ...] = ()
    env: tuple[tuple[str, str], ...] = ()
    env_vars: tuple[str, ...] = ()
    cwd: str | None = None
    required: bool = False
    startup_timeout: float = DEFAULT_STARTUP_TIMEOUT
    tool_timeout: float = DEFAULT_TOOL_TIMEOUT
    enabled_tools: tuple[str, ...] | None = None
    disabled_tools: tuple[str, ...] = ()


def _seconds(value: Any, default: float) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return default
    return float(value)


def specs_from_config(config: Mapping[str, Any]) -> list[ServerSpec]:
    """The enabled stdio servers of the merged config, in config order."""
    servers = config.get("mcp_servers")
    if not isinstance(servers, dict):
        return []
    specs: list[ServerSpec] = []
    for name, entry in servers.items():
        if not isinstance(entry, dict) or entry.get("enabled", True) is False:
            continue
        command = entry.get("command")
        if not isinstance(command, str):
            continue  # streamable HTTP (`url`) or malformed: not run by the fake
        env = entry.get("env")
        enabled = entry.get("enabled_tools")
        startup = entry.get("startup_timeout_sec")
        if startup is None and isinstance(entry.get("startup_timeout_ms"), int):
            startup = entry["startup_timeout_ms"] / 1000
        specs.append(
            ServerSpec(
                name=name,
                command=command,
                args=tuple(str(a) for a in entry.get("args") or ()),
                env=tuple((str(k), str(v)) for k, v in env.items())
                if isinstance(env, dict)
                else (),
                env_vars=tuple(str(v) for v in entry.get("env_vars") or ()),
                cwd=entry["cwd"] if isinstance(entry.get("cwd"), str) else None,
                required=entry.get("required") is True,
                startup_timeout=_seconds(startup, DEFAULT_STARTUP_TIMEOUT),
                tool_timeout=_seconds(entry.get("tool_timeout_sec"), DEFAULT_TOOL_TIMEOUT),
                enabled_tools=tuple(enabled) if isinstance(enabled, list) else None,
                disabled_tools=tuple(entry.get("disabled_tools") or ()),
            )
        )
    return specs


def filtered_env(spec: ServerSpec, parent: Mapping[str, str]) -> dict[str, str]:
    env = {k: parent[k] for k in (*ENV_PASSTHROUGH, *spec.env_vars) if k in parent}
    env.update(dict(spec.env))
    return env


# -- model-visible names (codex-rs/codex-mcp/src/tools.rs; collisions VERIFIED in codex-facts §5)
def sanitize(name: str) -> str:
    out = "".join(c if (c.isascii() and c.isalnum()) or c == "_" else "_" for c in name)
    return out or "_"


def _hash_suffix(raw_identity: str) -> str:
    import hashlib  # here: only name collisions need it; hashlib loads OpenSSL at start-up

    return "_" + hashlib.sha1(raw_identity.encode()).hexdigest()[:_HASH_LEN]


def namespaces_for(server_names: list[str]) -> dict[str, str]:
    """server name -> `mcp__<sanitised>`; colliding names all get `_<sha1[:12]>` appended."""
    base: dict[str, str] = {}
    for name in server_names:
        ns = sanitize(name)
        base[name] = ns if ns.startswith("mcp__") else f"mcp__{ns}"
    counts: dict[str, int] = {}
    for ns in base.values():
        counts[ns] = counts.get(ns, 0) + 1
    return {
        name: ns + _hash_suffix(f"{name}\0{name}\0") if counts[ns] > 1 else ns
        for name, ns in base.items()
    }


def callable_parts(namespace: str, tool: str, raw: str) -> tuple[str, str]:
    """(namespace, tool name) the model sees; over-long pairs get a hashed tool name."""
    name = sanitize(tool)
    if len(namespace) + len(name) + 2 <= _MAX_NAME:
        return namespace, name
    suffix = _hash_suffix(raw)
    room = _MAX_NAME - len(namespace) - 2
    if room >= len(suffix):
        return namespace, name[: room - len(suffix)] + suffix
    return namespace[: _MAX_NAME - len(suffix) - 2], suffix


@dataclass(frozen=True)
class ToolRef:
    server: str
    tool: str  # the raw MCP tool name sent in tools/call
    namespace: str
    name: str  # the model-visible tool name inside the namespace

    @property
    def js_name(self) -> str:
        """The code-mode identifier: `tools.mcp__<server>__<tool>`."""
        return f"{self.namespace}__{self.name}"
