"""The daemon protocol's params and codes: each method's params as typed values, or an error.

`parse_*` turn a method's params into frozen values or raise `RpcError(INVALID_PARAMS)` naming
the offending field (`bad_param`); the -320xx codes are this protocol's own. JSON-RPC itself is
`jsonrpc/messages.py`. docs/protocol.md and docs/protocol.schema.json are the contract.
"""

from __future__ import annotations

import base64
import binascii
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import RpcError
from ..jsonrpc.messages import INVALID_PARAMS, lone_surrogate

# This protocol's codes (the -32000..-32099 "server error" range); docs/protocol.md lists them.
UNSUPPORTED_PROTOCOL_VERSION = -32000
NOT_INITIALIZED = -32001
DUPLICATE_TURN = -32002
UNSUPPORTED_MODEL = -32003
LINE_TOO_LONG = -32004
SHUTTING_DOWN = -32005
CONSUME_FAILED = -32006
CONTROL_FAILED = -32007  # steer / fork: `data.reason` says why (docs/protocol.md)

MAX_ID_CHARS = 256  # turn, agent and session ids: a daemon's ids, never prose


def bad_param(field: str, problem: str) -> RpcError:
    return RpcError(INVALID_PARAMS, f"params.{field}: {problem}", {"field": f"params.{field}"})


def lone_surrogate_param(field: str) -> RpcError:
    """A lone surrogate anywhere in params (a string or a key at `field`) is refused, never
    passed on: no UTF-8 writer downstream (codex's schema file, the MCP server) could encode it."""
    return bad_param(
        field.lstrip("."),
        "holds a lone surrogate (an unpaired \\ud800-\\udfff escape): not Unicode text",
    )


# -- params of each method --------------------------------------------------------------------


def _string(params: Mapping[str, Any], key: str, field: str, *, ident: bool = False) -> str:
    if key not in params:
        raise bad_param(field, "missing (a string is required)")
    value = params[key]
    if not isinstance(value, str):
        raise bad_param(field, f"must be a string, not {_json_type(value)}")
    if lone_surrogate(value) is not None:
        raise lone_surrogate_param(field)
    if ident:
        if not value:
            raise bad_param(field, "must not be empty")
        if len(value) > MAX_ID_CHARS:
            raise bad_param(field, f"longer than {MAX_ID_CHARS} characters")
        if any(ord(c) < 0x20 for c in value):
            raise bad_param(field, "must not contain control characters")
    return value


def _object(params: Mapping[str, Any], key: str, field: str) -> Mapping[str, Any]:
    if key not in params:
        raise bad_param(field, "missing (an object is required)")
    value = params[key]
    if not isinstance(value, dict):
        raise bad_param(field, f"must be an object, not {_json_type(value)}")
    return value


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    return "an object"


def _workspace(value: str, field: str) -> Path:
    if not value or "\0" in value or not os.path.isabs(value):
        raise bad_param(field, "must be an absolute path (the plugin's cwd is not the agent's)")
    return Path(value)


@dataclass(frozen=True)
class InitializeParams:
    protocol_version: str
    host_name: str
    host_version: str
    approvals: bool = False  # the daemon answers `approval/request` (`capabilities.approvals`)


def parse_initialize(params: Mapping[str, Any]) -> InitializeParams:
    version = _string(params, "protocol_version", "protocol_version")
    host = _object(params, "host", "host")
    capabilities = _optional_object(params, "capabilities") or {}
    approvals = capabilities.get("approvals", False)
    if not isinstance(approvals, bool):
        raise bad_param("capabilities.approvals", f"must be a boolean, not {_json_type(approvals)}")
    return InitializeParams(
        version,
        _string(host, "name", "host.name"),
        _string(host, "version", "host.version"),
        approvals,
    )


@dataclass(frozen=True)
class ToolParam:
    name: str
    description: str
    input_schema: Mapping[str, Any]


@dataclass(frozen=True)
class TurnParams:
    turn_id: str
    agent_id: str
    workspace: Path
    session_id: str
    model: str
    input: str
    tools: tuple[ToolParam, ...]
    # A turn's optional inputs (TurnRequest fields). Only their JSON shape is checked here; what
    # they hold (a readable image, a JSON Schema, a known effort or option) the turn checks, and
    # a bad value ends it in `error{code: config}` naming the field, before codex starts.
    images: tuple[Path | bytes, ...] = ()
    output_schema: Mapping[str, Any] | None = None
    reasoning_effort: str | None = None
    codex_options: Mapping[str, str] | None = None
    sandbox: str | None = None  # narrows the agent's sandbox for this turn (never widens it)


def _tools(params: Mapping[str, Any]) -> tuple[ToolParam, ...]:
    raw = params.get("tools", [])
    if not isinstance(raw, list):
        raise bad_param("tools", f"must be an array, not {_json_type(raw)}")
    tools: list[ToolParam] = []
    seen: set[str] = set()
    for i, item in enumerate(raw):
        field = f"tools[{i}]"
        if not isinstance(item, dict):
            raise bad_param(field, f"must be an object, not {_json_type(item)}")
        name = _string(item, "name", f"{field}.name", ident=True)
        if name in seen:
            raise bad_param(f"{field}.name", f"duplicate tool name {name!r}")
        seen.add(name)
        description = _string(item, "description", f"{field}.description")
        schema = item.get("input_schema", {"type": "object", "properties": {}})
        if not isinstance(schema, dict) or schema.get("type") != "object":
            raise bad_param(
                f"{field}.input_schema", 'must be a JSON Schema object with "type": "object"'
            )
        tools.append(ToolParam(name, description, schema))
    return tuple(tools)


def _images(params: Mapping[str, Any]) -> tuple[Path | bytes, ...]:
    """`images`: `[{"path": "/abs/file.png"} | {"data": "<base64>"}, ...]`."""
    raw = params.get("images", [])
    if not isinstance(raw, list):
        raise bad_param("images", f"must be an array, not {_json_type(raw)}")
    images: list[Path | bytes] = []
    for i, item in enumerate(raw):
        field = f"images[{i}]"
        if not isinstance(item, dict) or len(item) != 1 or not {"path", "data"} & set(item):
            raise bad_param(field, 'must be an object with one key, "path" or "data"')
        if "path" in item:
            images.append(_workspace(_string(item, "path", f"{field}.path"), f"{field}.path"))
            continue
        data = _string(item, "data", f"{field}.data")
        try:
            images.append(base64.b64decode(data, validate=True))
        except (binascii.Error, ValueError):
            raise bad_param(f"{field}.data", "must be standard base64") from None
    return tuple(images)


def _optional_object(params: Mapping[str, Any], key: str) -> Mapping[str, Any] | None:
    if key not in params:
        return None
    return _object(params, key, key)


def _codex_options(params: Mapping[str, Any]) -> Mapping[str, str] | None:
    options = _optional_object(params, "codex_options")
    if options is None:
        return None
    return {key: _string(options, key, f"codex_options.{key}") for key in options}


def parse_turn(params: Mapping[str, Any]) -> TurnParams:
    turn_id = _string(params, "turn_id", "turn_id", ident=True)
    agent = _object(params, "agent", "agent")
    agent_id = _string(agent, "id", "agent.id", ident=True)
    workspace = _workspace(_string(agent, "workspace", "agent.workspace"), "agent.workspace")
    session_id = _string(params, "session_id", "session_id", ident=True)
    model = _string(params, "model", "model", ident=True) if "model" in params else "codex"
    text = _string(params, "input", "input")
    effort = (
        _string(params, "reasoning_effort", "reasoning_effort")
        if "reasoning_effort" in params
        else None
    )
    return TurnParams(
        turn_id,
        agent_id,
        workspace,
        session_id,
        model,
        text,
        _tools(params),
        images=_images(params),
        output_schema=_optional_object(params, "output_schema"),
        reasoning_effort=effort,
        codex_options=_codex_options(params),
        sandbox=_string(params, "sandbox", "sandbox") if "sandbox" in params else None,
    )


@dataclass(frozen=True)
class ForkParams:
    agent_id: str
    workspace: Path
    session_id: str
    new_session_id: str


def parse_fork(params: Mapping[str, Any]) -> ForkParams:
    """`fork {agent: {id, workspace}, session_id, new_session_id}`."""
    agent = _object(params, "agent", "agent")
    return ForkParams(
        _string(agent, "id", "agent.id", ident=True),
        _workspace(_string(agent, "workspace", "agent.workspace"), "agent.workspace"),
        _string(params, "session_id", "session_id", ident=True),
        _string(params, "new_session_id", "new_session_id", ident=True),
    )


def parse_steer(params: Mapping[str, Any]) -> tuple[str, str]:
    """`steer {turn_id, input}`: the running turn and the user's added text."""
    text = _string(params, "input", "input")
    if not text.strip():
        raise bad_param("input", "must hold some text")
    return _string(params, "turn_id", "turn_id", ident=True), text


def parse_cancel(params: Mapping[str, Any]) -> str:
    return _string(params, "turn_id", "turn_id", ident=True)


@dataclass(frozen=True)
class ConsumeParams:
    workspace: Path
    session_id: str
    block_ids: tuple[str, ...]


def parse_consume(params: Mapping[str, Any]) -> ConsumeParams:
    workspace = _workspace(_string(params, "workspace", "workspace"), "workspace")
    session_id = _string(params, "session_id", "session_id", ident=True)
    raw = params.get("block_ids")
    if not isinstance(raw, list):
        raise bad_param("block_ids", f"must be an array of strings, not {_json_type(raw)}")
    for i, value in enumerate(raw):
        if not isinstance(value, str) or not value:
            raise bad_param(f"block_ids[{i}]", "must be a non-empty string (a codex call id)")
    return ConsumeParams(workspace, session_id, tuple(raw))
