"""What the provider sends to `codex app-server`: the method subset all pinned versions share.

Pure builders (no I/O). The subset and the versions it was checked on are in docs/app-server.md;
`approvalPolicy: "never"` + `sandbox: "danger-full-access"` is exec's bypass flag exactly; the
turn's sandbox (`sandbox.Sandbox`) goes on the thread and, since a loaded thread ignores a later
resume's, on every `turn/start` too.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ...sandbox import Sandbox
from ...version import __version__

CLIENT_NAME = "plexum-openai-provider"
BYPASS = Sandbox()  # `--dangerously-bypass-approvals-and-sandbox` (codex-facts §11)

JsonObject = dict[str, Any]


def initialize_params() -> JsonObject:
    return {"clientInfo": {"name": CLIENT_NAME, "version": __version__}}


def _thread_overrides(
    workspace: Path,
    model_arg: str | None,
    mcp_servers: Mapping[str, Any],
    options: Mapping[str, str],
    sandbox: Sandbox,
) -> JsonObject:
    params: JsonObject = {
        "cwd": str(workspace),
        "approvalPolicy": sandbox.approval_policy(),
        "sandbox": sandbox.thread_mode(),
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
    sandbox: Sandbox = BYPASS,
) -> JsonObject:
    return _thread_overrides(workspace, model_arg, mcp_servers, options or {}, sandbox)


def thread_resume_params(
    thread_id: str,
    workspace: Path,
    model_arg: str | None,
    mcp_servers: Mapping[str, Any],
    options: Mapping[str, str] | None = None,
    sandbox: Sandbox = BYPASS,
    *,
    exclude_turns: bool = False,
) -> JsonObject:
    """`thread/resume`; `exclude_turns` asks codex not to send the thread's whole history back
    (nothing here reads it): `excludeTurns` is in the stable schema of 0.169/0.171 only, and
    0.135/0.150 refuse it ("requires experimentalApi capability")."""
    overrides = _thread_overrides(workspace, model_arg, mcp_servers, options or {}, sandbox)
    params: JsonObject = {"threadId": thread_id, **overrides}
    if exclude_turns:
        params["excludeTurns"] = True
    return params


EXCLUDE_TURNS_FROM = (0, 169)
_VERSION = re.compile(r"/(\d+)\.(\d+)\.(\d+)")


def codex_version(user_agent: str) -> tuple[int, int, int] | None:
    """codex's version from `initialize`'s `userAgent` (`<client>/<version> (…)`), or None."""
    match = _VERSION.search(user_agent)
    if match is None:
        return None
    major, minor, patch = (int(g) for g in match.groups())
    return major, minor, patch


def turn_start_params(
    thread_id: str,
    prompt: str,
    *,
    image_paths: tuple[Path, ...] = (),
    effort: str | None = None,
    output_schema: Mapping[str, Any] | None = None,
    sandbox: Sandbox = BYPASS,
) -> JsonObject:
    """`turn/start`: the images (files on disk) before the text, as `codex exec --image` sends
    them; `effort` and `outputSchema` apply to this turn only (all four pinned schemas)."""
    items: list[JsonObject] = [{"type": "localImage", "path": str(p)} for p in image_paths]
    items.append({"type": "text", "text": prompt})
    params: JsonObject = {
        "threadId": thread_id,
        "input": items,
        "approvalPolicy": sandbox.approval_policy(),
        "sandboxPolicy": sandbox.turn_policy(),
    }
    if effort is not None:
        params["effort"] = effort
    if output_schema is not None:
        params["outputSchema"] = dict(output_schema)
    return params


def turn_steer_params(thread_id: str, turn_id: str, text: str) -> JsonObject:
    """`turn/steer`: refused by codex unless `turn_id` is the thread's running turn."""
    return {
        "threadId": thread_id,
        "input": [{"type": "text", "text": text}],
        "expectedTurnId": turn_id,
    }


def thread_fork_params(thread_id: str, workspace: Path) -> JsonObject:
    """`thread/fork`: a new thread holding a copy of `thread_id`'s history (read from disk)."""
    return {"threadId": thread_id, "cwd": str(workspace)}


def turn_interrupt_params(thread_id: str, turn_id: str) -> JsonObject:
    return {"threadId": thread_id, "turnId": turn_id}


def thread_params(thread_id: str) -> JsonObject:
    """`thread/archive`, `thread/unarchive`."""
    return {"threadId": thread_id}
