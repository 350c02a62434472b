"""The fake reproduces the real codex captures (codex-samples/) event for event."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

DATA = Path(__file__).parents[1] / "data"
SCENARIOS = Path(__file__).parents[1] / "scenarios"

# capture name -> (scenario file, extra exec args, prompt); all ran with provider retries 0
SINGLE = {
    "basic": ("basic", [], "hello"),
    "v135_basic": ("v135_basic", [], "hello"),
    "tools_gpt55": ("tools_gpt55", ["-m", "gpt-5.5"], "do stuff"),
    "v135_tools": ("v135_tools", [], "do stuff"),
    "v150_tools": ("v150_tools", [], "do stuff"),
    "streaming_two_messages": ("streaming_two_messages", [], "hi"),
}
ERRORS = sorted(p.name.removesuffix(".stdout.jsonl") for p in DATA.glob("*err_*.stdout.jsonl"))


def _expected(env: Any, name: str) -> Any:
    return env.normalise(env.parse_jsonl((DATA / f"{name}.stdout.jsonl").read_bytes()))


def _rc(name: str) -> int:
    path = DATA / f"{name}.rc.txt"
    return int(path.read_text().strip().removeprefix("rc=")) if path.exists() else 0


@pytest.mark.parametrize("name", sorted(SINGLE))
def test_fake_reproduces_the_captured_stream_of_a_successful_turn(env: Any, name: str) -> None:
    scenario, extra, prompt = SINGLE[name]
    args = ["exec", *env.provider_args(False), *env.EXEC_FLAGS, *extra, "--", prompt]
    result = env.run(args, scenario=f"{scenario}.json", stdin=None)
    assert result.returncode == 0, result.stderr.decode()
    assert env.normalise(env.parse_jsonl(result.stdout), env.cwd) == _expected(env, name)


@pytest.mark.parametrize("name", ERRORS)
def test_fake_reproduces_the_captured_stream_of_a_failed_turn(env: Any, name: str) -> None:
    retries = name.endswith("_defaultretries")
    args = ["exec", *env.provider_args(retries), *env.EXEC_FLAGS, "--", "hello"]
    result = env.run(args, scenario=f"{name}.json", stdin=None)
    assert env.normalise(env.parse_jsonl(result.stdout), env.cwd) == _expected(env, name)
    assert result.returncode == _rc(name)


def test_fake_reproduces_the_captured_resume_pair_with_cumulative_usage(env: Any) -> None:
    common = ["exec", *env.provider_args(False), *env.EXEC_FLAGS, "-m", "gpt-5.5"]
    one = env.run([*common, "--", "first"], scenario="resume.json", stdin=None)
    assert one.returncode == 0, one.stderr.decode()
    assert env.normalise(env.parse_jsonl(one.stdout), env.cwd) == _expected(env, "resume_turn1")
    thread = env.parse_jsonl(one.stdout)[0]["thread_id"]
    two = env.run([*common, "resume", thread, "second"], scenario="resume.json", stdin=None)
    assert two.returncode == 0, two.stderr.decode()
    events = env.parse_jsonl(two.stdout)
    assert events[0] == {"type": "thread.started", "thread_id": thread}
    assert env.normalise(events, env.cwd) == _expected(env, "resume_turn2")


def test_every_scenario_in_the_test_folder_is_exercised_by_a_test() -> None:
    names = {p.stem for p in SCENARIOS.glob("*.json")}
    covered = set(SINGLE) | set(ERRORS) | {"resume", "resume_model_switch"}
    assert names <= covered, f"scenarios without a test: {sorted(names - covered)}"
