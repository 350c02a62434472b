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


@pytest.mark.codex_request_violations
def test_a_resume_whose_history_lost_a_call_gets_the_apis_400(
    env: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    report = tmp_path / "violations.jsonl"
    monkeypatch.setenv(REPORT_ENV, str(report))
    scenario = _scenario(env)
    first = env.run(["exec", *env.EXEC_FLAGS, "--", "go"], scenario=scenario, stdin=None)
    assert first.returncode == 0
    thread = env.parse_jsonl(first.stdout)[0]["thread_id"]
    (rollout,) = env.rollouts()
    lines = rollout.read_text().splitlines(keepends=True)
    kept = [ln for ln in lines if '"type":"function_call",' not in ln.replace(" ", "")]
    assert len(kept) == len(lines) - 1, "the call's line is gone, its output stays"
    rollout.write_text("".join(kept))

    second = env.run(
        ["exec", *env.EXEC_FLAGS, "resume", thread, "again"], scenario=scenario, stdin=None
    )
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
    monkeypatch.setenv(REPORT_ENV, str(report))
    scenario = _scenario(env)
    first = env.run(["exec", *env.EXEC_FLAGS, "--", "go"], scenario=scenario, stdin=None)
    thread = env.parse_jsonl(first.stdout)[0]["thread_id"]
    second = env.run(
        ["exec", *env.EXEC_FLAGS, "resume", thread, "again"], scenario=scenario, stdin=None
    )
    assert (first.returncode, second.returncode) == (0, 0)
    assert not report.exists()
