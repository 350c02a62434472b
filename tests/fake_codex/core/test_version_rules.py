"""Version rules found by the conformance harness on the real 0.135.0 / 0.150.1 / 0.169.0
binaries (`python -m conformance.compare`): failed streams, resumes, model switches."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

USAGE = {"input_tokens": 12, "cached_tokens": 3, "output_tokens": 5, "reasoning_tokens": 1}


def answer(text: str) -> dict[str, Any]:
    return {"output": [{"type": "message", "text": text}], "usage": USAGE}


def write(env: Any, version: str, turns: list[list[Any]]) -> Path:
    doc = {
        "schema_version": 1,
        "codex_version": version,
        "turns": [{"requests": replies} for replies in turns],
    }
    path = env.root / "rules.json"
    path.write_text(json.dumps(doc))
    return path


def exec_(env: Any, path: Path, *args: str) -> Any:
    return env.run(["exec", *env.provider_args(False), *env.EXEC_FLAGS, *args], scenario=path)


def event_types(env: Any) -> list[str]:
    (path,) = env.rollouts()
    lines = env.rollout_lines(path)
    return [ln["payload"]["type"] for ln in lines if ln["type"] == "event_msg"]


@pytest.mark.parametrize("version", ["0.135.0", "0.150.1", "0.169.0"])
def test_an_incomplete_reply_shows_its_message_and_a_token_count(env: Any, version: str) -> None:
    reply = {**answer("truncated"), "end": "incomplete", "reason": "max_output_tokens"}
    del reply["usage"]
    result = exec_(env, write(env, version, [[reply]]), "--", "x")
    events = env.parse_jsonl(result.stdout)
    assert events[2]["item"] == {"id": "item_0", "type": "agent_message", "text": "truncated"}
    prefix = "" if version == "0.169.0" else "stream disconnected before completion: "
    text = prefix + "Incomplete response returned, reason: max_output_tokens"
    assert events[-1] == {"type": "turn.failed", "error": {"message": text}}
    assert event_types(env)[-2:] == ["token_count", "task_complete"]


def test_context_length_exceeded_writes_two_token_counts(env: Any) -> None:
    failed = {"end": "failed", "error": {"code": "context_length_exceeded", "message": "m"}}
    exec_(env, write(env, "0.169.0", [[failed]]), "--", "x")
    (path,) = env.rollouts()
    counts = [
        ln["payload"]
        for ln in env.rollout_lines(path)
        if ln["payload"].get("type") == "token_count"
    ]
    assert [c["info"] is None for c in counts] == [True, False]
    assert counts[1]["info"]["total_token_usage"]["total_tokens"] == 258400


def test_an_http_error_writes_no_token_count(env: Any) -> None:
    exec_(env, write(env, "0.150.1", [[{"http_status": 400, "body": "bad"}]]), "--", "x")
    assert "token_count" not in event_types(env)


@pytest.mark.parametrize("version", ["0.150.1", "0.169.0"])
def test_a_resumed_turn_applies_the_thread_settings_before_task_started(
    env: Any, version: str
) -> None:
    path = write(env, version, [[answer("one")], [answer("two")]])
    thread = env.parse_jsonl(exec_(env, path, "--", "a").stdout)[0]["thread_id"]
    assert exec_(env, path, "resume", thread, "b").returncode == 0
    types = event_types(env)
    second = types.index("task_complete") + 1
    assert types[second : second + 2] == ["thread_settings_applied", "task_started"]
    assert types[second + 2 :].count("thread_settings_applied") == 0
    (rollout,) = env.rollouts()
    kinds = [ln["type"] for ln in env.rollout_lines(rollout)]
    assert kinds.count("world_state") == 1  # the new thread only


def test_a_0_150_switch_between_known_models_compacts_with_the_heads_up_item(env: Any) -> None:
    path = write(env, "0.150.1", [[answer("one")], [answer("summary"), answer("two")]])
    first = exec_(env, path, "-m", "gpt-5.5", "--", "a")
    thread = env.parse_jsonl(first.stdout)[0]["thread_id"]
    result = exec_(env, path, "-m", "gpt-5.6-sol", "resume", thread, "b")
    items = [e["item"] for e in env.parse_jsonl(result.stdout) if e["type"] == "item.completed"]
    assert [i["type"] for i in items] == ["error", "error", "agent_message"]
    assert items[1]["message"].startswith("Heads up: Long threads and multiple compactions")
    assert items[2] == {"id": "item_2", "type": "agent_message", "text": "two"}


@pytest.mark.parametrize("version", ["0.150.1", "0.169.0"])
def test_a_switch_to_an_unknown_model_warns_without_compaction(env: Any, version: str) -> None:
    path = write(env, version, [[answer("one")], [answer("two")]])
    first = exec_(env, path, "-m", "gpt-5.5", "--", "a")
    thread = env.parse_jsonl(first.stdout)[0]["thread_id"]
    result = exec_(env, path, "-m", "gpt-5.4", "resume", thread, "b")
    assert result.returncode == 0, result.stderr.decode()
    items = [e["item"] for e in env.parse_jsonl(result.stdout) if e["type"] == "item.completed"]
    messages = [i.get("message", i.get("text", ""))[:24] for i in items]
    metadata = ["Model metadata for `gpt-"] if version == "0.169.0" else []
    assert messages == ["This session was recorde", *metadata, "two"]
    (rollout,) = env.rollouts()
    assert "compacted" not in [ln["type"] for ln in env.rollout_lines(rollout)]


def test_0_135_neither_warns_nor_compacts_on_a_switch(env: Any) -> None:
    path = write(env, "0.135.0", [[answer("one")], [answer("two")]])
    first = exec_(env, path, "-m", "gpt-5.5", "--", "a")
    thread = env.parse_jsonl(first.stdout)[0]["thread_id"]
    result = exec_(env, path, "-m", "gpt-5.6-sol", "resume", thread, "b")
    types = [e["type"] for e in env.parse_jsonl(result.stdout)]
    assert types == ["thread.started", "turn.started", "item.completed", "turn.completed"]


@pytest.mark.parametrize("version", ["0.135.0", "0.150.1", "0.169.0"])
def test_tool_call_payloads_carry_status_and_passthrough_like_the_real_ones(
    env: Any, version: str
) -> None:
    call = {"type": "function_call", "name": "exec_command", "arguments": {"cmd": "echo hi"}}
    patch = "*** Begin Patch\n*** Add File: n.txt\n+x\n*** End Patch\n"
    custom = {"type": "custom_tool_call", "name": "apply_patch", "input": patch}
    replies = [
        {"output": [{**call, "call_id": "c1"}, {**custom, "call_id": "c2"}], "usage": USAGE},
        answer("done"),
    ]
    assert exec_(env, write(env, version, [replies]), "--", "x").returncode == 0
    (rollout,) = env.rollouts()
    payloads = {
        (ln["payload"]["type"]): ln["payload"]
        for ln in env.rollout_lines(rollout)
        if ln["type"] == "response_item" and "call_id" in ln["payload"]
    }
    assert ("status" in payloads["function_call"]) == (version == "0.169.0")
    assert payloads["custom_tool_call"]["status"] == "completed"
    for kind, keys in [
        ("function_call", ["turn_id"]),
        ("custom_tool_call", ["turn_id"]),
        ("function_call_output", ["turn_id", "create_time"]),
        ("custom_tool_call_output", ["turn_id", "create_time"]),
    ]:
        meta = payloads[kind].get("internal_chat_message_metadata_passthrough")
        assert (list(meta) if meta else None) == (None if version == "0.135.0" else keys)


def test_a_version_the_fake_does_not_know_exits_70_naming_the_nearest_known_one(env: Any) -> None:
    result = exec_(env, write(env, "0.180.0", [[answer("a")]]), "--", "x")
    assert result.returncode == 70
    stderr = result.stderr.decode()
    assert "$.codex_version: unsupported codex_version '0.180.0'" in stderr
    assert "the nearest known version is 0.171.0" in stderr
    assert result.stdout == b""


def turn_models(env: Any) -> list[str]:
    (path,) = env.rollouts()
    lines = env.rollout_lines(path)
    return [ln["payload"]["model"] for ln in lines if ln["type"] == "turn_context"]


@pytest.mark.parametrize(
    ("version", "model"),
    [
        ("0.135.0", "gpt-5.5"),
        ("0.150.1", "gpt-5.6-sol"),
        ("0.169.0", "gpt-6.1-sol"),
        ("0.171.0", "gpt-6.2-sol"),
    ],
)
def test_a_new_thread_without_a_model_uses_the_versions_default_model(
    env: Any, version: str, model: str
) -> None:
    result = exec_(env, write(env, version, [[answer("a")]]), "--", "x")
    assert result.returncode == 0, result.stderr
    assert turn_models(env) == [model]


METADATA = "Model metadata for `{}` not found"


@pytest.mark.parametrize(
    ("version", "model", "warns"),
    [
        ("0.135.0", "gpt-6.2-sol", False),
        ("0.150.1", "gpt-5.4", False),
        ("0.150.1", "gpt-6-sol", True),
        ("0.169.0", "gpt-5.4", True),
        ("0.169.0", "gpt-6.1-terra", False),
        ("0.169.0", "gpt-6.2-sol", True),
        ("0.171.0", "gpt-6.2-sol", False),
        ("0.171.0", "gpt-6.2-astra", False),
        ("0.171.0", "gpt-5.4", True),
    ],
)
def test_a_model_without_metadata_in_that_version_gets_an_error_item_first(
    env: Any, version: str, model: str, warns: bool
) -> None:
    result = exec_(env, write(env, version, [[answer("a")]]), "-m", model, "--", "x")
    assert result.returncode == 0, result.stderr
    items = [e["item"] for e in env.parse_jsonl(result.stdout) if e["type"] == "item.completed"]
    errors = [i["message"] for i in items if i["type"] == "error"]
    assert errors == ([METADATA.format(model) + "." + _FALLBACK] if warns else [])


_FALLBACK = " Defaulting to fallback metadata; this can degrade performance and cause issues."
