"""What the provider sends to `codex app-server`: the method subset all pinned versions share.

Pure builders (no I/O). The subset and the versions it was checked on are in docs/app-server.md;
`approvalPolicy: "never"` + `sandbox: "danger-full-access"` is exec's bypass flag exactly.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ...version import __version__

CLIENT_NAME = "plexum-openai-provider"
# The bypass of `codex exec --dangerously-bypass-approvals-and-sandbox` (codex-facts §11).
APPROVAL_POLICY = "never"
SANDBOX = "danger-full-access"

JsonObject = dict[str, Any]


def initialize_params() -> JsonObject:
    return {"clientInfo": {"name": CLIENT_NAME, "version": __version__}}


def _thread_overrides(
    workspace: Path,
    model_arg: str | None,
    mcp_servers: Mapping[str, Any],
    options: Mapping[str, str],
) -> JsonObject:
    params: JsonObject = {
        "cwd": str(workspace),
        "approvalPolicy": APPROVAL_POLICY,
        "sandbox": SANDBOX,
    }
    if model_arg is not None:
        params["model"] = model_arg
    config: JsonObject = dict(options)  # codex config keys, as exec's `-c KEY="VALUE"`
    if mcp_servers:
        # Not stored with the thread: it must go on every start AND resume (codex-facts §11).
        config["mcp_servers"] = dict(mcp_servers)
    if config:
        params["config"] = config
    return params


def thread_start_params(
    workspace: Path,
    model_arg: str | None,
    mcp_servers: Mapping[str, Any],
    options: Mapping[str, str] | None = None,
) -> JsonObject:
    return _thread_overrides(workspace, model_arg, mcp_servers, options or {})


def thread_resume_params(
    thread_id: str,
    workspace: Path,
    model_arg: str | None,
    mcp_servers: Mapping[str, Any],
    options: Mapping[str, str] | None = None,
) -> JsonObject:
    overrides = _thread_overrides(workspace, model_arg, mcp_servers, options or {})
    return {"threadId": thread_id, **overrides}


def turn_start_params(
    thread_id: str,
    prompt: str,
    *,
    image_paths: tuple[Path, ...] = (),
    effort: str | None = None,
    output_schema: Mapping[str, Any] | None = None,
) -> JsonObject:
    """`turn/start`: the images (files on disk) before the text, as `codex exec --image` sends
    them; `effort` and `outputSchema` apply to this turn only (all four pinned schemas)."""
    items: list[JsonObject] = [{"type": "localImage", "path": str(p)} for p in image_paths]
    items.append({"type": "text", "text": prompt})
    params: JsonObject = {"threadId": thread_id, "input": items}
    if effort is not None:
        params["effort"] = effort
    if output_schema is not None:
        params["outputSchema"] = dict(output_schema)
    return params


def turn_interrupt_params(thread_id: str, turn_id: str) -> JsonObject:
    return {"threadId": thread_id, "turnId": turn_id}


def thread_params(thread_id: str) -> JsonObject:
    """`thread/archive`, `thread/unarchive`."""
    return {"threadId": thread_id}
