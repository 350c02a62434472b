"""`plexum-openai-provider say` as a user runs it: a real process, the fake codex behind it."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

from .conftest import ProviderOnFake


def say(
    fake: ProviderOnFake, *args: str, config: dict[str, Any] | None = None, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    return fake.cli("say", *args, config=config, stdin=stdin)


def json_events(stdout: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stdout.splitlines()]


def test_say_json_prints_text_usage_and_thread_then_resumes(provider: ProviderOnFake) -> None:
    first = say(provider, "--json", "hello there")
    assert first.returncode == 0, first.stderr
    events = json_events(first.stdout)
    assert [e["type"] for e in events] == ["text_delta", "message_end"]
    assert "hello there" in events[0]["text"]
    end = events[-1]
    assert set(end["usage"]) == {
        "input_tokens",
        "cached_input_tokens",
        "cache_write_input_tokens",
        "output_tokens",
        "reasoning_output_tokens",
    }
    second = say(provider, "--json", "again")
    assert second.returncode == 0, second.stderr
    assert json_events(second.stdout)[-1]["thread_id"] == end["thread_id"]


def test_say_shows_events_for_people(provider: ProviderOnFake) -> None:
    result = say(provider, "hi")
    assert result.returncode == 0
    assert "hi" in result.stdout
    assert "[done] thread " in result.stderr


def test_text_after_double_dash_is_the_prompt(provider: ProviderOnFake) -> None:
    result = say(provider, "--json", "--", "--help")
    assert result.returncode == 0, result.stderr
    assert provider.invocations()[-1].stdin == "--help"


def test_dash_reads_the_prompt_from_stdin(provider: ProviderOnFake) -> None:
    result = say(provider, "--json", "-", stdin="from stdin\n")
    assert result.returncode == 0, result.stderr
    assert provider.invocations()[-1].stdin == "from stdin\n"


def test_a_failed_turn_exits_1(provider: ProviderOnFake) -> None:
    result = say(provider, "--json", "x", config={"binary": "/nonexistent/codex"})
    assert result.returncode == 1
    assert json_events(result.stdout)[-1]["code"] == "binary_not_found"


def test_a_config_error_exits_2_with_the_key(provider: ProviderOnFake) -> None:
    result = say(provider, "x", config={"turn_timeout": 5})
    assert result.returncode == 2
    assert "'turn_timeout'" in result.stderr and "unknown key" in result.stderr


def test_an_unsupported_model_exits_2(provider: ProviderOnFake) -> None:
    result = say(provider, "--model", "o3", "x")
    assert result.returncode == 2
    assert "supported models: codex" in result.stderr


def test_a_missing_workspace_exits_2(provider: ProviderOnFake, tmp_path: Path) -> None:
    result = provider.cli("say", "x", workspace=tmp_path / "nope")
    assert result.returncode == 2 and "not a directory" in result.stderr


def test_say_sandbox_narrows_the_agents_mode_and_refuses_to_widen_it(
    provider: ProviderOnFake,
) -> None:
    provider.scenario([{"requests": [{"output": [{"type": "message", "text": "ok"}]}]}])
    config = {"sandbox": "workspace-write"}
    narrowed = provider.cli("say", "--no-tools", "--sandbox", "read-only", "hi", config=config)
    assert narrowed.returncode == 0, narrowed.stderr
    argv = provider.invocations()[-1].argv
    assert argv[argv.index("-s") + 1] == "read-only"
    assert "--dangerously-bypass-approvals-and-sandbox" not in argv
    widened = provider.cli("say", "--no-tools", "--sandbox", "bypass", "hi", config=config)
    assert widened.returncode != 0
    assert "only narrow" in widened.stdout + widened.stderr
    assert len(provider.invocations()) == 1  # codex never ran for the refused turn
