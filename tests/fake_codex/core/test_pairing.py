"""The API's tool-call pairing rule (`core/pairing.py`), on inputs that keep and break it."""

from __future__ import annotations

from typing import Any

from fake_codex.core.pairing import api_error, violations


def call(call_id: str, kind: str = "function_call") -> dict[str, Any]:
    return {"type": kind, "name": "echo", "call_id": call_id}


def output(call_id: Any, kind: str = "function_call_output") -> dict[str, Any]:
    return {"type": kind, "call_id": call_id, "output": "ok"}


def message() -> dict[str, Any]:
    return {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "hi"}]}


def test_calls_each_answered_after_them_are_well_formed() -> None:
    items = [
        message(),
        call("a"),
        output("a"),
        call("b", "custom_tool_call"),
        output("b", "custom_tool_call_output"),
        {"type": "local_shell_call", "call_id": "c"},
        output("c"),
    ]
    assert violations(items) == []
    assert violations([message()]) == []


def test_an_output_without_its_call_is_what_the_api_rejects() -> None:
    assert violations([message(), output("call_9")]) == [
        "No tool call found for function call output with call_id call_9."
    ]


def test_an_output_before_its_call_has_no_call_earlier_in_the_input() -> None:
    problems = violations([output("a"), call("a")])
    assert problems == [
        "No tool call found for function call output with call_id a.",
        "No tool output found for function call a.",
    ]


def test_a_call_without_its_output_is_rejected() -> None:
    assert violations([call("x", "custom_tool_call")]) == [
        "No tool output found for custom tool call x."
    ]


def test_an_output_of_the_wrong_kind_does_not_answer_the_call() -> None:
    problems = violations([call("a", "custom_tool_call"), output("a")])
    assert problems[0] == "No tool call found for function call output with call_id a."


def test_empty_and_missing_call_ids_are_rejected() -> None:
    assert violations([call(""), output("")])[0].startswith("Invalid 'input[0].call_id'")
    missing = {"type": "function_call_output", "output": "x"}
    assert violations([missing]) == ["Missing required parameter: 'input[0].call_id'."]


def test_the_error_body_has_the_apis_shape() -> None:
    assert api_error(["first", "second"]) == {
        "error": {
            "message": "first",
            "type": "invalid_request_error",
            "param": "input",
            "code": None,
        }
    }
