"""What one turn writes into the rollout, line by line, in the shape of the emulated version.

0.169: `item_completed{item:{type:AgentMessage|...}}` events, `token_usage_record`, ids on
response items and `metadata`; 0.135: `user_message`/`agent_message`/`agent_reasoning`/
`patch_apply_end`/`web_search_end` events and bare response items. Key sets follow
codex-samples/rollout_schema_*.txt (checked by tests/fake_codex/test_rollout_schema.py).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from fake_codex.agent.model_errors import Failure
from fake_codex.agent.rollout import RolloutWriter, utc_timestamp
from fake_codex.core.events import Totals, content_blocks
from fake_codex.core.ids import uuid7
from fake_codex.core.output import encode
from fake_codex.core.versions import Behaviour

if TYPE_CHECKING:  # tools are imported only when a tool call runs
    from fake_codex.agent.images import ImageParts
    from fake_codex.agent.tools import PatchResult, ShellResult

CONTEXT_WINDOW = 258400
BASE_INSTRUCTIONS = "You are Codex (fake-codex stand-in: no real model behind this thread)."
_RATE_LIMITS_169 = {
    "limit_id": "codex",
    "limit_name": None,
    "primary": None,
    "secondary": None,
    "credits": None,
    "individual_limit": None,
    "spend_control_reached": None,
    "plan_type": None,
    "rate_limit_reached_type": None,
}
_RATE_LIMITS_135 = {
    k: v
    for k, v in _RATE_LIMITS_169.items()
    if k not in ("individual_limit", "spend_control_reached")
}


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


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


@dataclass
class TurnInfo:
    thread_id: str
    cwd: str
    model: str
    provider_id: str
    approval_policy: str
    sandbox: str
    effort: str | None = None  # `-c model_reasoning_effort` (turn_context `effort`)
    turn_id: str = field(default_factory=uuid7)
    started_ns: int = field(default_factory=time.monotonic_ns)
    started_at_ms: int = field(default_factory=lambda: time.time_ns() // 1_000_000)

    @property
    def started_at(self) -> int:
        return self.started_at_ms // 1000


class Recorder:
    def __init__(self, writer: RolloutWriter, behaviour: Behaviour, info: TurnInfo) -> None:
        self.w = writer
        self.b = behaviour
        self.t = info
        self._seq = 0
        self._turn = Totals()
        self._last = Totals()

    # -- helpers -------------------------------------------------------------------------------
    def _meta(self) -> dict[str, Any] | None:
        self._seq += 1
        return {
            "history_sequence": self._seq,
            "sampled_through_sequence": 0,
            "client_authored": False,
        }

    def _response_item(
        self,
        payload: dict[str, Any],
        item_id: str | None = None,
        passthrough: dict[str, Any] | None = None,
        status_first: bool = False,
    ) -> None:
        """0.150+: an `id` after `type` (after a second key `status` when `status_first`) and
        `internal_chat_message_metadata_passthrough` (default: `{turn_id}`)."""
        if self.b.family >= 150:
            kind = payload.pop("type")
            default_id = f"msg_{uuid7()}" if kind == "message" else uuid7()
            head: dict[str, Any] = {"type": kind}
            if status_first and "status" in payload:
                head["status"] = payload.pop("status")
            payload = {**head, "id": item_id or default_id, **payload}
            payload["internal_chat_message_metadata_passthrough"] = passthrough or {
                "turn_id": self.t.turn_id
            }
        self.w.write("response_item", payload, self._meta())

    def _created(self) -> dict[str, Any]:
        """The passthrough of an item codex itself creates (tool outputs): a clock."""
        return {"turn_id": self.t.turn_id, "create_time": time.time()}

    def _input(self, kind: str, provenance: dict[str, Any]) -> dict[str, Any]:
        """The passthrough of a context/user message (0.169 adds its provenance)."""
        meta = {**self._created(), "content_item_kinds": [kind]}
        if self.b.family >= 169:
            meta["content_item_metadata"] = [{"provenance": provenance}]
        return meta

    def _item_completed(self, item: dict[str, Any], started_ms: int | None = None) -> None:
        now = _now_ms()
        payload = {
            "type": "item_completed",
            "thread_id": self.t.thread_id,
            "turn_id": self.t.turn_id,
            "item": item,
            "started_at_ms": now if started_ms is None else started_ms,
            "completed_at_ms": now,
        }
        self.w.write("event_msg", payload)

    def _usage(self, totals: Totals) -> dict[str, int]:
        return totals.as_rollout(self.b.has_cache_write)

    # -- thread and turn framing ---------------------------------------------------------------
    def session_meta(self) -> None:
        t = self.t
        payload: dict[str, Any] = {"id": t.thread_id, "timestamp": utc_timestamp(), "cwd": t.cwd}
        if self.b.family >= 150:
            payload = {"session_id": t.thread_id, **payload}
        if self.b.family >= 169:
            payload = {"account_scoped": True, **payload, "runtime_workspace_roots": [t.cwd]}
        payload.update(
            originator="codex_exec",
            cli_version=self.b.version,
            source="exec",
            thread_source="user",
            model_provider=t.provider_id,
            base_instructions={"text": BASE_INSTRUCTIONS},
        )
        if self.b.family >= 150:
            payload["history_mode"] = "paginated"
            payload["context_window"] = {"window_id": uuid7()}
        self.w.write("session_meta", payload)

    def task_started(self) -> None:
        t = self.t
        payload: dict[str, Any] = {"type": "task_started"}
        if self.b.family >= 169:
            payload["turn_attribution"] = {
                "turn_id": t.turn_id,
                "turn_trigger": "exec",
                "parent_turn_id": None,
                "initiating_agent_path": None,
                "root_turn_id": t.turn_id,
            }
        payload["turn_id"] = t.turn_id
        if self.b.family >= 169:
            payload["root_turn_id"] = t.turn_id
        payload.update(
            started_at=t.started_at,
            model_context_window=CONTEXT_WINDOW,
            collaboration_mode_kind="default",
        )
        self.w.write("event_msg", payload)

    def _collab(self) -> dict[str, Any]:
        settings = {"model": self.t.model, "reasoning_effort": None, "developer_instructions": None}
        return {"mode": "default", "settings": settings}

    def _permission(self) -> dict[str, str]:
        return {"type": "disabled" if self.t.sandbox == "danger-full-access" else "managed"}

    def thread_settings(self) -> None:
        """`thread_settings_applied`: 0.169 after the first turn_context; 0.150.1 and 0.169
        before `task_started` of every resumed turn (0.150.1's shape has no thread id)."""
        t = self.t
        if self.b.family < 150:
            return
        if self.b.family == 150:
            settings150 = {
                "model": t.model,
                "model_provider_id": t.provider_id,
                "approval_policy": t.approval_policy,
                "approvals_reviewer": "user",
                "permission_profile": self._permission(),
                "cwd": t.cwd,
                "personality": "pragmatic",
                "collaboration_mode": self._collab(),
            }
            self.w.write(
                "event_msg", {"type": "thread_settings_applied", "thread_settings": settings150}
            )
            return
        settings = {
            "model": t.model,
            "model_provider_id": t.provider_id,
            "approval_policy": t.approval_policy,
            "approvals_reviewer": "user",
            "requested_approvals_reviewer": "user",
            "permission_profile": self._permission(),
            "cwd": t.cwd,
            "runtime_workspace_roots": [t.cwd],
            "collaboration_mode": self._collab(),
            "disabled_plugin_ids": [],
        }
        payload = {"type": "thread_settings_applied", "thread_id": t.thread_id}
        self.w.write("event_msg", {**payload, "thread_settings": settings})

    def context(self, env: bool, world: bool | None = None, settings: bool | None = None) -> None:
        """The environment context message (`env`: a new thread, 0.150's compaction),
        world_state (0.150+, default `env`: also after a compaction or a model switch),
        turn_context, then (0.169, default `env`) thread_settings_applied."""
        t = self.t
        full = env if world is None else world
        with_settings = env if settings is None else settings
        if env:
            text = f"<environment_context>\n  <cwd>{t.cwd}</cwd>\n  <shell>bash</shell>\n"
            text += f"  <current_date>{time.strftime('%Y-%m-%d')}</current_date>\n"
            text += "</environment_context>"
            self._response_item(
                {
                    "type": "message",
                    "role": "user",
                    "content": [{"type": "input_text", "text": text}],
                },
                passthrough=self._input(
                    "environments.environment_context", {"type": "harness", "hook": False}
                ),
            )
        if self.b.family >= 150 and full:
            self.w.write("world_state", {"full": True, "state": {"model": {"model": t.model}}})
        collab = self._collab()
        sandbox = {"type": t.sandbox}
        permission = self._permission()
        tc: dict[str, Any] = {"turn_id": t.turn_id}
        if self.b.family >= 169:
            tc.update(root_turn_id=t.turn_id, disabled_plugin_ids=[])
        tc["cwd"] = t.cwd
        if self.b.family < 169:
            tc.update(current_date=time.strftime("%Y-%m-%d"), timezone="Etc/UTC")
        if self.b.family == 150:
            tc["workspace_roots"] = [t.cwd]
        tc["approval_policy"] = t.approval_policy
        if self.b.family >= 150:
            tc["approvals_reviewer"] = "user"
        tc.update(sandbox_policy=sandbox, permission_profile=permission, model=t.model)
        if self.b.family < 169:
            tc["personality"] = "pragmatic"
        if self.b.family >= 150:
            tc["comp_hash"] = "3000"
            tc["multi_agent_version"] = "v2"
        tc.update(collaboration_mode=collab, realtime_active=False)
        if t.effort is not None:
            tc["effort"] = t.effort
        tc["summary"] = "none"
        self.w.write("turn_context", tc)
        if self.b.thread_settings_applied and with_settings:
            self.thread_settings()

    def user_message(self, text: str, images: ImageParts | None = None) -> None:
        """The user message: image parts (rollout form) first, then the prompt text."""
        content = [*(images.rollout if images else []), {"type": "input_text", "text": text}]
        kinds = ["user.image" if p["type"] == "input_image" else "user.text" for p in content]
        meta = {**self._created(), "content_item_kinds": kinds}
        if self.b.family >= 169:
            meta["content_item_metadata"] = [{"provenance": {"type": "user"}} for _ in kinds]
        self._response_item({"type": "message", "role": "user", "content": content}, None, meta)
        local = images.local_images if images else []
        if self.b.item_completed_events:
            parts: list[dict[str, Any]] = [{"type": "local_image", "path": p} for p in local]
            parts.append({"type": "text", "text": text, "text_elements": []})
            self._item_completed({"type": "UserMessage", "id": uuid7(), "content": parts})
        else:
            event = {"type": "user_message", "message": text, "images": [], "local_images": local}
            self.w.write("event_msg", {**event, "text_elements": []})

    # -- model output --------------------------------------------------------------------------
    def agent_message(self, msg_id: str, text: str) -> None:
        if self.b.item_completed_events:
            content = [{"type": "Text", "text": text}]
            self._item_completed({"type": "AgentMessage", "id": msg_id, "content": content})
        else:
            event = {"type": "agent_message", "message": text, "phase": None}
            self.w.write("event_msg", {**event, "memory_citation": None})
        self.assistant_item(msg_id, text)

    def assistant_item(self, msg_id: str, text: str) -> None:
        """The assistant message as a response item (0.169: `status`, `annotations`)."""
        part: dict[str, Any] = {"type": "output_text", "text": text}
        payload: dict[str, Any] = {"type": "message"}
        if self.b.family >= 169:
            part["annotations"] = []
            payload["status"] = "completed"
        payload.update(role="assistant", content=[part])
        meta = {"turn_id": self.t.turn_id, "content_item_kinds": ["unknown"]}
        self._response_item(payload, msg_id, meta, status_first=True)

    def reasoning(self, rs_id: str, summary: tuple[str, ...]) -> None:
        if self.b.item_completed_events:
            item = {"type": "Reasoning", "id": rs_id, "summary_text": list(summary)}
            self._item_completed({**item, "raw_content": []})
        elif summary:
            self.w.write("event_msg", {"type": "agent_reasoning", "text": "\n".join(summary)})
        parts = [{"type": "summary_text", "text": s} for s in summary]
        payload = {
            "type": "reasoning",
            "summary": parts,
            "content": None,
            "encrypted_content": None,
        }
        self._response_item(payload, rs_id)

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

    # -- usage and the end of the turn ---------------------------------------------------------
    def usage_record(self, response_id: str, last: Totals, thread: Totals) -> None:
        self._turn.add(last)
        if not self.b.token_usage_records:
            return
        t = self.t
        payload: dict[str, Any] = {"thread_id": t.thread_id, "turn_id": t.turn_id}
        payload["session_id"] = t.thread_id
        payload.update(root_turn_id=t.turn_id, response_id=response_id)
        payload.update(
            usage=self._usage(last),
            turn_token_usage=self._usage(self._turn),
            thread_token_usage=self._usage(thread),
        )
        self.w.write("token_usage_record", payload)

    def restore_last(self, last: Totals) -> None:
        """The last request's usage of a resumed thread (from its rollout)."""
        self._last = last

    def token_count(
        self, last: Totals | None, thread: Totals, reasoning_flag: bool | None = False
    ) -> None:
        """`last` None: the info-less count codex writes when a stream fails (null before the
        thread has any usage). `reasoning_flag` None: no `last_usage_includes_reasoning`."""
        info: dict[str, Any] | None = None
        if last is not None or thread != Totals():
            info = {
                "total_token_usage": self._usage(thread),
                "last_token_usage": self._usage(last if last is not None else self._last),
            }
            if self.b.family >= 169 and reasoning_flag is not None:
                info["last_usage_includes_reasoning"] = reasoning_flag
            info["model_context_window"] = CONTEXT_WINDOW
        if last is not None:
            self._last = last
        limits = _RATE_LIMITS_169 if self.b.family >= 150 else _RATE_LIMITS_135
        self.w.write("event_msg", {"type": "token_count", "info": info, "rate_limits": limits})

    def context_full(self) -> None:
        """After context_length_exceeded codex marks the window full: usage zero, total the
        whole window (no `last_usage_includes_reasoning`)."""
        usage = {**self._usage(Totals()), "total_tokens": CONTEXT_WINDOW}
        info = {
            "total_token_usage": usage,
            "last_token_usage": dict(usage),
            "model_context_window": CONTEXT_WINDOW,
        }
        limits = _RATE_LIMITS_169 if self.b.family >= 150 else _RATE_LIMITS_135
        self.w.write("event_msg", {"type": "token_count", "info": info, "rate_limits": limits})

    def compaction_estimate(self, thread: Totals, estimate: int) -> None:
        """After a compaction: the thread total, and a `last` of zeros whose total is codex's
        estimate of the new history (0.169 flags it as including reasoning)."""
        last = {**self._usage(Totals()), "total_tokens": estimate}
        info: dict[str, Any] = {"total_token_usage": self._usage(thread), "last_token_usage": last}
        if self.b.family >= 169:
            info["last_usage_includes_reasoning"] = True
        info["model_context_window"] = CONTEXT_WINDOW
        limits = _RATE_LIMITS_169 if self.b.family >= 150 else _RATE_LIMITS_135
        self.w.write("event_msg", {"type": "token_count", "info": info, "rate_limits": limits})

    def compacted(self, summary: str) -> None:
        window = uuid7()
        payload: dict[str, Any] = {
            "message": summary,
            "replacement_history": [],
            "replacement_history_metadata": [],
            "retained_context": None,
            "resume_metadata": None,
            "compaction_response_id": None,
            "latest_token_usage_record": None,
            "first_window_id": window,
            "previous_window_id": None,
            "window_id": window,
            "window_number": 1,
        }
        self.w.write("compacted", payload)

    def compaction_item(self, started_ms: int) -> None:
        if self.b.item_completed_events:
            self._item_completed({"type": "ContextCompaction", "id": uuid7()}, started_ms)

    def task_complete(self, last_message: str | None, failure: Failure | None) -> None:
        t = self.t
        payload: dict[str, Any] = {"type": "task_complete"}
        if self.b.family >= 169:
            payload["root_turn_id"] = t.turn_id
        payload.update(turn_id=t.turn_id, last_agent_message=last_message)
        if failure is not None and self.b.error_in_task_complete:
            payload["error"] = {
                "message": failure.message,
                "codex_error_info": failure.codex_error_info,
            }
        if self.b.family >= 150:
            payload["started_at"] = t.started_at
        duration = (time.monotonic_ns() - t.started_ns) // 1_000_000
        payload.update(completed_at=int(time.time()), duration_ms=duration)
        if failure is None:
            payload["time_to_first_token_ms"] = duration
        self.w.write("event_msg", payload)
