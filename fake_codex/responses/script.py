"""The Responses server's script: scenario replies checked (`validate_reply`), paired with what
each turn's first request must show (`replies_from_scenario`), and played as the SSE events of
`POST /v1/responses` (`sse_events`, `encode_sse`). Pure: no sockets.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

JsonObject = dict[str, Any]


_REPLY_KEYS = frozenset(
    {"output", "usage", "delay_ms", "http_status", "body", "end", "error", "reason", "gate"}
)


_ENDS = frozenset({"cut", "failed", "incomplete"})


@dataclass(frozen=True)
class Scripted:
    reply: Mapping[str, Any]
    expect_prompt: str | None = None
    expect_prompt_contains: str | None = None
    history_contains: tuple[str, ...] = ()
    history_excludes: tuple[str, ...] = ()


def validate_reply(reply: Mapping[str, Any]) -> None:
    """Raise ValueError for a Reply the server could not serve faithfully."""
    unknown = set(reply) - _REPLY_KEYS
    if unknown:
        raise ValueError(f"unknown Reply keys {sorted(unknown)} in {reply!r}")
    if "http_status" in reply:
        if "output" in reply or "end" in reply:
            raise ValueError(f"http_status excludes output/end: {reply!r}")
        if not isinstance(reply["http_status"], int):
            raise ValueError(f"http_status must be an int: {reply!r}")
    gate = reply.get("gate")
    if gate is not None and (not isinstance(gate, str) or not gate):
        raise ValueError(f"gate must be a non-empty name: {reply!r}")
    end = reply.get("end")
    if end is not None and end not in _ENDS:
        raise ValueError(f"end must be one of {sorted(_ENDS)}: {reply!r}")
    for item in reply.get("output", []):
        if item.get("type") not in _ITEM_BUILDERS:
            raise ValueError(f"unknown OutputItem type in {item!r}")
        deltas = item.get("deltas")
        if deltas is not None and (
            item.get("type") != "message"
            or not isinstance(deltas, list)
            or "".join(deltas) != item.get("text")
        ):
            raise ValueError(f"message deltas must be strings that join to its text: {item!r}")


def replies_from_scenario(scenario: Mapping[str, Any]) -> list[Scripted]:
    """The flat reply queue of a scenario: turn 0's requests, then turn 1's, ..."""
    if scenario.get("schema_version") != 1:
        raise ValueError(f"unsupported scenario schema_version {scenario.get('schema_version')!r}")
    queue: list[Scripted] = []
    for turn in scenario["turns"]:
        for j, reply in enumerate(turn.get("requests", [])):
            first = j == 0
            queue.append(
                Scripted(
                    reply,
                    turn.get("expect_prompt") if first else None,
                    turn.get("expect_prompt_contains") if first else None,
                    tuple(turn.get("expect_history_contains", ())) if first else (),
                    tuple(turn.get("expect_history_excludes", ())) if first else (),
                )
            )
    return queue


def load_scenario(path: Path) -> JsonObject:
    data = json.loads(path.read_text())
    if not isinstance(data, dict):
        raise ValueError(f"{path}: a scenario is a JSON object")
    return data


def _message(item: Mapping[str, Any], n: int) -> JsonObject:
    return {
        "type": "message",
        "id": f"msg_{n}",
        "role": "assistant",
        "status": "completed",
        "content": [{"type": "output_text", "text": item["text"], "annotations": []}],
    }


def _reasoning(item: Mapping[str, Any], n: int) -> JsonObject:
    summary = [{"type": "summary_text", "text": s} for s in item.get("summary", [])]
    return {"type": "reasoning", "id": f"rs_{n}", "summary": summary}


def _function_call(item: Mapping[str, Any], n: int) -> JsonObject:
    args = item.get("arguments", {})
    out: JsonObject = {
        "type": "function_call",
        "id": f"fc_{n}",
        "status": "completed",
        "call_id": item["call_id"],
        "name": item["name"],
        "arguments": args if isinstance(args, str) else json.dumps(args),
    }
    if "namespace" in item:
        out["namespace"] = item["namespace"]
    return out


def _custom_tool_call(item: Mapping[str, Any], n: int) -> JsonObject:
    out: JsonObject = {
        "type": "custom_tool_call",
        "id": f"ctc_{n}",
        "status": "completed",
        "call_id": item["call_id"],
        "name": item["name"],
        "input": item["input"],
    }
    if "namespace" in item:
        out["namespace"] = item["namespace"]
    return out


def _web_search_call(item: Mapping[str, Any], n: int) -> JsonObject:
    return {
        "type": "web_search_call",
        "id": item.get("id", f"ws_{n}"),
        "status": "completed",
        "action": {"type": "search", "query": item.get("query", "")},
    }


_ITEM_BUILDERS = {
    "message": _message,
    "reasoning": _reasoning,
    "function_call": _function_call,
    "custom_tool_call": _custom_tool_call,
    "web_search_call": _web_search_call,
}


def wire_usage(usage: Mapping[str, int] | None) -> JsonObject:
    """Scenario Usage (flattened) -> Responses `usage` object."""
    u = usage or {}
    inp, out = u.get("input_tokens", 0), u.get("output_tokens", 0)
    return {
        "input_tokens": inp,
        "input_tokens_details": {
            "cached_tokens": u.get("cached_tokens", 0),
            "cache_write_tokens": u.get("cache_write_tokens", 0),
        },
        "output_tokens": out,
        "output_tokens_details": {"reasoning_tokens": u.get("reasoning_tokens", 0)},
        "total_tokens": inp + out,
    }


def sse_events(reply: Mapping[str, Any], response_id: str) -> list[JsonObject]:
    """The SSE event objects for a streamed Reply (not for http_status replies)."""
    events: list[JsonObject] = [
        {
            "type": "response.created",
            "response": {"id": response_id, "object": "response", "status": "in_progress"},
        }
    ]
    for i, spec in enumerate(reply.get("output", [])):
        item = _ITEM_BUILDERS[spec["type"]](spec, i)
        events.append({"type": "response.output_item.added", "output_index": i, "item": item})
        for delta in spec.get("deltas", []) if spec["type"] == "message" else []:
            # A model that streams its text: codex app-server relays each as a delta.
            events.append(
                {
                    "type": "response.output_text.delta",
                    "item_id": item["id"],
                    "output_index": i,
                    "content_index": 0,
                    "delta": delta,
                }
            )
        events.append({"type": "response.output_item.done", "output_index": i, "item": item})
    end = reply.get("end")
    if end == "failed":
        error = dict(reply.get("error") or {"code": "server_error", "message": "failed"})
        events.append(
            {
                "type": "response.failed",
                "response": {"id": response_id, "status": "failed", "error": error},
            }
        )
    elif end == "incomplete":
        details = {"reason": reply.get("reason", "max_output_tokens")}
        events.append(
            {
                "type": "response.incomplete",
                "response": {
                    "id": response_id,
                    "status": "incomplete",
                    "incomplete_details": details,
                },
            }
        )
    elif end is None:
        events.append(
            {
                "type": "response.completed",
                "response": {
                    "id": response_id,
                    "status": "completed",
                    "usage": wire_usage(reply.get("usage")),
                },
            }
        )
    return events  # end == "cut": no terminal event, the connection just closes


def encode_sse(event: Mapping[str, Any]) -> bytes:
    return f"event: {event['type']}\ndata: {json.dumps(event)}\n\n".encode()
