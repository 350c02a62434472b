"""How codex reports a failed model request: the exact texts of codex-facts §2.

`describe_failure(reply, behaviour, url)` gives the `error`/`turn.failed` message, the rollout's
`codex_error_info`, and whether codex retries it (the `Reconnecting... N/M` path).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from fake_codex.core.scenario import Reply
from fake_codex.core.versions import Behaviour

STREAM_PREFIX = "stream disconnected before completion: "
STREAM_CLOSED = STREAM_PREFIX + "stream closed before response.completed"
QUOTA = "Quota exceeded. Check your plan and billing details."
CONTEXT = (
    "Codex ran out of room in the model's context window. Start a new thread or clear earlier "
    "history before retrying."
)


@dataclass(frozen=True)
class Failure:
    message: str
    codex_error_info: Any
    retryable: bool


def _body_text(body: object) -> str:
    # An object body goes on the wire as Python's json.dumps would write it (the captures' form).
    return body if isinstance(body, str) else json.dumps(body)


def _error_field(body: object, name: str) -> str | None:
    if isinstance(body, dict):
        err = body.get("error")
        if isinstance(err, dict) and isinstance(err.get(name), str):
            return str(err[name])
    return None


def _http_failure(status: int, body: object, behaviour: Behaviour, url: str) -> Failure:
    code = _error_field(body, "code") or _error_field(body, "type")
    message = _error_field(body, "message")
    if status == 500:
        text = f"We{behaviour.apostrophe}re currently experiencing high demand, which may cause "
        return Failure(text + "temporary errors.", "internal_server_error", True)
    if status == 429:
        if code == "insufficient_quota" and behaviour.family >= 169:
            return Failure(QUOTA, "usage_limit_exceeded", False)
        info: Any = {"response_too_many_failed_attempts": {"http_status_code": 429}}
        return Failure("exceeded retry limit, last status: 429 Too Many Requests", info, False)
    if status == 400:
        return Failure(_body_text(body), "other", False)
    if status == 404 and code == "model_not_found" and behaviour.family >= 169:
        return Failure(message or _body_text(body), "model_not_found", False)
    from http import HTTPStatus  # only paid for on this error path

    try:
        reason = HTTPStatus(status).phrase
    except ValueError:
        reason = ""
    detail = message if message is not None else _body_text(body)
    text = f"unexpected status {status} {reason}: {detail}, url: {url}"
    # 0.150.1 records `other` for these (0.169 names the HTTP status).
    info = {"http_connection_failed": {"http_status_code": status}}
    if behaviour.family < 169:
        info = "other"
    return Failure(text, info, status == 401 or status >= 500)


def _failed_failure(code: str, message: str, behaviour: Behaviour) -> Failure:
    if code == "context_length_exceeded":
        return Failure(CONTEXT, "context_window_exceeded", False)
    if code == "insufficient_quota":
        return Failure(QUOTA, "usage_limit_exceeded", False)
    if code == "rate_limit_exceeded" and behaviour.family >= 169:
        return Failure(f"rate limit exceeded: {message}", "rate_limit_exceeded", False)
    if code == "invalid_prompt":
        info = "invalid_prompt" if behaviour.family >= 169 else "other"
        return Failure(message, info, False)
    # Before 0.169 a rate limit is a plain stream error too (real 0.135.0 / 0.150.1).
    return Failure(f"{STREAM_PREFIX}{message}", "other", True)


def describe_failure(reply: Reply, behaviour: Behaviour, url: str) -> Failure | None:
    """None for a successful reply, else how codex reports it."""
    if reply.end == "http_error" and reply.http_status is not None:
        return _http_failure(reply.http_status, reply.body, behaviour, url)
    if reply.end == "cut":
        return Failure(STREAM_CLOSED, "other", True)
    if reply.end == "failed":
        code = reply.error_code or "server_error"
        return _failed_failure(code, reply.error_message or "", behaviour)
    if reply.end == "incomplete":
        reason = reply.incomplete_reason or "max_output_tokens"
        text = f"Incomplete response returned, reason: {reason}"
        if behaviour.family >= 169:
            return Failure(text, "other", False)
        # Before 0.169 an incomplete response is a stream error (prefix; retried like one).
        return Failure(STREAM_PREFIX + text, "other", True)
    return None


def reconnecting(attempt: int, max_retries: int, message: str) -> str:
    """The text of a retry notice, e.g. `Reconnecting... 1/5 (<message>)`."""
    return f"Reconnecting... {attempt}/{max_retries} ({message})"
