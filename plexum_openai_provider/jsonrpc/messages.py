"""JSON-RPC 2.0 messages in plain types: the standard error codes, classifying, building.

Pure functions over decoded JSON: `classify` tells a request from a notification, a response or
garbage (raising `RpcError(INVALID_REQUEST)`); the builders return the dicts every side writes.
`tagged=False` leaves out `"jsonrpc": "2.0"`, as `codex app-server` speaks it.
"""

from __future__ import annotations

import json
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
    return isinstance(value, str) or (isinstance(value, int) and not isinstance(value, bool))


def request_id_of(message: Any) -> RequestId | None:
    """The id to answer an invalid message with, when one can be read from it (else null)."""
    if isinstance(message, dict) and valid_id(message.get("id")):
        value: RequestId = message["id"]
        return value
    return None


def classify(message: Any) -> Incoming:
    """Sort a decoded JSON value; raise `RpcError(-32600)` for anything JSON-RPC 2.0 forbids."""
    if not isinstance(message, dict):
        kind = "an array (batches are not supported)" if isinstance(message, list) else "not one"
        raise RpcError(INVALID_REQUEST, f"a message must be a JSON object; this is {kind}")
    if message.get("jsonrpc") != JSONRPC:
        raise RpcError(INVALID_REQUEST, 'a message needs "jsonrpc": "2.0"')
    has_id = "id" in message
    if has_id and not valid_id(message["id"]):
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


def error_message(
    request_id: RequestId | None, error: RpcError, *, tagged: bool = True
) -> dict[str, Any]:
    return {**_envelope(tagged), "id": request_id, "error": error.to_json()}
