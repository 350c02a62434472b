"""The plugin's real-codex and two-backend fixtures (the real side needs the pinned codex)."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from fake_codex.testing.fakes import FakeCodex, RealCodex, answer


def exec_json(prompt: str, *args: str) -> tuple[int, list[dict[str, Any]], str]:
    proc = subprocess.run(
        ["codex", "exec", "--json", "--skip-git-repo-check", *args, "--", prompt],
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
        check=False,
    )
    events = [json.loads(line) for line in proc.stdout.splitlines() if line.strip()]
    return proc.returncode, events, proc.stderr


def test_the_real_codex_is_first_on_path_and_reaches_the_fake_server(
    real_codex: RealCodex,
) -> None:
    assert shutil.which("codex") == str(real_codex.executable)
    real_codex.write_scenario([{"expect_prompt": "hi", "requests": [answer("from the server")]}])
    rc, events, stderr = exec_json("hi")
    assert rc == 0, stderr
    assert events[-2]["item"]["text"] == "from the server"
    (request,) = real_codex.requests
    assert request.body["stream"] is True
    assert real_codex.problems() == []
    assert real_codex.rollout()[0]["payload"]["cli_version"] == real_codex.version


def test_the_config_args_point_a_codex_with_its_own_home_at_the_server(
    real_codex: RealCodex, tmp_path: Any
) -> None:
    real_codex.write_scenario([{"requests": [answer("via -c")]}])
    other = tmp_path / "other-home"
    other.mkdir()
    env = {**real_codex.env, "CODEX_HOME": str(other), "HOME": str(other)}
    argv = [str(real_codex.executable), "exec", "--json", "--skip-git-repo-check"]
    proc = subprocess.run(
        [*argv, *real_codex.config_args, "--", "x"],
        capture_output=True, text=True, timeout=60, env=env, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert '"text":"via -c"' in proc.stdout


def test_a_prompt_the_scenario_did_not_expect_is_a_server_problem(real_codex: RealCodex) -> None:
    real_codex.write_scenario([{"expect_prompt": "hello", "requests": [answer("a")]}])
    exec_json("hi")
    (problem,) = real_codex.problems()
    assert "expected a prompt 'hello', got 'hi'" in problem


def test_one_body_two_backends_gives_the_same_answer_and_failure(
    codex: FakeCodex | RealCodex,
) -> None:
    codex.write_scenario(
        [
            {"expect_prompt": "one", "requests": [answer("first", input_tokens=7)]},
            {"requests": [{"http_status": 400, "body": "bad request body"}]},
        ]
    )
    rc, events, _ = exec_json("one")
    assert rc == 0 and [e["type"] for e in events][-1] == "turn.completed"
    assert events[-1]["usage"]["input_tokens"] == 7
    rc, events, _ = exec_json("two")
    assert rc == 1
    assert events[-1] == {"type": "turn.failed", "error": {"message": "bad request body"}}
    assert codex.problems() == []
    assert len(codex.rollout_paths()) == 2


@pytest.mark.codex_backends("fake")
def test_the_marker_narrows_a_codex_test_to_one_backend(codex: FakeCodex | RealCodex) -> None:
    assert codex.kind == "fake"
    assert codex.version == "0.171.0"  # the fake emulates the real codex version of the run


def test_a_real_run_recorded_offline_replays_on_the_fake(
    real_codex: RealCodex, tmp_path: Path
) -> None:
    """The docs' record-and-replay path: a real codex run, `conformance.record --from-rollout`,
    the recorded scenario played by the fake: the same answer and usage come out."""
    from conformance.record import main as record

    reasoning = {"type": "reasoning", "summary": ["**Plan** answer"]}
    reply = {"output": [reasoning, {"type": "message", "text": "42"}], "usage": {"input_tokens": 9}}
    real_codex.write_scenario([{"requests": [reply]}])
    rc, real_events, stderr = exec_json("the answer?")
    assert rc == 0, stderr
    stdout = tmp_path / "run.jsonl"
    stdout.write_text("".join(json.dumps(e) + "\n" for e in real_events))
    (rollout,) = real_codex.rollout_paths()
    recorded = tmp_path / "recorded.json"
    assert record(["--from-rollout", str(rollout), "--exec-jsonl", str(stdout),
                   "--out", str(recorded)]) == 0  # fmt: skip

    fake = FakeCodex.create(tmp_path / "replay", tmp_path / "replay" / "home", real_codex.version)
    fake.write_scenario(document=json.loads(recorded.read_text()))
    proc = subprocess.run(
        [str(fake.executable), "exec", "--json", "--skip-git-repo-check", "--", "the answer?"],
        capture_output=True, text=True, timeout=60, env=fake.env, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    fake_events = [json.loads(line) for line in proc.stdout.splitlines()]
    assert proc.returncode == 0, proc.stderr
    strip = [{k: v for k, v in e.items() if k != "thread_id"} for e in real_events]
    assert [{k: v for k, v in e.items() if k != "thread_id"} for e in fake_events] == strip
