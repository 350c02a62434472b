"""The CODEX_HOME guard, the invocation log, and the turn counter under concurrency."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any


def test_without_codex_home_the_fake_refuses_to_touch_the_default_home(env: Any) -> None:
    environ = env.environ()
    del environ["CODEX_HOME"]
    result = subprocess.run(
        [sys.executable, "-m", "fake_codex", "exec", "--skip-git-repo-check", "--json", "--", "hi"],
        env=environ,
        cwd=env.cwd,
        capture_output=True,
        stdin=subprocess.DEVNULL,
        timeout=30,
        check=False,
    )
    assert result.returncode == 78
    assert result.stdout == b""
    assert "set CODEX_HOME" in result.stderr.decode()
    assert not (Path(environ["HOME"]) / ".codex").exists()


def test_a_default_home_with_the_marker_is_used(env: Any) -> None:
    default = Path(env.environ()["HOME"]) / ".codex"
    default.mkdir()
    (default / ".fake-codex-home").touch()
    environ = env.environ()
    del environ["CODEX_HOME"]
    result = subprocess.run(
        [sys.executable, "-m", "fake_codex", "exec", "--skip-git-repo-check", "--json", "--", "hi"],
        env=environ,
        cwd=env.cwd,
        capture_output=True,
        stdin=subprocess.DEVNULL,
        timeout=30,
        check=False,
    )
    assert result.returncode == 0
    assert list((default / "sessions").rglob("rollout-*.jsonl"))


def test_an_explicit_codex_home_gets_the_marker(env: Any) -> None:
    assert (
        env.run(["exec", "--skip-git-repo-check", "--json", "--", "hi"], stdin=None).returncode == 0
    )
    assert (env.home / ".fake-codex-home").is_file()


def test_an_explicit_home_of_a_real_codex_is_refused(env: Any) -> None:
    env.home.mkdir(exist_ok=True)
    (env.home / "state_5.sqlite").write_bytes(b"")
    result = env.run(["exec", "--skip-git-repo-check", "--json", "--", "hi"], stdin=None)
    assert result.returncode == 78
    assert not (env.home / ".fake-codex-home").exists()


def test_the_invocation_log_records_argv_stdin_exit_code_and_redacted_env(env: Any) -> None:
    log = env.root / "calls.jsonl"
    extra = {
        "FAKE_CODEX_LOG": str(log),
        "PLEXUM_TURN": "t1",
        "PLEXUM_API_KEY": "abc",
        "PLEXUM_PLAIN": "sk-live-123",
        "OPENAI_API_KEY": "sk-test",
    }
    env.run(
        ["exec", "--skip-git-repo-check", "--json", "--", "-"], stdin=b"from stdin", extra_env=extra
    )
    env.run(["exec", "--bogus"], extra_env=extra)
    first, second = (json.loads(line) for line in log.read_text().splitlines())
    assert first["argv"] == ["codex", "exec", "--skip-git-repo-check", "--json", "--", "-"]
    assert first["stdin"] == "from stdin"
    assert first["exit_code"] == 0
    assert first["cwd"] == str(env.cwd)
    assert first["env"]["PLEXUM_TURN"] == "t1"
    assert first["env"]["PLEXUM_API_KEY"] == "<redacted>"
    assert first["env"]["PLEXUM_PLAIN"] == "<redacted>"
    assert "OPENAI_API_KEY" not in first["env"]
    assert first["env"]["CODEX_HOME"] == str(env.home)
    assert isinstance(first["pid"], int) and isinstance(first["pgid"], int)
    assert second["exit_code"] == 2


def test_concurrent_invocations_on_one_home_each_get_their_own_turn(env: Any) -> None:
    n = 8
    turns = [
        {"requests": [{"output": [{"type": "message", "text": f"turn {i}"}]}]} for i in range(n)
    ]
    path = env.root / "many.json"
    path.write_text(json.dumps({"schema_version": 1, "turns": turns}))
    log = env.root / "calls.jsonl"
    procs = [
        env.start(
            ["exec", "--skip-git-repo-check", "--json", "--", f"p{i}"],
            scenario=path,
            extra_env={"FAKE_CODEX_LOG": str(log)},
        )
        for i in range(n)
    ]
    answers = []
    for proc in procs:
        out, err = proc.communicate(timeout=60)
        assert proc.returncode == 0, err.decode()
        answers.append(env.parse_jsonl(out)[2]["item"]["text"])
    assert sorted(answers) == sorted(f"turn {i}" for i in range(n))
    state = json.loads((env.home / "fake-codex-state.json").read_text())
    assert state["turns_used"] == {str(path.resolve()): n}
    assert len(log.read_text().splitlines()) == n  # one intact line per invocation
    assert all(json.loads(line)["exit_code"] == 0 for line in log.read_text().splitlines())
    extra = env.run(
        ["exec", "--skip-git-repo-check", "--json", "--", "one too many"], scenario=path, stdin=None
    )
    assert extra.returncode == 70
    assert "has 8 turn(s)" in extra.stderr.decode()


def test_the_log_records_what_the_first_model_request_carries_after_a_rollout_edit(
    env: Any,
) -> None:
    log = env.root / "invocations.jsonl"
    extra = {"FAKE_CODEX_LOG": str(log)}
    first = env.run(
        ["exec", "--skip-git-repo-check", "--json", "--", "-"],
        stdin=b"first words",
        extra_env=extra,
    )
    assert first.returncode == 0, first.stderr
    thread = json.loads(first.stdout.splitlines()[0])["thread_id"]
    rollout = env.rollouts()[0]
    # Edit the replayed history the way consume does: the next request must carry the edit.
    text = rollout.read_text().replace("first words", "edited words")
    rollout.write_text(text)
    second = env.run(
        ["exec", "--skip-git-repo-check", "--json", "resume", "--", thread, "-"],
        stdin=b"second words",
        extra_env=extra,
    )
    assert second.returncode == 0, second.stderr
    records = [json.loads(line) for line in log.read_text().splitlines()]
    assert [r["exit_code"] for r in records] == [0, 0]

    def texts(record: dict[str, Any]) -> list[str]:
        return [
            part["text"]
            for item in record["model_input"]
            if item.get("type") == "message" and item.get("role") == "user"
            for part in item["content"]
            if part.get("type") == "input_text"
        ]

    assert texts(records[0])[-1] == "first words"
    assert "edited words" in texts(records[1])
    assert "first words" not in json.dumps(records[1]["model_input"])
    assert texts(records[1])[-1] == "second words"
