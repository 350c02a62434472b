"""What the Responses server records of each request: `RecordedRequest`, the problems a test
fails on (`Unserved`, `PromptMismatch`, `HistoryMismatch`), and the readers of a request body
(`last_user_text`, `history_text`). Pure.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class RecordedRequest:
    """One HTTP request as codex sent it (authorization values redacted)."""

    index: int
    method: str
    path: str
    headers: Mapping[str, str]
    body: Any  # the parsed JSON body, or None when absent or not JSON
    raw_size: int

    @property
    def is_model_request(self) -> bool:
        return self.method == "POST" and self.path.split("?")[0] == "/v1/responses"


@dataclass(frozen=True)
class Unserved:
    """A model request that arrived after the script ran out (a test failure)."""

    request_index: int
    model_request_number: int  # 1-based count among POST /v1/responses
    message: str


@dataclass(frozen=True)
class PromptMismatch:
    """The user prompt of a turn's first request differs from the scenario's expectation."""

    request_index: int
    expected: str
    actual: str | None


@dataclass(frozen=True)
class RequestViolation:
    """A model request the API would reject (tool-call pairing): answered with HTTP 400."""

    request_index: int
    model_request_number: int
    problems: tuple[str, ...]


@dataclass(frozen=True)
class HistoryMismatch:
    """A turn's first request lacks an `expect_history_contains` string or holds an excluded one."""

    request_index: int
    key: str  # expect_history_contains | expect_history_excludes
    text: str


def last_user_text(body: Any) -> str | None:
    """The text of the last user message in a Responses request body (the prompt)."""
    if not isinstance(body, dict) or not isinstance(body.get("input"), list):
        return None
    for item in reversed(body["input"]):
        if isinstance(item, dict) and item.get("type") == "message" and item.get("role") == "user":
            parts = item.get("content")
            if isinstance(parts, str):
                return parts
            if isinstance(parts, list):
                return "".join(
                    p.get("text", "")
                    for p in parts
                    if isinstance(p, dict) and p.get("type") == "input_text"
                )
    return None


def history_text(body: Any) -> str:
    """Every string of the request's `input` (messages, call arguments, tool outputs), one per
    line: what `expect_history_contains` / `_excludes` are checked against (the fake codex checks
    the same keys against the history it rebuilds from the rollout)."""
    parts: list[str] = []

    def walk(value: Any) -> None:
        if isinstance(value, str):
            parts.append(value)
        elif isinstance(value, list):
            for v in value:
                walk(v)
        elif isinstance(value, dict):
            for v in value.values():
                walk(v)

    walk(body.get("input") if isinstance(body, dict) else None)
    return "\n".join(parts)
