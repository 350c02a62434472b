"""Rollout lines → the tool calls they record, as canonical `ToolCall`/`ToolResult` events.

Pure and incremental: feed complete JSONL lines in file order to a `CallParser`, then take
`events()`: every `response_item` whose payload has a `call_id` is a block (web search has none),
each `ToolCall` immediately followed by its `ToolResult` when the output has been seen. Inputs and
outputs are the rollout's own values (a JSON *string* stays a string). Lines that are not JSON
objects, or not about calls, are skipped, as codex itself skips garbage lines on resume.

`is_error` rule, first that applies: (1) codex's own verdict for that call id — an `item_completed`
McpToolCall/CommandExecution/FileChange with status `failed`/`declined`, an MCP result with
`isError: true` or an `error`, 0.135's `mcp_tool_call_end` `Err`/`isError` and
`patch_apply_end.success == false`, an `exec_command_end` exit code ≠ 0; (2) the output payload's
own `success: false` or a `status` other than `completed`; (3) the output text's header (the lines
before `Output:`) saying `Process exited with code N` or `Exit code: N` with N ≠ 0; else false.
A code-mode `exec` is not an error because an inner call failed (the script may have handled it).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from plexum_openai_provider.events import ToolCall, ToolResult

MirrorEvent = ToolCall | ToolResult

# Only lines holding one of these byte strings can matter; everything else is not even decoded.
# Codex (serde) and Python both write object keys literally, never as \u escapes.
_NEEDLES = (b'"call_id"', b"McpToolCall", b"CommandExecution", b"FileChange")
_FAILED_STATUSES = frozenset({"failed", "declined", "error", "incomplete"})
_INNER_KINDS = {"McpToolCall": "mcp_tool_call", "CommandExecution": "command_execution"}
_DEFAULT_NAMES = {"tool_search_call": "tool_search", "local_shell_call": "local_shell"}
_EXIT_RE = re.compile(r"^(?:Process exited with code|Exit code:)\s*(-?\d+)\s*$")
_HEADER_LINES = 12  # the exec_command/apply_patch headers are 2–5 lines before "Output:"


def is_candidate(line: bytes) -> bool:
    """Cheap pre-filter: can this raw line contribute to the calls of a turn?"""
    return any(needle in line for needle in _NEEDLES)


@dataclass
class _Entry:
    """One call (or an orphan output whose call lies before the mirror's offset)."""

    call_id: str
    call: dict[str, Any] | None = None
    output: dict[str, Any] | None = None
    server: str | None = None
    tool: str | None = None
    verdict: bool | None = None  # codex's own success/failure word for this call id
    inner: list[dict[str, Any]] = field(default_factory=list)


class CallParser:
    """Accumulates the calls of a sequence of rollout lines; see the module docstring."""

    def __init__(self) -> None:
        self._entries: list[_Entry] = []
        self._open: dict[str, _Entry] = {}  # call_id → latest call still waiting for its output
        self._seen: dict[str, _Entry] = {}  # call_id → latest entry, open or not
        self._open_exec: list[_Entry] = []  # code-mode `exec` calls waiting for their output

    def feed(self, line: bytes | str) -> None:
        """Take one complete line (with or without its newline)."""
        raw = line.encode() if isinstance(line, str) else line
        if not is_candidate(raw):
            return
        try:
            obj = json.loads(raw)
        except (ValueError, RecursionError):
            # ValueError: bad JSON or UTF-8. RecursionError: nested deeper than the decoder
            # follows; such a line is skipped like any other unreadable one.
            return
        if not isinstance(obj, dict):
            return
        payload = obj.get("payload")
        if not isinstance(payload, dict):
            return
        kind = obj.get("type")
        if kind == "response_item":
            self._response_item(payload)
        elif kind == "event_msg":
            self._event(payload)

    def events(self) -> list[MirrorEvent]:
        """The calls seen so far, in rollout order, each call followed by its result if any."""
        out: list[MirrorEvent] = []
        for entry in self._entries:
            if entry.call is not None:
                out.append(_tool_call(entry))
            if entry.output is not None:
                out.append(_tool_result(entry))
        return out

    def _response_item(self, payload: dict[str, Any]) -> None:
        call_id = payload.get("call_id")
        kind = payload.get("type")
        if not isinstance(call_id, str) or not isinstance(kind, str):
            return
        if kind.endswith("_output"):
            entry = self._open.pop(call_id, None)
            if entry is None:
                entry = _Entry(call_id)
                self._entries.append(entry)
            else:
                self._open_exec = [e for e in self._open_exec if e is not entry]
            entry.output = payload
        else:
            # A reused call_id (the model picks them) starts a new block; the older one keeps
            # whatever it had.
            entry = _Entry(call_id, call=payload)
            self._entries.append(entry)
            self._open[call_id] = entry
            if kind == "custom_tool_call" and payload.get("name") == "exec":
                self._open_exec.append(entry)
        self._seen[call_id] = entry

    def _event(self, payload: dict[str, Any]) -> None:
        kind = payload.get("type")
        if kind == "item_completed":
            item = payload.get("item")
            if isinstance(item, dict):
                self._item_completed(item)
            return
        call_id = payload.get("call_id")
        entry = self._seen.get(call_id) if isinstance(call_id, str) else None
        if entry is None:
            return
        if kind == "mcp_tool_call_end":  # 0.135
            invocation = payload.get("invocation")
            if isinstance(invocation, dict):
                entry.server = _str_or(invocation.get("server"), entry.server)
                entry.tool = _str_or(invocation.get("tool"), entry.tool)
            result = payload.get("result")
            if isinstance(result, dict):
                ok = result.get("Ok")
                is_error = isinstance(ok, dict) and ok.get("isError") is True
                entry.verdict = "Err" in result or is_error
        elif kind == "patch_apply_end" and isinstance(payload.get("success"), bool):
            entry.verdict = payload["success"] is False
        elif isinstance(payload.get("exit_code"), int):
            entry.verdict = payload["exit_code"] != 0

    def _item_completed(self, item: dict[str, Any]) -> None:
        itype = item.get("type")
        item_id = item.get("id")
        if itype not in ("McpToolCall", "CommandExecution", "FileChange"):
            return
        entry = self._seen.get(item_id) if isinstance(item_id, str) else None
        if entry is not None:
            if itype == "McpToolCall":
                entry.server = _str_or(item.get("server"), entry.server)
                entry.tool = _str_or(item.get("tool"), entry.tool)
            entry.verdict = _item_failed(item)
        elif self._open_exec and itype in _INNER_KINDS:
            # Code mode: nothing but position links these to the `exec` that is still open.
            self._open_exec[-1].inner.append(_inner_call(item))


def parse_tool_calls(lines: Iterable[bytes | str]) -> list[MirrorEvent]:
    """All calls recorded in `lines` (one complete rollout line each)."""
    parser = CallParser()
    for line in lines:
        parser.feed(line)
    return parser.events()


def _str_or(value: object, default: str | None) -> str | None:
    return value if isinstance(value, str) else default


def _item_failed(item: dict[str, Any]) -> bool:
    if item.get("status") in _FAILED_STATUSES or item.get("error"):
        return True
    result = item.get("result")
    return isinstance(result, dict) and result.get("isError") is True


def _inner_call(item: dict[str, Any]) -> dict[str, Any]:
    inner: dict[str, Any] = {"kind": _INNER_KINDS[str(item.get("type"))], "id": item.get("id")}
    if item.get("type") == "McpToolCall":
        inner.update(server=item.get("server"), tool=item.get("tool"))
        inner["arguments"] = item.get("arguments")
    else:
        inner.update(command=item.get("command"), exit_code=item.get("exit_code"))
    inner["status"] = item.get("status")
    return inner


def _tool_call(entry: _Entry) -> ToolCall:
    payload = entry.call or {}
    kind = str(payload.get("type"))
    namespace = payload.get("namespace") if isinstance(payload.get("namespace"), str) else None
    name = payload.get("name")
    if not isinstance(name, str):
        name = _DEFAULT_NAMES.get(kind, kind)
    server, tool = entry.server, entry.tool
    if namespace is not None and namespace.startswith("mcp__"):
        # The namespace holds the *sanitised* server name; the event's real name wins when known.
        server = server or namespace[len("mcp__") :]
        tool = tool or name
    value: Any = None
    for key in ("arguments", "input", "action"):
        if key in payload:
            value = payload[key]
            break
    return ToolCall(
        block_id=entry.call_id,
        kind=kind,
        name=name,
        namespace=namespace,
        server=server,
        tool=tool,
        input=value,
        inner_calls=tuple(entry.inner),
    )


def _tool_result(entry: _Entry) -> ToolResult:
    payload = entry.output or {}
    output = payload["tools"] if payload.get("type") == "tool_search_output" else None
    if output is None:
        output = payload.get("output")
    return ToolResult(block_id=entry.call_id, output=output, is_error=_is_error(entry, output))


def _is_error(entry: _Entry, output: Any) -> bool:
    if entry.verdict is not None:
        return entry.verdict
    payload = entry.output or {}
    if payload.get("success") is False:
        return True
    status = payload.get("status")
    if isinstance(status, str) and status != "completed":
        return True
    code = _header_exit_code(output)
    return code is not None and code != 0


def _header_exit_code(output: Any) -> int | None:
    text = output
    if isinstance(output, list) and output and isinstance(output[0], dict):
        text = output[0].get("text")
    if not isinstance(text, str):
        return None
    for line in text[:4096].split("\n", _HEADER_LINES)[:_HEADER_LINES]:
        if line.startswith("Output:"):
            break
        match = _EXIT_RE.match(line)
        if match:
            return int(match.group(1))
    return None
