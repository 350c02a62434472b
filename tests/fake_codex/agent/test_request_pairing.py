"""The fake codex's model checks each request's input like the API: a history whose tool call
lost its pairing (a consume that removed a call) gets the API's 400, and the suite is told."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from fake_codex.core.pairing import REPORT_ENV

CALL = {"type": "function_call", "name": "nope", "arguments": {}, "call_id": "call_7"}
DONE = {"type": "message", "text": "done"}


def _scenario(env: Any) -> Path:
    doc = {
        "schema_version": 1,
        "turns": [
            {"requests": [{"output": [CALL]}, {"output": [DONE]}]},
            {"requests": [{"output": [DONE]}]},
        ],
    }
    path = env.root / "scenario.json"
    path.write_text(json.dumps(doc))
    return path


def _first_turn(env: Any, report: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, str]:
    """The thread's first turn (a call and its output), reports going to `report`."""
    monkeypatch.setenv(REPORT_ENV, str(report))
    scenario = _scenario(env)
    first = env.run(["exec", *env.EXEC_FLAGS, "--", "go"], scenario=scenario, stdin=None)
    assert first.returncode == 0
    return scenario, env.parse_jsonl(first.stdout)[0]["thread_id"]


def _resume(env: Any, scenario: Path, thread: str) -> Any:
    argv = ["exec", *env.EXEC_FLAGS, "resume", thread, "again"]
    return env.run(argv, scenario=scenario, stdin=None)


@pytest.mark.codex_request_violations
def test_a_resume_whose_history_lost_a_call_gets_the_apis_400(
    env: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    report = tmp_path / "violations.jsonl"
    scenario, thread = _first_turn(env, report, monkeypatch)
    (rollout,) = env.rollouts()
    lines = rollout.read_text().splitlines(keepends=True)
    kept = [ln for ln in lines if '"type":"function_call",' not in ln.replace(" ", "")]
    assert len(kept) == len(lines) - 1, "the call's line is gone, its output stays"
    rollout.write_text("".join(kept))

    second = _resume(env, scenario, thread)
    assert second.returncode == 1
    failed = env.parse_jsonl(second.stdout)[-1]
    assert failed["type"] == "turn.failed"
    assert json.loads(failed["error"]["message"]) == {
        "error": {
            "message": "No tool call found for function call output with call_id call_7.",
            "type": "invalid_request_error",
            "param": "input",
            "code": None,
        }
    }
    (line,) = report.read_text().splitlines()
    assert json.loads(line)["problems"] == [
        "No tool call found for function call output with call_id call_7."
    ]


def test_a_well_paired_resume_reports_nothing(
    env: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    report = tmp_path / "violations.jsonl"
    scenario, thread = _first_turn(env, report, monkeypatch)
    assert _resume(env, scenario, thread).returncode == 0
    assert not report.exists()
