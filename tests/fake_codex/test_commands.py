"""Whole commands on a real process: version, login status, the default reply, tool rules."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest


def write_scenario(env: Any, replies: list[Any], version: str | None = None) -> Path:
    doc: dict[str, Any] = {"schema_version": 1, "turns": [{"requests": replies}]}
    if version:
        doc["codex_version"] = version
    path = env.root / "scenario.json"
    path.write_text(json.dumps(doc))
    return path


@pytest.mark.parametrize("flag", ["--version", "-V"])
def test_version_prints_codex_cli_and_the_default_version(env: Any, flag: str) -> None:
    result = env.run([flag])
    assert (result.returncode, result.stdout) == (0, b"codex-cli 0.169.0\n")


def test_versions_follow_the_scenario(env: Any) -> None:
    path = write_scenario(env, [], version="0.135.0")
    assert env.run(["--version"], scenario=path).stdout == b"codex-cli 0.135.0\n"
    assert env.run(["exec", "--version"], scenario=path).stdout == b"codex-cli-exec 0.135.0\n"


def test_a_reported_version_changes_only_what_version_prints(env: Any) -> None:
    path = env.root / "old.json"
    doc = {"schema_version": 1, "codex_version": "0.135.0", "reported_version": "0.120.0"}
    path.write_text(json.dumps({**doc, "turns": []}))
    assert env.run(["--version"], scenario=path).stdout == b"codex-cli 0.120.0\n"
    assert env.run(["exec", "--version"], scenario=path).stdout == b"codex-cli-exec 0.135.0\n"


def test_login_status_without_auth_json_is_not_logged_in(env: Any) -> None:
    result = env.run(["login", "status"], extra_env={"OPENAI_API_KEY": "sk-test"})
    assert (result.returncode, result.stdout, result.stderr) == (1, b"", b"Not logged in\n")


def test_login_status_with_an_api_key_shows_it_masked(env: Any) -> None:
    env.home.mkdir(exist_ok=True)
    auth = {"auth_mode": "apikey", "OPENAI_API_KEY": "sk-test-1234567890abcdef"}
    (env.home / "auth.json").write_text(json.dumps(auth))
    result = env.run(["login", "status"])
    assert result.returncode == 0
    assert result.stderr == (
        b"API key configured - sk-test-***bcdef\n"
        b"Authentication is checked when you send a request.\n"
    )


def test_login_status_with_an_api_key_uses_the_older_words_before_0_169(env: Any) -> None:
    env.home.mkdir(exist_ok=True)
    auth = {"auth_mode": "apikey", "OPENAI_API_KEY": "sk-test-1234567890abcdef"}
    (env.home / "auth.json").write_text(json.dumps(auth))
    result = env.run(["login", "status"], scenario=write_scenario(env, [], version="0.150.1"))
    assert (result.returncode, result.stderr) == (
        0,
        b"Logged in using an API key - sk-test-***bcdef\n",
    )


def test_without_a_scenario_every_prompt_gets_the_documented_default_reply(env: Any) -> None:
    result = env.run(["exec", "--skip-git-repo-check", "--json", "--", "what is 2+2?"], stdin=None)
    events = env.parse_jsonl(result.stdout)
    assert result.returncode == 0
    assert events[2]["item"] == {
        "id": "item_0",
        "type": "agent_message",
        "text": "fake-codex received your prompt: what is 2+2?",
    }
    assert events[3]["usage"] == {
        "input_tokens": 10,
        "cached_input_tokens": 0,
        "cache_write_input_tokens": 0,
        "output_tokens": 5,
        "reasoning_output_tokens": 0,
    }


def test_without_json_only_the_final_message_goes_to_stdout(env: Any) -> None:
    result = env.run(["exec", "--skip-git-repo-check", "--", "hi"], stdin=None)
    assert result.stdout == b"fake-codex received your prompt: hi\n"


def test_output_last_message_keeps_the_last_answer_and_is_empty_on_failure(env: Any) -> None:
    out = env.root / "last.txt"
    env.run(["exec", "--skip-git-repo-check", "--json", "-o", str(out), "--", "hi"], stdin=None)
    assert out.read_text() == "fake-codex received your prompt: hi"
    path = write_scenario(env, [{"http_status": 400, "body": "bad"}])
    result = env.run(
        ["exec", "--skip-git-repo-check", "--json", "-o", str(out), "--", "hi"],
        scenario=path,
        stdin=None,
    )
    assert result.returncode == 1
    assert out.read_text() == ""


def test_shell_calls_really_run_in_the_cwd_and_consume_the_next_reply(env: Any) -> None:
    call = {
        "type": "function_call",
        "name": "exec_command",
        "arguments": {"cmd": "pwd; touch made-here"},
        "call_id": "c1",
    }
    path = write_scenario(
        env, [{"output": [call]}, {"output": [{"type": "message", "text": "done"}]}]
    )
    result = env.run(
        ["exec", "--skip-git-repo-check", "--json", "--", "go"], scenario=path, stdin=None
    )
    events = env.parse_jsonl(result.stdout)
    assert (env.cwd / "made-here").exists()
    assert events[2]["item"]["command"] == "/bin/bash -lc 'pwd; touch made-here'"
    assert events[3]["item"]["aggregated_output"] == f"{env.cwd}\n"
    assert events[4]["item"]["text"] == "done"


def test_a_failing_patch_shows_no_item_but_the_turn_goes_on(env: Any) -> None:
    bad = "*** Begin Patch\n*** Update File: missing.txt\n@@\n-a\n+b\n*** End Patch\n"
    call = {"type": "custom_tool_call", "name": "apply_patch", "input": bad, "call_id": "p1"}
    path = write_scenario(
        env, [{"output": [call]}, {"output": [{"type": "message", "text": "ok"}]}]
    )
    events = env.parse_jsonl(
        env.run(
            ["exec", "--skip-git-repo-check", "--json", "--", "go"], scenario=path, stdin=None
        ).stdout
    )
    assert [e["type"] for e in events] == [
        "thread.started",
        "turn.started",
        "item.completed",
        "turn.completed",
    ]


def test_an_mcp_call_without_any_configured_server_is_an_unsupported_call(env: Any) -> None:
    call = {
        "type": "function_call",
        "namespace": "mcp__srv",
        "name": "echo",
        "arguments": {},
        "call_id": "m1",
    }
    path = write_scenario(env, [{"output": [call]}, {"output": [{"type": "message", "text": "k"}]}])
    result = env.run(
        ["exec", "--skip-git-repo-check", "--json", "--", "go"], scenario=path, stdin=None
    )
    assert result.returncode == 0
    assert [e["type"] for e in env.parse_jsonl(result.stdout)][2:] == [
        "item.completed",
        "turn.completed",
    ]
    (rollout,) = env.rollouts()
    assert '"output":"unsupported call: mcp__srvecho"' in rollout.read_text()


def test_running_out_of_replies_mid_turn_is_an_error_of_the_fake(env: Any) -> None:
    call = {
        "type": "function_call",
        "name": "exec_command",
        "arguments": {"cmd": "true"},
        "call_id": "c1",
    }
    path = write_scenario(env, [{"output": [call]}])
    result = env.run(
        ["exec", "--skip-git-repo-check", "--json", "--", "go"], scenario=path, stdin=None
    )
    assert result.returncode == 70
    assert "model request #2" in result.stderr.decode()


def test_a_prompt_that_differs_from_expect_prompt_fails_loudly(env: Any) -> None:
    result = env.run(
        ["exec", "--skip-git-repo-check", "--json", "--", "not hello"],
        scenario="basic.json",
        stdin=None,
    )
    assert result.returncode == 70
    assert "turn 0: expect_prompt: expected 'hello', got 'not hello'" in result.stderr.decode()


def test_a_prompt_without_the_expected_part_shows_both(env: Any) -> None:
    path = env.root / "contains.json"
    path.write_text('{"turns": [{"expect_prompt_contains": "needle", "requests": []}]}')
    result = env.run(["exec", "--skip-git-repo-check", "--json", "--", "hay"], path, stdin=None)
    assert result.returncode == 70
    stderr = result.stderr.decode()
    assert "expect_prompt_contains: expected a prompt containing 'needle', got 'hay'" in stderr


def test_a_long_mismatching_prompt_is_shown_cut_with_its_length(env: Any) -> None:
    path = env.root / "long.json"
    path.write_text('{"turns": [{"expect_prompt": "short", "requests": []}]}')
    result = env.run(["exec", "--skip-git-repo-check", "--json", "--", "-"], path, b"x" * 5000)
    stderr = result.stderr.decode()
    assert result.returncode == 70 and "expected 'short', got 'xxx" in stderr
    assert "(5000 characters)" in stderr and len(stderr) < 1000


def test_a_bad_scenario_file_is_reported_with_its_path(env: Any) -> None:
    path = env.root / "bad.json"
    path.write_text('{"turns": [{"requests": [{"output": [{"type": "nope"}]}]}]}')
    result = env.run(
        ["exec", "--skip-git-repo-check", "--json", "--", "x"], scenario=path, stdin=None
    )
    assert result.returncode == 70
    assert f"{path}: $.turns[0].requests[0].output[0].type" in result.stderr.decode()


def test_an_unknown_tool_gets_unsupported_call_and_no_exec_event(env: Any) -> None:
    call = {"type": "function_call", "name": "update_plan", "arguments": {}, "call_id": "u1"}
    path = write_scenario(
        env, [{"output": [call]}, {"output": [{"type": "message", "text": "ok"}]}]
    )
    result = env.run(
        ["exec", "--skip-git-repo-check", "--json", "--", "go"], scenario=path, stdin=None
    )
    types = [e["type"] for e in env.parse_jsonl(result.stdout)]
    assert types == ["thread.started", "turn.started", "item.completed", "turn.completed"]
    (rollout,) = env.rollouts()
    outputs = [
        ln["payload"]["output"]
        for ln in env.rollout_lines(rollout)
        if ln["payload"].get("type") == "function_call_output"
    ]
    assert outputs == ["unsupported call: update_plan"]


def test_a_dotted_stream_max_retries_override_turns_retries_off(env: Any) -> None:
    path = write_scenario(env, [{"http_status": 500, "body": "x"}])
    flags = ["-c", "model_provider=p", "-c", "model_providers.p.stream_max_retries=0"]
    result = env.run(
        ["exec", "--skip-git-repo-check", "--json", *flags, "--", "go"], scenario=path, stdin=None
    )
    messages = [e.get("message") for e in env.parse_jsonl(result.stdout) if e["type"] == "error"]
    assert len(messages) == 1 and not messages[0].startswith("Reconnecting")


def test_default_retries_show_reconnecting_and_recover_on_a_good_reply(env: Any) -> None:
    good = {"output": [{"type": "message", "text": "back"}]}
    path = write_scenario(env, [{"http_status": 503, "body": "down"}, good])
    result = env.run(
        ["exec", "--skip-git-repo-check", "--json", "--", "go"], scenario=path, stdin=None
    )
    events = env.parse_jsonl(result.stdout)
    assert result.returncode == 0
    assert events[2] == {
        "type": "error",
        "message": "Reconnecting... 1/5 (unexpected status 503 Service Unavailable: down, "
        "url: https://api.openai.com/v1/responses)",
    }
    assert events[3]["item"]["text"] == "back"


def test_outside_a_git_repo_exec_needs_skip_git_repo_check(env: Any) -> None:
    result = env.run(["exec", "--json", "--", "hi"], stdin=None)
    assert (result.returncode, result.stdout) == (1, b"")
    assert result.stderr.decode().endswith(
        "Not inside a trusted directory and --skip-git-repo-check was not specified.\n"
    )
    (env.cwd / ".git").mkdir()
    assert env.run(["exec", "--json", "--", "hi"], stdin=None).returncode == 0


def test_login_status_masks_the_api_key_like_codex() -> None:
    from fake_codex.core.versions import behaviour_for
    from fake_codex.login import mask_key, status_text

    assert mask_key("sk-test-1234567890abcdef") == "sk-test-***bcdef"
    new, old = behaviour_for("0.169.0"), behaviour_for("0.150.1")
    assert status_text(None, new) == ("Not logged in\n", 1)
    auth = json.loads('{"auth_mode":"apikey","OPENAI_API_KEY":"sk-test-1234567890abcdef"}')
    text, code = status_text(auth, new)
    assert code == 0 and text.startswith("API key configured - sk-test-***bcdef\n")
    assert status_text(auth, old) == ("Logged in using an API key - sk-test-***bcdef\n", 0)
