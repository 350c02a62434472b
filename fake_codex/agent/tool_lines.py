"""The rollout lines of the tool calls codex runs for the model: function and custom tool calls,
web searches, shell / apply_patch / MCP results and their outputs as the model receives them
(`mcp_model_output`: codex-facts §5), in the emulated version's shape.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from fake_codex.agent.lines import LineWriter
from fake_codex.core.events import content_blocks
from fake_codex.core.ids import uuid7
from fake_codex.core.output import encode

if TYPE_CHECKING:  # tools are imported only when a tool call runs
    from fake_codex.agent.tools import PatchResult, ShellResult


@dataclass(frozen=True)
class McpCallRecord:
    server: str
    tool: str
    arguments: Any
    result: dict[str, Any] | None
    error: str | None
    duration_ns: int

    @property
    def status(self) -> str:
        failed = self.error is not None or (self.result or {}).get("isError") is True
        return "failed" if failed else "completed"


def mcp_rollout_result(result: dict[str, Any]) -> dict[str, Any]:
    """The CallToolResult as codex stores it: content, then structuredContent / isError /
    _meta only when the server sent them (codex-samples: classic vs code-mode captures)."""
    out: dict[str, Any] = {"content": content_blocks(result)}
    for k in ("structuredContent", "isError", "_meta"):
        if k in result:
            out[k] = result[k]
    return out


def mcp_model_output(call: McpCallRecord, family: int) -> Any:
    """The function_call_output codex sends back for an MCP call (codex-facts §5)."""
    if call.result is None:
        return call.error or ""
    wall = f"Wall time: {call.duration_ns / 1e9:.4f} seconds\nOutput:"
    blocks = content_blocks(call.result)
    if family < 169:  # real 0.150.1 too
        return f"{wall}\n{encode(blocks)}"
    structured = call.result.get("structuredContent")
    if structured is not None:
        return f"{wall}\n{encode(structured)}"
    parts: list[dict[str, Any]] = [{"type": "input_text", "text": wall}]
    for block in blocks:
        if isinstance(block, dict) and block.get("type") == "text":
            parts.append({"type": "input_text", "text": str(block.get("text", ""))})
        elif isinstance(block, dict) and block.get("type") == "image":
            url = f"data:{block.get('mimeType')};base64,{block.get('data')}"
            parts.append({"type": "input_image", "image_url": url})
        else:
            parts.append({"type": "input_text", "text": encode(block)})
    return parts


class ToolLines(LineWriter):
    """`LineWriter` plus the lines of tool calls and their results."""

    def function_call(
        self, fc_id: str, name: str, arguments: str, call_id: str, namespace: str | None = None
    ) -> None:
        payload: dict[str, Any] = {"type": "function_call"}
        if self.b.family >= 169:
            payload["status"] = "completed"  # 0.135.0 and 0.150.1 drop it
        payload["name"] = name
        if namespace is not None:
            payload["namespace"] = namespace
        payload.update(arguments=arguments, call_id=call_id)
        self._response_item(payload, fc_id, status_first=True)

    def custom_tool_call(
        self, ctc_id: str, name: str, tool_input: str, call_id: str, namespace: str | None = None
    ) -> None:
        payload: dict[str, Any] = {"type": "custom_tool_call", "status": "completed"}
        payload.update(call_id=call_id, name=name)
        if namespace is not None and self.b.family >= 150:
            payload["namespace"] = namespace
        payload["input"] = tool_input
        self._response_item(payload, ctc_id)

    def web_search(self, ws_id: str, query: str) -> None:
        action = {"type": "search", "query": query}
        if self.b.item_completed_events:
            item = {"type": "WebSearch", "id": ws_id, "query": query, "action": action}
            self._item_completed(item)
        else:
            event = {"type": "web_search_end", "call_id": ws_id, "query": query, "action": action}
            self.w.write("event_msg", event)
        self._response_item(
            {"type": "web_search_call", "status": "completed", "action": action}, ws_id
        )

    # -- tool results --------------------------------------------------------------------------
    def shell_result(
        self, call_id: str, result: ShellResult, started_ms: int, item_id: str | None = None
    ) -> None:
        """CommandExecution (id: the call id, or `exec-<uuid>` inside code mode) + output."""
        if self.b.item_completed_events:
            item = {
                "type": "CommandExecution",
                "id": item_id or call_id,
                "process_id": str(result.pid),
                "command": ["/bin/bash", "-lc", result.cmd],
                "cwd": f"file://{self.t.cwd}",
                "parsed_cmd": [{"type": "unknown", "cmd": result.cmd}],
                "source": "unified_exec_startup",
                "status": "completed" if result.exit_code == 0 else "failed",
                "aggregated_output": result.output,
                "exit_code": result.exit_code,
                "duration": {
                    "secs": result.duration_ns // 10**9,
                    "nanos": result.duration_ns % 10**9,
                },
            }
            self._item_completed(item, started_ms)
        if item_id is None:
            self.tool_output("function_call_output", "fco", call_id, result.model_output)

    def mcp_result(
        self, item_id: str, call: McpCallRecord, started_ms: int, output: bool = True
    ) -> None:
        """The lines after an MCP call: the completion event, then (classic) the output."""
        duration = {"secs": call.duration_ns // 10**9, "nanos": call.duration_ns % 10**9}
        result = None if call.result is None else mcp_rollout_result(call.result)
        if self.b.item_completed_events:
            item: dict[str, Any] = {"type": "McpToolCall", "id": item_id, "server": call.server}
            item.update(tool=call.tool, arguments=call.arguments, status=call.status)
            if result is not None:
                item["result"] = result
            if call.error is not None:
                item["error"] = {"message": call.error}
            item["duration"] = duration
            self._item_completed(item, started_ms)
        else:
            invocation = {"server": call.server, "tool": call.tool, "arguments": call.arguments}
            outcome = {"Ok": result} if result is not None else {"Err": call.error}
            event = {"type": "mcp_tool_call_end", "call_id": item_id, "invocation": invocation}
            self.w.write("event_msg", {**event, "duration": duration, "result": outcome})
        if output:
            text = mcp_model_output(call, self.b.family)
            self.tool_output("function_call_output", "fco", item_id, text)

    def patch_result(self, call_id: str, result: PatchResult | None, output: str) -> None:
        if result is not None:
            changes: dict[str, Any] = {}
            for path, kind, content in result.changes:
                if kind == "update":
                    changes[path] = {"type": "update", "unified_diff": "", "move_path": None}
                else:
                    changes[path] = {"type": kind, "content": content}
            if self.b.item_completed_events:
                item: dict[str, Any] = {"type": "FileChange", "id": call_id, "changes": changes}
                item.update(status="completed", stdout=result.summary, stderr="")
                self._item_completed(item)
            else:
                event: dict[str, Any] = {"type": "patch_apply_end", "call_id": call_id}
                event["turn_id"] = self.t.turn_id
                event.update(stdout=result.summary, stderr="", success=True, changes=changes)
                self.w.write("event_msg", {**event, "status": "completed"})
        self.tool_output("custom_tool_call_output", "ctco", call_id, output)

    def tool_output(self, kind: str, prefix: str, call_id: str, output: Any) -> None:
        self._response_item(
            {"type": kind, "call_id": call_id, "output": output},
            f"{prefix}_{uuid7()}",
            self._created(),
        )
