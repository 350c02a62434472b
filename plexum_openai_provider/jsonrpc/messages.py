"""JSON-RPC 2.0 messages in plain types: the standard error codes, classifying, building.

Pure functions over decoded JSON: `classify` tells a request from a notification, a response or
garbage (raising `RpcError(INVALID_REQUEST)`); the builders return the dicts every side writes.
`tagged=False` leaves out `"jsonrpc": "2.0"`, as `codex app-server` speaks it. JSON may escape a
lone surrogate (`"\\ud800"`), which no UTF-8 writer can encode: `lone_surrogate` finds one in a
decoded value, and `encode_line` (every writer's encoder) replaces one with U+FFFD, never raising.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ..errors import RemoteError, RpcError

JSONRPC = "2.0"

# JSON-RPC 2.0's own codes.
PARSE_ERROR = -32700
INVALID_REQUEST = -32600
METHOD_NOT_FOUND = -32601
INVALID_PARAMS = -32602
INTERNAL_ERROR = -32603

RequestId = str | int


# -- classifying a decoded message ------------------------------------------------------------


@dataclass(frozen=True)
class Request:
    id: RequestId
    method: str
    params: Mapping[str, Any]


@dataclass(frozen=True)
class Notification:
    method: str
    params: Mapping[str, Any]


@dataclass(frozen=True)
class Response:
    """An answer to one of our requests."""

    id: RequestId
    result: Any = None
    error: Any = None
    is_error: bool = False


Incoming = Request | Notification | Response


def valid_id(value: Any) -> bool:
    if isinstance(value, str):
        return _LONE_SURROGATE.search(value) is None
    return isinstance(value, int) and not isinstance(value, bool)


# The id an error answer echoes: a request's id when it is a string or a number (a fractional
# one included, so the sender can still match the error), else null.
AnswerId = str | int | float | None


def request_id_of(message: Any) -> AnswerId:
    """The id to answer an invalid request with, when one can be read from it (else null)."""
    value = message.get("id") if isinstance(message, dict) else None
    if valid_id(value) or (isinstance(value, float) and math.isfinite(value)):
        answer: AnswerId = value
        return answer
    return None


def is_response(message: Any) -> bool:
    """A message shaped like a response (no `method`; a `result` or an `error`): valid or not,
    it is never answered — two peers that answered each other's bad responses would loop."""
    return (
        isinstance(message, dict)
        and "method" not in message
        and ("result" in message or "error" in message)
    )


def _integral(value: Any) -> Any:
    """`2.0` is the integer 2 (JSON Schema says so too); a fraction stays what it is."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def classify(message: Any) -> Incoming:
    """Sort a decoded JSON value; raise `RpcError(-32600)` for anything JSON-RPC 2.0 forbids."""
    if not isinstance(message, dict):
        kind = "an array (batches are not supported)" if isinstance(message, list) else "not one"
        raise RpcError(INVALID_REQUEST, f"a message must be a JSON object; this is {kind}")
    if message.get("jsonrpc") != JSONRPC:
        raise RpcError(INVALID_REQUEST, 'a message needs "jsonrpc": "2.0"')
    has_id = "id" in message
    if has_id:
        message = {**message, "id": _integral(message["id"])}
        if not valid_id(message["id"]):
            raise RpcError(INVALID_REQUEST, "`id` must be a string or an integer")
    if "method" in message:
        method = message["method"]
        if not isinstance(method, str) or not method:
            raise RpcError(INVALID_REQUEST, "`method` must be a non-empty string")
        params = message.get("params", {})
        if not isinstance(params, dict):
            raise RpcError(INVALID_REQUEST, "`params` must be an object (by-name parameters)")
        if has_id:
            return Request(message["id"], method, params)
        return Notification(method, params)
    if has_id and ("result" in message) != ("error" in message):
        if "error" in message:
            return Response(message["id"], error=message["error"], is_error=True)
        return Response(message["id"], result=message["result"])
    raise RpcError(
        INVALID_REQUEST,
        "not a request (needs `method`) nor a response (needs `id` and one of `result`/`error`)",
    )


def remote_error(error: Any, *, method: str | None = None) -> RemoteError:
    """The `RemoteError` for a response's `error` member (a malformed one still makes one)."""
    if not isinstance(error, Mapping):
        return RemoteError(0, repr(error), method=method)
    code, text = error.get("code"), error.get("message")
    return RemoteError(
        code if isinstance(code, int) else 0,
        text if isinstance(text, str) else json.dumps(error),
        error.get("data"),
        method=method,
    )


# -- text: lone surrogates ---------------------------------------------------------------------

# In a str, a pair is already one code point: any surrogate left is a lone one.
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")
# How one can get into a decoded line at all (a JSON escape; raw bytes are not UTF-8).
SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")


def lone_surrogate(value: Any) -> str | None:
    """Where in a decoded JSON value a string (or key) holds a lone surrogate: a path suffix such
    as `.tools[0].input_schema` (`""` for the value itself), or None."""
    stack: list[tuple[str, Any]] = [("", value)]
    while stack:
        path, item = stack.pop()
        if isinstance(item, str):
            if not item.isascii() and _LONE_SURROGATE.search(item):
                return path
        elif isinstance(item, dict):
            for key, child in item.items():
                if not key.isascii() and _LONE_SURROGATE.search(key):
                    return path
                stack.append((f"{path}.{key}", child))
        elif isinstance(item, list):
            stack.extend((f"{path}[{i}]", child) for i, child in enumerate(item))
    return None


def encode_line(message: Any) -> bytes:
    """One message as one line of UTF-8 JSON; a lone surrogate becomes U+FFFD (never raises for
    decoded JSON values)."""
    text = json.dumps(message, ensure_ascii=False, separators=(",", ":"))
    try:
        return text.encode() + b"\n"
    except UnicodeEncodeError:
        return _LONE_SURROGATE.sub("\ufffd", text).encode() + b"\n"


# -- messages we send -------------------------------------------------------------------------


def _envelope(tagged: bool) -> dict[str, Any]:
    return {"jsonrpc": JSONRPC} if tagged else {}


def request_message(
    request_id: RequestId,
    method: str,
    params: Mapping[str, Any] | None = None,
    *,
    tagged: bool = True,
) -> dict[str, Any]:
    message = {**_envelope(tagged), "id": request_id, "method": method}
    if params is not None:
        message["params"] = dict(params)
    return message


def notification(
    method: str, params: Mapping[str, Any] | None = None, *, tagged: bool = True
) -> dict[str, Any]:
    message: dict[str, Any] = {**_envelope(tagged), "method": method}
    if params is not None:
        message["params"] = dict(params)
    return message


def result_message(request_id: RequestId, result: Mapping[str, Any]) -> dict[str, Any]:
    return {"jsonrpc": JSONRPC, "id": request_id, "result": dict(result)}


def error_message(request_id: AnswerId, error: RpcError, *, tagged: bool = True) -> dict[str, Any]:
    return {**_envelope(tagged), "id": request_id, "error": error.to_json()}
