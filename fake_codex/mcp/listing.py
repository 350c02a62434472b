"""How `codex mcp get|list` print config.toml's server entries: the `--json` documents (captured
shapes, codex-samples/mcp_*.json) and the text forms (approximations: no capture; env masked).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any


def pretty_json(doc: Any) -> str:
    return json.dumps(doc, indent=2, ensure_ascii=False)


def _opt(entry: Mapping[str, Any], k: str) -> Any:
    return entry.get(k)


def server_json(name: str, entry: Mapping[str, Any], listing: bool) -> dict[str, Any]:
    """The `mcp get --json` object (`listing`: the `mcp list --json` element)."""
    enabled = entry.get("enabled", True)
    doc: dict[str, Any] = {"name": name, "enabled": bool(enabled), "disabled_reason": None}
    if "url" in entry:
        doc["transport"] = {
            "type": "streamable_http",
            "url": entry.get("url"),
            "bearer_token_env_var": _opt(entry, "bearer_token_env_var"),
            "http_headers": _opt(entry, "http_headers"),
            "env_http_headers": _opt(entry, "env_http_headers"),
            "http_headers_helper": _opt(entry, "http_headers_helper"),
        }
    else:
        env = entry.get("env")
        doc["transport"] = {
            "type": "stdio",
            "command": entry.get("command"),
            "args": list(entry.get("args") or []),
            "env": dict(env) if isinstance(env, dict) else None,
            "env_vars": list(entry.get("env_vars") or []),
            "cwd": _opt(entry, "cwd"),
        }
    if not listing:
        doc["enabled_tools"] = _opt(entry, "enabled_tools")
        doc["disabled_tools"] = _opt(entry, "disabled_tools")
    doc["startup_timeout_sec"] = _opt(entry, "startup_timeout_sec")
    doc["tool_timeout_sec"] = _opt(entry, "tool_timeout_sec")
    if listing:
        doc["auth_status"] = "bearer_token" if "url" in entry else "unsupported"
    return doc


def _masked_env(entry: Mapping[str, Any]) -> str:
    env = entry.get("env")
    if not isinstance(env, dict) or not env:
        return "-"
    return ", ".join(f"{k}=*****" for k in sorted(env))


def get_text(name: str, entry: Mapping[str, Any]) -> str:
    lines = [name, f"  enabled: {str(bool(entry.get('enabled', True))).lower()}"]
    if "url" in entry:
        lines += ["  transport: streamable_http", f"  url: {entry.get('url')}"]
        lines.append(f"  bearer_token_env_var: {entry.get('bearer_token_env_var') or '-'}")
    else:
        args = entry.get("args") or []
        lines += ["  transport: stdio", f"  command: {entry.get('command')}"]
        lines.append(f"  args: {' '.join(args) if args else '-'}")
        lines.append(f"  cwd: {entry.get('cwd') or '-'}")
        lines.append(f"  env: {_masked_env(entry)}")
    lines.append(f"  remove: codex mcp remove {name}")
    return "\n".join(lines) + "\n"


def _table(header: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    return "".join(
        "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip() + "\n"
        for row in [header, *rows]
    )


def list_text(names: list[str], servers: Mapping[str, Any]) -> str:
    stdio = [n for n in names if "url" not in servers[n]]
    http = [n for n in names if "url" in servers[n]]
    parts: list[str] = []
    if stdio:
        rows = []
        for n in stdio:
            e = servers[n]
            args = " ".join(e.get("args") or []) or "-"
            status = "enabled" if e.get("enabled", True) else "disabled"
            rows.append(
                [
                    n,
                    str(e.get("command")),
                    args,
                    _masked_env(e),
                    e.get("cwd") or "-",
                    status,
                    "Unsupported",
                ]
            )
        parts.append(_table(["Name", "Command", "Args", "Env", "Cwd", "Status", "Auth"], rows))
    if http:
        rows = []
        for n in http:
            e = servers[n]
            status = "enabled" if e.get("enabled", True) else "disabled"
            rows.append(
                [n, str(e.get("url")), e.get("bearer_token_env_var") or "-", status, "Bearer token"]
            )
        parts.append(_table(["Name", "Url", "Bearer Token Env Var", "Status", "Auth"], rows))
    return "\n".join(parts)
