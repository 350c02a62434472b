"""The fake app-server's output: locked JSON lines, and exec events → app-server notifications.

`Translator` receives the exec events `TurnRunner` emits for one turn and sends what the real
app-server sends for the same model replies (checked by conformance): `turn/started`, the user
message item, `item/started`/`item/completed` per item (agent messages with their scenario
`deltas` as `item/agentMessage/delta`), `thread/tokenUsage/updated` per model request, `error`,
`turn/completed`. Nothing is sent for a turn after it was interrupted.
"""

from __future__ import annotations

import json
import os
import threading
from typing import TYPE_CHECKING, Any

from fake_codex.core.ids import uuid7
from fake_codex.core.scenario import MessageItem, ReasoningItem

if TYPE_CHECKING:
    from fake_codex.core.events import Totals
    from fake_codex.core.scenario import Scenario, Turn
    from fake_codex.core.versions import Behaviour


class Notes:
    """stdout, one JSON object per line, safe to use from worker threads."""

    def __init__(self) -> None:
        self._lock = threading.Lock()

    def send(self, message: dict[str, Any]) -> None:
        data = (json.dumps(message, separators=(",", ":")) + "\n").encode()
        with self._lock:
            view = memoryview(data)
            while view:
                view = view[os.write(1, view) :]

    def note(self, method: str, params: dict[str, Any]) -> None:
        self.send({"method": method, "params": params})


def user_message_item(prompt: str) -> dict[str, Any]:
    content = [{"type": "text", "text": prompt, "text_elements": []}]
    return {"type": "userMessage", "id": uuid7(), "content": content}


_STATUS = {"in_progress": "inProgress", "completed": "completed", "failed": "failed"}


def _breakdown(t: Totals, cache_write: bool) -> dict[str, int]:
    out = {
        "totalTokens": t.input_tokens + t.output_tokens,
        "inputTokens": t.input_tokens,
        "cachedInputTokens": t.cached_input_tokens,
    }
    if cache_write:
        out["cacheWriteInputTokens"] = t.cache_write_input_tokens
    out["outputTokens"] = t.output_tokens
    out["reasoningOutputTokens"] = t.reasoning_output_tokens
    return out


def _mcp_result(result: Any) -> Any:
    """exec's `{content, structured_content}` in app-server's names."""
    if not isinstance(result, dict):
        return result
    content = result.get("content")
    return {
        "content": content,
        "structuredContent": result.get("structured_content"),
        "_meta": None,
    }


def token_usage(last: Totals, total: Totals, cache_write: bool) -> dict[str, Any]:
    return {
        "last": _breakdown(last, cache_write),
        "total": _breakdown(total, cache_write),
        "modelContextWindow": None,
    }


class Translator:
    """One turn's exec events → notifications for `thread_id`."""

    def __init__(
        self, out: Notes, thread_id: str, job: Any, behaviour: Behaviour, scenario: Scenario | None
    ) -> None:
        self.out = out
        self.thread_id = thread_id
        self.job = job
        self.b = behaviour
        self._messages: list[MessageItem] = []
        self._reasoning: list[ReasoningItem] = []
        self._n = 0

    def _note(self, method: str, params: dict[str, Any]) -> None:
        if not self.job.interrupted:
            self.out.note(method, {**params, "threadId": self.thread_id})

    def _turn_note(self, method: str, params: dict[str, Any]) -> None:
        self._note(method, {**params, "turnId": self.job.turn_id})

    def _turn(self, status: str, error: Any = None) -> dict[str, Any]:
        return {"id": self.job.turn_id, "items": [], "status": status, "error": error}

    def begin(self, user_item: dict[str, Any]) -> None:
        self._note("thread/status/changed", {"status": {"type": "active", "activeFlags": []}})
        self._note("turn/started", {"turn": self._turn("inProgress")})
        self._turn_note("item/started", {"item": user_item})
        self._turn_note("item/completed", {"item": user_item})

    def expect(self, turn: Turn) -> None:
        """The scenario items whose exact form exec events lose (deltas, summary parts)."""
        for reply in turn.requests:
            for item in reply.output:
                if isinstance(item, MessageItem):
                    self._messages.append(item)
                elif isinstance(item, ReasoningItem) and item.summary:
                    self._reasoning.append(item)

    def usage(self, last: Totals, total: Totals) -> None:
        usage = token_usage(last, total, self.b.family >= 150)
        self._turn_note("thread/tokenUsage/updated", {"tokenUsage": usage})

    def fail(self, message: str) -> None:
        error = {"message": message, "codexErrorInfo": None, "additionalDetails": None}
        self._note("thread/status/changed", {"status": {"type": "systemError"}})
        self._turn_note("error", {"error": error, "willRetry": False})
        self._end(self._turn("failed", error))

    def _end(self, turn: dict[str, Any]) -> None:
        # The thread takes its next turn as soon as the client can see this one ended.
        interrupted = self.job.interrupted
        self.job.done.set()
        if not interrupted:
            self.out.note("turn/completed", {"turn": turn, "threadId": self.thread_id})

    def feed(self, event: dict[str, Any]) -> None:
        kind = event.get("type")
        if kind in ("item.started", "item.completed"):
            self._item(kind == "item.started", event["item"])
        elif kind == "error":
            message = str(event.get("message", ""))
            if message.startswith("Reconnecting"):
                error = {"message": message, "codexErrorInfo": None, "additionalDetails": None}
                self._turn_note("error", {"error": error, "willRetry": True})
        elif kind == "turn.failed":
            self.fail(str(event.get("error", {}).get("message", "")))
        elif kind == "turn.completed":
            self._note("thread/status/changed", {"status": {"type": "idle"}})
            self._end(self._turn("completed"))

    def _both(self, item: dict[str, Any], deltas: tuple[str, ...] = ()) -> None:
        self._turn_note("item/started", {"item": item})
        for delta in deltas:
            params = {"itemId": item["id"], "delta": delta}
            self._turn_note("item/agentMessage/delta", params)
        self._turn_note("item/completed", {"item": item})

    def _item(self, started: bool, item: dict[str, Any]) -> None:
        kind = item.get("type")
        phase = "item/started" if started else "item/completed"
        if kind == "agent_message":
            text = item["text"]
            deltas: tuple[str, ...] = ()
            match = next((m for m in self._messages if m.text == text), None)
            if match is not None:
                self._messages.remove(match)
                deltas = match.deltas
            self._n += 1
            self._both({"type": "agentMessage", "id": f"msg_{self._n}", "text": text}, deltas)
        elif kind == "reasoning":
            text = item["text"]
            found = next((r for r in self._reasoning if "\n".join(r.summary) == text), None)
            if found is not None:
                self._reasoning.remove(found)
            summary = list(found.summary) if found is not None else [text]
            self._both({"type": "reasoning", "id": item["id"], "summary": summary, "content": []})
        elif kind == "command_execution":
            converted = {
                "type": "commandExecution",
                "id": item["id"],
                "command": item["command"],
                "status": _STATUS.get(item["status"], item["status"]),
                "exitCode": item["exit_code"],
                "aggregatedOutput": None if started else item["aggregated_output"],
            }
            self._turn_note(phase, {"item": converted})
        elif kind == "mcp_tool_call":
            converted = {
                "type": "mcpToolCall",
                "id": item["id"],
                "server": item["server"],
                "tool": item["tool"],
                "status": _STATUS.get(item["status"], item["status"]),
                "arguments": item["arguments"],
                "result": _mcp_result(item["result"]),
                "error": item["error"],
            }
            self._turn_note(phase, {"item": converted})
        elif kind == "file_change":
            converted = {
                "type": "fileChange",
                "id": item["id"],
                "changes": item["changes"],
                "status": _STATUS.get(item["status"], item["status"]),
            }
            self._turn_note(phase, {"item": converted})
        elif kind == "error":
            self._note("warning", {"message": item["message"]})
