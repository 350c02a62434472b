"""A rollout (and the exec stream) → a scenario: what the recorder builds from what codex wrote.

Each turn runs from `task_started` to `task_complete`; its prompt is the last user
`response_item` before the turn's first user event; the model's output items since the previous
`token_count` form one reply (usage: that `token_count`'s `last_token_usage`); a failed turn ends
with an error reply rebuilt from codex's message (`error_reply`). Pure: no processes.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

_USAGE_KEYS = (
    ("input_tokens", "input_tokens"),
    ("cached_input_tokens", "cached_tokens"),
    ("cache_write_input_tokens", "cache_write_tokens"),
    ("output_tokens", "output_tokens"),
    ("reasoning_output_tokens", "reasoning_tokens"),
)


_RECONNECTING = re.compile(r"^Reconnecting\.\.\. \d+/\d+ \((.*)\)$", re.S)


_UNEXPECTED = re.compile(r"^unexpected status (\d{3})[^:]*: (.*), url: \S+$", re.S)


_STREAM = "stream disconnected before completion: "


def usage_from(last: Any) -> dict[str, int]:
    """`token_count.info.last_token_usage` -> a scenario Usage (zero fields left out)."""
    if not isinstance(last, dict):
        return {}
    return {ours: int(last[theirs]) for theirs, ours in _USAGE_KEYS if last.get(theirs)}


def output_item(payload: dict[str, Any]) -> dict[str, Any] | None:
    """A rollout `response_item` payload -> a scenario OutputItem, None when not model output."""
    kind = payload.get("type")
    if kind == "message" and payload.get("role") == "assistant":
        parts = payload.get("content") or []
        text = "".join(p.get("text", "") for p in parts if isinstance(p, dict))
        return {"type": "message", "text": text}
    if kind == "reasoning":
        summary = payload.get("summary") or []
        return {"type": "reasoning", "summary": [s.get("text", "") for s in summary]}
    if kind == "function_call":
        raw = payload.get("arguments", "{}")
        try:
            arguments = json.loads(raw) if isinstance(raw, str) else raw
        except ValueError:
            arguments = {"<unparsed arguments>": raw}
        item = {"type": "function_call", "name": payload.get("name"), "arguments": arguments}
        if payload.get("namespace"):
            item["namespace"] = payload["namespace"]
        item["call_id"] = payload.get("call_id")
        return item
    if kind == "custom_tool_call":
        item = {"type": "custom_tool_call", "name": payload.get("name")}
        if payload.get("namespace"):
            item["namespace"] = payload["namespace"]
        item.update(input=payload.get("input", ""), call_id=payload.get("call_id"))
        return item
    if kind == "web_search_call":
        action = payload.get("action") or {}
        return {"type": "web_search_call", "query": action.get("query", ""), "id": payload["id"]}
    return None


def _json_or_text(text: str) -> Any:
    try:
        value = json.loads(text)
    except ValueError:
        return text
    return value if isinstance(value, dict) else text


def error_reply(message: str, info: Any = None) -> dict[str, Any]:
    """The Reply that makes codex fail with `message` (codex-facts §2, read backwards).

    `info` is the rollout's `codex_error_info` (0.150+), used where the text is ambiguous.
    """
    if m := _UNEXPECTED.match(message):
        return {"http_status": int(m.group(1)), "body": m.group(2)}
    if message.startswith(("We’re currently experiencing", "We're currently experiencing")):
        return {"http_status": 500, "body": ""}
    if message.startswith("exceeded retry limit, last status: 429"):
        error = {"message": "Rate limit reached", "type": "requests", "code": "rate_limit_exceeded"}
        return {"http_status": 429, "body": {"error": error}}
    if message.startswith("Quota exceeded."):
        error = {"message": "You exceeded your current quota.", "type": "insufficient_quota"}
        return {"http_status": 429, "body": {"error": {**error, "code": "insufficient_quota"}}}
    if message.startswith("Codex ran out of room in the model's context window"):
        error = {"code": "context_length_exceeded", "message": "context length exceeded"}
        return {"end": "failed", "error": error}
    if message.startswith("rate limit exceeded: "):
        text = message.removeprefix("rate limit exceeded: ")
        return {"end": "failed", "error": {"code": "rate_limit_exceeded", "message": text}}
    if info == "invalid_prompt":
        return {"end": "failed", "error": {"code": "invalid_prompt", "message": message}}
    if info == "model_not_found":
        error = {"message": message, "type": "invalid_request_error", "code": "model_not_found"}
        return {"http_status": 404, "body": {"error": error}}
    if message == _STREAM + "stream closed before response.completed":
        return {"end": "cut"}
    if message.startswith(_STREAM):
        text = message.removeprefix(_STREAM)
        return {"end": "failed", "error": {"code": "server_error", "message": text}}
    if m := re.match(r"^Incomplete response returned, reason: (.*)$", message):
        return {"end": "incomplete", "reason": m.group(1)}
    # HTTP 400: codex shows the raw body (an object body as Python's json.dumps renders it).
    return {"http_status": 400, "body": _json_or_text(message)}


@dataclass
class _Turn:
    prompt: str | None = None
    replies: list[dict[str, Any]] = field(default_factory=list)
    pending: list[dict[str, Any]] = field(default_factory=list)
    last_user: str | None = None
    error: tuple[str, Any] | None = None
    completed: bool = False


def _user_text(payload: dict[str, Any]) -> str:
    parts = payload.get("content") or []
    return "".join(p.get("text", "") for p in parts if isinstance(p, dict))


def _is_user_event(payload: dict[str, Any]) -> bool:
    if payload.get("type") == "user_message":  # 0.135
        return True
    item = payload.get("item")
    return (
        payload.get("type") == "item_completed"
        and isinstance(item, dict)
        and item.get("type") == "UserMessage"
    )


def turns_from_rollout(lines: Sequence[Any]) -> list[_Turn]:
    """Split a rollout into turns and each turn into the replies of its model requests."""
    turns: list[_Turn] = []
    turn: _Turn | None = None
    for line in lines:
        if not isinstance(line, dict) or not isinstance(line.get("payload"), dict):
            continue
        kind, payload = line.get("type"), line["payload"]
        sub = payload.get("type")
        if kind == "event_msg" and sub == "task_started":
            turn = _Turn()
            turns.append(turn)
            continue
        if turn is None:
            continue
        if kind == "response_item":
            if sub == "message" and payload.get("role") == "user":
                turn.last_user = _user_text(payload)
            item = output_item(payload)
            if item is not None:
                turn.pending.append(item)
        elif kind == "event_msg" and _is_user_event(payload) and turn.prompt is None:
            turn.prompt = turn.last_user
        elif kind == "event_msg" and sub == "token_count":
            info = payload.get("info")
            if isinstance(info, dict) and info.get("last_token_usage") is not None:
                reply = {"output": turn.pending, "usage": usage_from(info["last_token_usage"])}
                turn.replies.append(reply)
                turn.pending = []
        elif kind == "event_msg" and sub == "task_complete":
            error = payload.get("error")
            if isinstance(error, dict) and error.get("message"):
                turn.error = (str(error["message"]), error.get("codex_error_info"))
            turn.completed = True
            turn = None
    return turns


def _exec_outcomes(events: Sequence[Any]) -> list[tuple[str | None, list[str]]]:
    """Per turn of an exec stream: (turn.failed message or None, Reconnecting messages)."""
    out: list[tuple[str | None, list[str]]] = []
    retries: list[str] = []
    for event in events:
        if not isinstance(event, dict):
            continue
        kind = event.get("type")
        if kind == "turn.started":
            retries = []
        elif kind == "error" and (m := _RECONNECTING.match(str(event.get("message", "")))):
            retries.append(m.group(1))
        elif kind == "turn.completed":
            out.append((None, retries))
        elif kind == "turn.failed":
            error = event.get("error") or {}
            out.append((str(error.get("message", "")), retries))
    return out


def build_scenario(
    rollout: Sequence[Any],
    exec_events: Sequence[Any] = (),
    *,
    version: str | None = None,
    description: str | None = None,
    prompts: Sequence[str | None] = (),
) -> dict[str, Any]:
    """A scenario document (docs/scenarios.md) from a rollout and, optionally, the exec stream
    of its LAST invocations (matched to the rollout's last turns). `prompts` overrides the
    prompt of turn i (the live recorder knows them from the request bodies)."""
    turns = turns_from_rollout(rollout)
    outcomes = _exec_outcomes(exec_events)
    offset = len(turns) - len(outcomes)
    doc_turns: list[dict[str, Any]] = []
    for i, turn in enumerate(turns):
        failed, retries = outcomes[i - offset] if i >= offset else (None, [])
        error = turn.error or ((failed, None) if failed is not None else None)
        replies = [error_reply(r) for r in retries] + turn.replies
        if error is not None:
            reply = error_reply(*error)
            if reply.get("end") == "cut" and turn.pending:
                reply = {"output": turn.pending, **reply}
            replies.append(reply)
        elif turn.pending:  # output after the last token_count (a turn cut short, a kill)
            replies.append({"output": turn.pending, "end": "cut"})
        doc_turn: dict[str, Any] = {}
        prompt = prompts[i] if i < len(prompts) and prompts[i] is not None else turn.prompt
        if prompt is not None:
            doc_turn["expect_prompt"] = prompt
        doc_turn["requests"] = replies
        doc_turns.append(doc_turn)
    document: dict[str, Any] = {"schema_version": 1}
    document["description"] = description or "recorded from a real codex run"
    if version:
        document["codex_version"] = version
    document["turns"] = doc_turns
    return document


def rollout_version(lines: Sequence[Any]) -> str | None:
    for line in lines:
        if isinstance(line, dict) and line.get("type") == "session_meta":
            version = (line.get("payload") or {}).get("cli_version")
            return str(version) if version else None
    return None
