"""JSON-RPC written once: classifying any decoded value never fails with anything but an
`RpcError(INVALID_REQUEST)`; the builders write the shapes each side puts on the wire."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from plexum_openai_provider.errors import ProviderError, RemoteError, RpcError
from plexum_openai_provider.jsonrpc import messages as m

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=12),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=10,
)
MESSAGE_KEYS = st.sampled_from(["jsonrpc", "id", "method", "params", "result", "error"])
MESSAGES = st.dictionaries(MESSAGE_KEYS, JSON | st.just("2.0"), max_size=5)


@given(JSON | MESSAGES)
def test_classify_sorts_any_json_value_or_raises_an_invalid_request(value: Any) -> None:
    try:
        incoming = m.classify(value)
    except RpcError as exc:
        assert exc.code == m.INVALID_REQUEST and exc.message
        return
    assert isinstance(incoming, m.Request | m.Notification | m.Response)


def test_classify_tells_a_request_a_notification_and_both_kinds_of_response_apart() -> None:
    assert m.classify({"jsonrpc": "2.0", "id": 1, "method": "a"}) == m.Request(1, "a", {})
    assert m.classify({"jsonrpc": "2.0", "method": "b", "params": {"x": 1}}) == m.Notification(
        "b", {"x": 1}
    )
    assert m.classify({"jsonrpc": "2.0", "id": "r", "result": 3}) == m.Response("r", result=3)
    error = m.classify({"jsonrpc": "2.0", "id": 2, "error": {"code": 1}})
    assert error == m.Response(2, error={"code": 1}, is_error=True)


@pytest.mark.parametrize(
    "message",
    [
        [],
        {"id": 1, "method": "a"},
        {"jsonrpc": "2.0", "id": True, "method": "a"},
        {"jsonrpc": "2.0", "id": 1, "method": ""},
        {"jsonrpc": "2.0", "id": 1, "method": "a", "params": []},
        {"jsonrpc": "2.0", "id": 1, "result": 1, "error": {}},
    ],
)
def test_what_json_rpc_forbids_is_an_invalid_request(message: Any) -> None:
    with pytest.raises(RpcError) as caught:
        m.classify(message)
    assert caught.value.code == m.INVALID_REQUEST


def test_the_builders_write_the_tagged_and_the_untagged_shapes() -> None:
    assert m.request_message(1, "a", {"x": 1}) == {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "a",
        "params": {"x": 1},
    }
    assert m.request_message(2, "b") == {"jsonrpc": "2.0", "id": 2, "method": "b"}
    assert m.request_message(3, "c", {}, tagged=False) == {"id": 3, "method": "c", "params": {}}
    assert m.notification("n", tagged=False) == {"method": "n"}
    assert m.result_message("r", {"ok": True}) == {"jsonrpc": "2.0", "id": "r", "result": {"ok": 1}}
    error = RpcError(m.METHOD_NOT_FOUND, "no", {"k": "v"})
    assert m.error_message(None, error) == {
        "jsonrpc": "2.0",
        "id": None,
        "error": {"code": -32601, "message": "no", "data": {"k": "v"}},
    }
    assert m.error_message(9, RpcError(m.PARSE_ERROR, "bad"), tagged=False) == {
        "id": 9,
        "error": {"code": -32700, "message": "bad"},
    }


@pytest.mark.parametrize(
    ("error", "code", "message", "text"),
    [
        ({"code": -5, "message": "nope", "data": 1}, -5, "nope", "m: nope (JSON-RPC error -5)"),
        ({"code": "x", "message": 2}, 0, '{"code": "x", "message": 2}', None),
        ("junk", 0, "'junk'", None),
    ],
)
def test_a_peers_error_object_becomes_one_remote_error(
    error: Any, code: int, message: str, text: str | None
) -> None:
    exc = m.remote_error(error, method="m")
    assert isinstance(exc, RpcError) and isinstance(exc, ProviderError)
    assert (exc.code, exc.message, exc.method) == (code, message, "m")
    if text is not None:
        assert str(exc) == text and exc.data == 1


def test_a_remote_error_without_a_method_names_only_the_message_and_code() -> None:
    assert str(RemoteError(-32050, "down")) == "down (JSON-RPC error -32050)"
