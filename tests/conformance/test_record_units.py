"""Fast tests of the recorder's rollout → scenario rules (no codex needed)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from conformance.from_rollout import build_scenario, error_reply, usage_from
from conformance.record import parse_exec_args

URL = "http://127.0.0.1:4000/v1/responses"


@pytest.mark.parametrize(
    ("message", "info", "reply"),
    [
        (f"unexpected status 401 Unauthorized: Bad key., url: {URL}", None,
         {"http_status": 401, "body": "Bad key."}),
        (f"unexpected status 503 Service Unavailable: down, url: {URL}", None,
         {"http_status": 503, "body": "down"}),
        ("We’re currently experiencing high demand, which may cause temporary errors.", None,
         {"http_status": 500, "body": ""}),
        ('{"error": {"message": "bad", "code": null}}', "other",
         {"http_status": 400, "body": {"error": {"message": "bad", "code": None}}}),
        ("plain text body", "other", {"http_status": 400, "body": "plain text body"}),
        ("stream disconnected before completion: stream closed before response.completed",
         "other", {"end": "cut"}),
        ("stream disconnected before completion: boom", "other",
         {"end": "failed", "error": {"code": "server_error", "message": "boom"}}),
        ("rate limit exceeded: slow down", "rate_limit_exceeded",
         {"end": "failed", "error": {"code": "rate_limit_exceeded", "message": "slow down"}}),
        ("Flagged.", "invalid_prompt",
         {"end": "failed", "error": {"code": "invalid_prompt", "message": "Flagged."}}),
        ("Incomplete response returned, reason: max_output_tokens", "other",
         {"end": "incomplete", "reason": "max_output_tokens"}),
    ],
)  # fmt: skip
def test_error_messages_map_back_to_the_reply_that_causes_them(
    message: str, info: Any, reply: dict[str, Any]
) -> None:
    assert error_reply(message, info) == reply


def test_model_not_found_and_quota_and_context_use_codex_error_info_or_text() -> None:
    assert error_reply("The model `x` does not exist", "model_not_found")["http_status"] == 404
    assert error_reply("Quota exceeded. Check your plan and billing details.")["http_status"] == 429
    context = error_reply("Codex ran out of room in the model's context window. Start a new...")
    assert context["error"]["code"] == "context_length_exceeded"


def test_usage_keeps_the_non_zero_fields_under_scenario_names() -> None:
    last = {"input_tokens": 9, "cached_input_tokens": 0, "output_tokens": 2,
            "reasoning_output_tokens": 1, "total_tokens": 11}  # fmt: skip
    assert usage_from(last) == {"input_tokens": 9, "output_tokens": 2, "reasoning_tokens": 1}


def test_exec_args_split_model_prompt_and_passed_on_options() -> None:
    parsed = parse_exec_args(["exec", "--json", "-m", "gpt-5.5", "-c", "x=1", "--", "--help"])
    assert (parsed.model, parsed.prompt, parsed.extra) == ("gpt-5.5", "--help", ("-c", "x=1"))
    with pytest.raises(ValueError, match="one prompt"):
        parse_exec_args(["exec", "-c", "x=1"])


def _line(kind: str, payload: dict[str, Any]) -> dict[str, Any]:
    return {"timestamp": "t", "type": kind, "payload": payload}


def _token_count(n: int) -> dict[str, Any]:
    return _line("event_msg", {"type": "token_count", "info": {"last_token_usage": {
        "input_tokens": n, "output_tokens": 1}}})  # fmt: skip


def test_a_rollout_becomes_turns_of_replies_split_at_token_counts() -> None:
    user = {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "hi"}]}
    call = {"type": "function_call", "name": "exec_command", "arguments": '{"cmd":"ls"}',
            "call_id": "c1"}  # fmt: skip
    answer = {"type": "message", "role": "assistant",
              "content": [{"type": "output_text", "text": "done"}]}  # fmt: skip
    lines = [
        _line("session_meta", {"cli_version": "0.135.0"}),
        _line("event_msg", {"type": "task_started"}),
        _line("response_item", user),
        _line("event_msg", {"type": "user_message", "message": "hi"}),
        _line("response_item", call),
        _line("response_item", {"type": "function_call_output", "call_id": "c1", "output": "x"}),
        _token_count(5),
        _line("response_item", answer),
        _token_count(7),
        _line("event_msg", {"type": "task_complete"}),
        _line("event_msg", {"type": "task_started"}),
        _line("response_item", {**user, "content": [{"type": "input_text", "text": "again"}]}),
        _line("event_msg", {"type": "user_message", "message": "again"}),
        _line("event_msg", {"type": "task_complete"}),
    ]
    events = [{"type": "turn.started"}, {"type": "turn.completed"}, {"type": "turn.started"},
              {"type": "error", "message": "Reconnecting... 1/2 (stream disconnected before "
               "completion: boom)"},
              {"type": "turn.failed", "error": {"message": f"unexpected status 401 "
               f"Unauthorized: no, url: {URL}"}}]  # fmt: skip
    document = build_scenario(lines, events, version="0.135.0")
    assert json.loads(json.dumps(document["turns"])) == [
        {
            "expect_prompt": "hi",
            "requests": [
                {"output": [{"type": "function_call", "name": "exec_command",
                             "arguments": {"cmd": "ls"}, "call_id": "c1"}],
                 "usage": {"input_tokens": 5, "output_tokens": 1}},
                {"output": [{"type": "message", "text": "done"}],
                 "usage": {"input_tokens": 7, "output_tokens": 1}},
            ],
        },
        {
            "expect_prompt": "again",
            "requests": [
                {"end": "failed", "error": {"code": "server_error", "message": "boom"}},
                {"http_status": 401, "body": "no"},
            ],
        },
    ]  # fmt: skip
    assert document["codex_version"] == "0.135.0"
