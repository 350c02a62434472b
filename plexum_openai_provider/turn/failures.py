"""What a failed turn means, from codex's failure prose: the same words on both backends.

`classify_failure(text)` → an `ErrorCode` (`auth`, `model_rejected`, `turn_failed`) and a message
that says what to do. Pure: exec's `turn.failed` message and app-server's `turn/completed` error
text both come through here.
"""

from __future__ import annotations

import json
import re
from typing import Any

from ..events import ErrorCode

_AUTH_PATTERNS = re.compile(
    r"\b(?:status|HTTP)[:/ ]*401\b|\bUnauthorized\b"
    r"|Missing environment variable|refresh_token_reused",
    re.IGNORECASE,
)
_CHATGPT_MODEL = "not supported when using Codex with a ChatGPT account"

AUTH_HINT = " — run `codex login` (or check the API key codex uses) and retry"
MODEL_HINT = (
    " — `supported_models` / `model_args` in config.json choose what is passed as --model;"
    " the default model `codex` passes none"
)


# What a server says when the model itself is the problem (a wrong `model_args` entry, a model the
# account may not use). Matched on the body's own message, never on a bare mention of "model":
# "input too long for this model" is about the input.
_MODEL_PROBLEM = re.compile(
    r"\bmodel\b[^.]*?(?:does not exist|not found|not supported|is not available|"
    r"do(?:es)? not have access)|\b(?:unknown|unsupported|invalid) model\b",
    re.IGNORECASE,
)
_MODEL_ERROR_CODES = frozenset({"model_not_found", "unsupported_model", "model_not_supported"})


def classify_failure(message: str) -> tuple[ErrorCode, str]:
    """codex's failure text (`turn.failed`) → error code and a message that says what to do."""
    if _AUTH_PATTERNS.search(message):
        return "auth", message + AUTH_HINT
    detail, error = _body(message)
    about_model = (
        _CHATGPT_MODEL in message
        or error.get("code") in _MODEL_ERROR_CODES
        or _MODEL_PROBLEM.search(detail) is not None
    )
    if about_model:
        return (
            "model_rejected",
            f"the account rejected the request for this model: {detail}{MODEL_HINT}",
        )
    if "invalid_request_error" in message:
        # Other 400s (a bad input, a context overflow) are plain failures in the server's words.
        return "turn_failed", f"codex's request was rejected (HTTP 400): {detail}"
    return "turn_failed", message


def _body(message: str) -> tuple[str, dict[str, Any]]:
    """The human part of an OpenAI error body and its `error` object ({} when there is none)."""
    start = message.find("{")
    if start != -1:
        try:
            body: Any = json.loads(message[start:])
        except (ValueError, RecursionError):
            body = None
        if isinstance(body, dict):
            error = body.get("error")
            if isinstance(error, dict) and isinstance(error.get("message"), str):
                return str(error["message"]), error
            if isinstance(body.get("detail"), str):
                return str(body["detail"]), {}
    return message, {}
