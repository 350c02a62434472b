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
import shlex
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from fake_codex.app_server.shapes import now_ms, timed_item, turn_json
from fake_codex.core.ids import uuid7
from fake_codex.core.scenario import MessageItem, ReasoningItem
from fake_codex.core.versions import CONTEXT_WINDOW

if TYPE_CHECKING:
    from fake_codex.core.events import Totals
    from fake_codex.core.scenario import Scenario, Turn
    from fake_codex.core.versions import Behaviour


class Notes:
    """stdout, one JSON object per line, safe to use from worker threads."""

    def __init__(self, family: int = 169) -> None:
        self._lock = threading.Lock()
        self.family = family  # 0.150+ stamp every notification with `emittedAtMs`

    def send(self, message: dict[str, Any]) -> None:
        data = (json.dumps(message, separators=(",", ":")) + "\n").encode()
        with self._lock:
            view = memoryview(data)
            while view:
                view = view[os.write(1, view) :]

    def note(self, method: str, params: dict[str, Any]) -> None:
        message: dict[str, Any] = {"method": method, "params": params}
        if self.family >= 150:
            message["emittedAtMs"] = now_ms()
        self.send(message)


def user_message_item(prompt: str, family: int = 169) -> dict[str, Any]:
    content = [{"type": "text", "text": prompt, "text_elements": []}]
    item: dict[str, Any] = {"type": "userMessage", "id": uuid7()}
    if family >= 150:
        item["clientId"] = None
    item["content"] = content
    return item


def agent_message_item(family: int, item_id: str, text: str) -> dict[str, Any]:
    """An `agentMessage` with the (unset) fields `family`'s binary sends."""
    item: dict[str, Any] = {"type": "agentMessage"}
    if family >= 169:
        item["moderation"] = None
    item.update(id=item_id, text=text, phase=None, memoryCitation=None)
    if family >= 150:
        item["delivery"] = None
    if family >= 169:
        item["questions"] = None
    return item


def _shell_actions(command: str) -> list[dict[str, Any]]:
    """codex's `commandActions` for a command it could not classify: the inner command line."""
    try:
        words = shlex.split(command)
    except ValueError:
        words = []
    inner = words[2] if len(words) == 3 and words[1] == "-lc" else command
    return [{"type": "unknown", "command": inner}]


class TurnAbandoned(Exception):
    """The turn was interrupted while its model was silent: its worker stops at once."""


_TOOL_ITEMS = ("command_execution", "mcp_tool_call", "file_change")
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
        "modelContextWindow": CONTEXT_WINDOW,
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
        self._started_s = int(time.time())
        self._started_ms = now_ms()
        self._item_started: dict[str, int] = {}
        self.summary: list[dict[str, Any]] = []  # the turn's agent messages (turn/completed)
        self.full: list[dict[str, Any]] = []  # every completed item (thread/read's turns)
        self._final: dict[str, Any] | None = None
        self.silent_after_tool = False
        self.on_end: Callable[[dict[str, Any]], None] | None = None  # gets the full turn
        self.cwd = ""
        self._tool_ids: dict[str, str] = {}  # exec item id → the call id app-server names it by
        self._diffs: dict[str, dict[str, str]] = {}

    def tool_item(self, item_id: str, call_id: str, diffs: dict[str, str]) -> None:
        """TurnSetup.tool_item: a tool call's exec item id, call id and patch diffs."""
        self._tool_ids[item_id] = call_id
        self._diffs[item_id] = diffs

    def client_item_id(self, item_id: str) -> str:
        """The id the client sees for an exec item (a tool item is named by its call id)."""
        return self._tool_ids.get(item_id, item_id)

    def _note(self, method: str, params: dict[str, Any]) -> None:
        if not self.job.interrupted:
            self.out.note(method, {**params, "threadId": self.thread_id})

    def _turn_note(self, method: str, params: dict[str, Any]) -> None:
        self._note(method, {**params, "turnId": self.job.turn_id})

    def _turn(self, status: str, error: Any = None) -> dict[str, Any]:
        family = self.b.family
        if status == "inProgress":
            return turn_json(family, self.job.turn_id, status, started=self._started_s)
        return turn_json(
            family,
            self.job.turn_id,
            status,
            error=error,
            items=self.summary,
            started=self._started_s,
            completed=int(time.time()),
            duration_ms=now_ms() - self._started_ms,
        )

    def _item_note(self, started: bool, item: dict[str, Any]) -> None:
        """item/started or item/completed, with the timing fields of the version."""
        stamp = now_ms()
        begun = self._item_started.setdefault(item["id"], stamp)
        family = self.b.family
        if started:
            sent = timed_item(family, item, begun, None)
            self._turn_note("item/started", {"item": sent, "startedAtMs": begun})
            return
        params: dict[str, Any] = {"item": timed_item(family, item, begun, stamp)}
        if family >= 169 or item["type"] != "commandExecution":
            self.full.append(params["item"])  # before 0.169 commands are left out of the history
        if family >= 169:
            params["contentTokenCount"] = None
        params["completedAtMs"] = stamp
        self._turn_note("item/completed", params)

    def full_turn(self) -> dict[str, Any]:
        """The turn as thread/read and thread/resume list it: every item, `itemsView: full`."""
        turn = dict(self._final or self._turn("completed"))
        turn.update(items=list(self.full), itemsView="full")
        return turn

    def steer(self, user_item: dict[str, Any]) -> None:
        """The input of an accepted `turn/steer`: a user message item of this turn."""
        self._item_note(True, user_item)
        self._item_note(False, user_item)

    def begin(self, user_item: dict[str, Any]) -> None:
        self._note("thread/status/changed", {"status": {"type": "active", "activeFlags": []}})
        self._note("turn/started", {"turn": self._turn("inProgress")})
        self._item_note(True, user_item)
        self._item_note(False, user_item)

    def status_active(self, flags: list[str]) -> None:
        self._note("thread/status/changed", {"status": {"type": "active", "activeFlags": flags}})

    def expect(self, turn: Turn) -> None:
        """The scenario items whose exact form exec events lose (deltas, summary parts), and the
        turn's app-server faults."""
        self.silent_after_tool = turn.faults.silent_after_tool
        self.job.hung = turn.faults.no_turn_completed
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
        if self.job.hung:
            return  # fault no_turn_completed: the turn stays running, its end is never sent
        # The thread takes its next turn as soon as the client can see this one ended.
        interrupted = self.job.interrupted
        self._final = turn
        if not interrupted and self.on_end is not None:
            self.on_end(self.full_turn())  # readable (thread/read) before the client hears of it
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
            if not self.job.hung:
                self._note("thread/status/changed", {"status": {"type": "idle"}})
            self._end(self._turn("completed"))
        tool = kind == "item.completed" and event["item"].get("type") in _TOOL_ITEMS
        if tool and self.silent_after_tool:
            # Fault silent_after_tool: the model never answers the next request; only an
            # interrupt (or the process's end) releases the turn, which then stops there.
            self.job.done.wait()
            raise TurnAbandoned(self.job.turn_id)

    def _both(self, item: dict[str, Any], deltas: tuple[str, ...] = ()) -> None:
        self._item_note(True, item)
        for delta in deltas:
            params = {"itemId": item["id"], "delta": delta}
            self._turn_note("item/agentMessage/delta", params)
        self._item_note(False, item)

    def _id(self, item: dict[str, Any]) -> str:
        return str(self._tool_ids.get(item["id"], item["id"]))

    def _change(self, item_id: str, change: dict[str, Any]) -> dict[str, Any]:
        """exec's `{path, kind}` as app-server's `FileUpdateChange`."""
        kind: dict[str, Any] = {"type": change["kind"]}
        if change["kind"] == "update":
            kind["move_path"] = None
        diff = self._diffs.get(item_id, {}).get(change["path"], "")
        return {"path": change["path"], "kind": kind, "diff": diff}

    def _item(self, started: bool, item: dict[str, Any]) -> None:
        kind = item.get("type")
        family = self.b.family
        if kind == "agent_message":
            text = item["text"]
            deltas: tuple[str, ...] = ()
            match = next((m for m in self._messages if m.text == text), None)
            if match is not None:
                self._messages.remove(match)
                deltas = match.deltas
            self._n += 1
            message = agent_message_item(family, f"msg_{self._n}", text)
            self._both(message, deltas)
            self.summary.append(timed_item(family, message, self._started_ms, now_ms()))
        elif kind == "reasoning":
            text = item["text"]
            found = next((r for r in self._reasoning if "\n".join(r.summary) == text), None)
            if found is not None:
                self._reasoning.remove(found)
            summary = list(found.summary) if found is not None else [text]
            self._both({"type": "reasoning", "id": item["id"], "summary": summary, "content": []})
        elif kind == "command_execution":
            converted: dict[str, Any] = {"type": "commandExecution", "id": self._id(item)}
            if family >= 150:
                converted.update(pluginId=None, scriptPath=None)
            begun = self._item_started.get(converted["id"])
            converted.update(
                command=item["command"],
                cwd=self.cwd,
                processId=str(os.getpid()),
                source="unifiedExecStartup",
                status=_STATUS.get(item["status"], item["status"]),
                commandActions=_shell_actions(item["command"]),
                aggregatedOutput=None if started else item["aggregated_output"],
                exitCode=item["exit_code"],
                durationMs=None if started or begun is None else now_ms() - begun,
            )
            self._item_note(started, converted)
        elif kind == "mcp_tool_call":
            converted = {
                "type": "mcpToolCall",
                "id": self._id(item),
                "server": item["server"],
                "tool": item["tool"],
                "status": _STATUS.get(item["status"], item["status"]),
                "arguments": item["arguments"],
                "result": _mcp_result(item["result"]),
                "error": item["error"],
                "durationMs": None,
                "pluginId": None,
                "mcpAppResourceUri": None,
            }
            begun = self._item_started.get(converted["id"])
            if not started and begun is not None:
                converted["durationMs"] = now_ms() - begun
            self._item_note(started, converted)
        elif kind == "file_change":
            converted = {
                "type": "fileChange",
                "id": self._id(item),
                "changes": [self._change(item["id"], c) for c in item["changes"]],
                "status": _STATUS.get(item["status"], item["status"]),
            }
            self._item_note(started, converted)
        elif kind == "error":
            self._note("warning", {"message": item["message"]})
