"""Builders for the `exec --json` events of codex-facts §1 (0.135 … 0.169 shapes).

Item ids are `item_N`, counted per process; agent_message/reasoning/error items are only
completed, tool items are started then completed with the same id.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fake_codex.core.output import Pairs


@dataclass
class Totals:
    """Token usage in codex's names; `turn.completed` reports the thread total."""

    input_tokens: int = 0
    cached_input_tokens: int = 0
    cache_write_input_tokens: int = 0
    output_tokens: int = 0
    reasoning_output_tokens: int = 0

    def add(self, other: Totals) -> None:
        self.input_tokens += other.input_tokens
        self.cached_input_tokens += other.cached_input_tokens
        self.cache_write_input_tokens += other.cache_write_input_tokens
        self.output_tokens += other.output_tokens
        self.reasoning_output_tokens += other.reasoning_output_tokens

    def as_exec(self, cache_write: bool) -> dict[str, int]:
        d = {"input_tokens": self.input_tokens, "cached_input_tokens": self.cached_input_tokens}
        if cache_write:
            d["cache_write_input_tokens"] = self.cache_write_input_tokens
        d["output_tokens"] = self.output_tokens
        d["reasoning_output_tokens"] = self.reasoning_output_tokens
        return d

    def as_rollout(self, cache_write: bool) -> dict[str, int]:
        d = self.as_exec(cache_write)
        d["total_tokens"] = self.input_tokens + self.output_tokens
        return d

    @classmethod
    def from_mapping(cls, d: dict[str, Any]) -> Totals:
        def get(key: str) -> int:
            value = d.get(key, 0)
            return value if isinstance(value, int) else 0

        return cls(
            get("input_tokens"),
            get("cached_input_tokens"),
            get("cache_write_input_tokens"),
            get("output_tokens"),
            get("reasoning_output_tokens"),
        )


class ItemIds:
    def __init__(self) -> None:
        self._next = 0

    def new(self) -> str:
        item_id = f"item_{self._next}"
        self._next += 1
        return item_id


def thread_started(thread_id: str) -> dict[str, Any]:
    return {"type": "thread.started", "thread_id": thread_id}


def turn_started() -> dict[str, Any]:
    return {"type": "turn.started"}


def item_completed(item: Any) -> dict[str, Any]:
    return {"type": "item.completed", "item": item}


def item_started(item: Any) -> dict[str, Any]:
    return {"type": "item.started", "item": item}


def agent_message(item_id: str, text: str) -> dict[str, Any]:
    return {"id": item_id, "type": "agent_message", "text": text}


def reasoning(item_id: str, text: str) -> dict[str, Any]:
    return {"id": item_id, "type": "reasoning", "text": text}


def error_item(item_id: str, message: str) -> dict[str, Any]:
    return {"id": item_id, "type": "error", "message": message}


def command(item_id: str, cmd: str, output: str, exit_code: int | None) -> dict[str, Any]:
    status = "in_progress" if exit_code is None else "completed" if exit_code == 0 else "failed"
    return {
        "id": item_id,
        "type": "command_execution",
        "command": cmd,
        "aggregated_output": output,
        "exit_code": exit_code,
        "status": status,
    }


def file_change(item_id: str, changes: list[tuple[str, str]], done: bool) -> dict[str, Any]:
    return {
        "id": item_id,
        "type": "file_change",
        "changes": [{"path": p, "kind": k} for p, k in sorted(changes)],
        "status": "completed" if done else "in_progress",
    }


def mcp_call(
    item_id: str,
    server: str,
    tool: str,
    arguments: Any,
    result: dict[str, Any] | None,
    error: str | None,
    status: str,
) -> dict[str, Any]:
    """An `mcp_tool_call` item; `result` is the server's CallToolResult (or None)."""
    shown = None
    if result is not None:
        shown = {
            "content": content_blocks(result),
            "structured_content": result.get("structuredContent"),
        }
    return {
        "id": item_id,
        "type": "mcp_tool_call",
        "server": server,
        "tool": tool,
        "arguments": arguments,
        "result": shown,
        "error": None if error is None else {"message": error},
        "status": status,
    }


def content_blocks(result: dict[str, Any]) -> list[Any]:
    """The result's content blocks with `type` first, as codex re-serialises them."""
    blocks = result.get("content")
    out: list[Any] = []
    for block in blocks if isinstance(blocks, list) else []:
        if isinstance(block, dict) and "type" in block:
            block = {"type": block["type"], **{k: v for k, v in block.items() if k != "type"}}
        out.append(block)
    return out


def web_search(item_id: str, search_id: str, query: str) -> Pairs:
    # codex writes `id` twice (its item id, then the provider's id); keep both, raw.
    return Pairs(
        (
            ("id", item_id),
            ("type", "web_search"),
            ("id", search_id),
            ("query", query),
            ("action", {"type": "search", "query": query}),
        )
    )


def error_event(message: str) -> dict[str, Any]:
    return {"type": "error", "message": message}


def turn_completed(totals: Totals, cache_write: bool) -> dict[str, Any]:
    return {"type": "turn.completed", "usage": totals.as_exec(cache_write)}


def turn_failed(message: str) -> dict[str, Any]:
    return {"type": "turn.failed", "error": {"message": message}}
