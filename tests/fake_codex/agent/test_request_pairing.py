"""The fake codex's model checks each request's input like the API, after repairing the replayed
history as the real codex does (`history.for_prompt`): a call whose output was cut away is sent
with an "aborted" output, an output whose call is gone is left out, so neither reaches the API
broken; an output moved BEFORE its call is sent as is (the real codex does too) and gets the
API's 400, and the suite is told."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from fake_codex.core.pairing import REPORT_ENV

CALL = {"type": "function_call", "name": "nope", "arguments": {}, "call_id": "call_7"}
DONE = {"type": "message", "text": "done"}


def _scenario(env: Any, version: str | None = None) -> Path:
    doc: dict[str, Any] = {
        "schema_version": 1,
        "turns": [
            {"requests": [{"output": [CALL]}, {"output": [DONE]}]},
            {"requests": [{"output": [DONE]}]},
        ],
    }
    if version is not None:
        doc["codex_version"] = version
    path = env.root / "scenario.json"
    path.write_text(json.dumps(doc))
    return path


def _first_turn(
    env: Any, report: Path, monkeypatch: pytest.MonkeyPatch, version: str | None = None
) -> tuple[Path, str]:
    """The thread's first turn (a call and its output), reports going to `report`."""
    monkeypatch.setenv(REPORT_ENV, str(report))
    scenario = _scenario(env, version)
    first = env.run(["exec", *env.EXEC_FLAGS, "--", "go"], scenario=scenario, stdin=None)
    assert first.returncode == 0
    return scenario, env.parse_jsonl(first.stdout)[0]["thread_id"]


def _resume(env: Any, scenario: Path, thread: str, log: Path | None = None) -> Any:
    argv = ["exec", *env.EXEC_FLAGS, "resume", thread, "again"]
    extra = {"FAKE_CODEX_LOG": str(log)} if log is not None else None
    return env.run(argv, scenario=scenario, stdin=None, extra_env=extra)


def _is(line: str, kind: str) -> bool:
    return f'"type":"{kind}",' in line.replace(" ", "")


def _sent(log: Path) -> list[dict[str, Any]]:
    """The tool items of the resumed turn's first request (the fake's invocation log)."""
    (record,) = [json.loads(line) for line in log.read_text().splitlines()]
    return [i for i in record["model_input"] if "call_id" in i]


@pytest.mark.codex_request_violations
def test_an_output_before_its_call_gets_the_apis_400(
    env: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    report = tmp_path / "violations.jsonl"
    scenario, thread = _first_turn(env, report, monkeypatch)
    (rollout,) = env.rollouts()
    lines = rollout.read_text().splitlines(keepends=True)
    call = next(n for n, ln in enumerate(lines) if _is(ln, "function_call"))
    output = next(n for n, ln in enumerate(lines) if _is(ln, "function_call_output"))
    lines[call], lines[output] = lines[output], lines[call]
    rollout.write_text("".join(lines))

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
        "No tool call found for function call output with call_id call_7.",
        "No tool output found for function call call_7.",
    ]


@pytest.mark.parametrize("version", ["0.135.0", "0.171.0"])
def test_a_call_whose_output_was_cut_away_is_sent_with_an_aborted_output(
    env: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, version: str
) -> None:
    report = tmp_path / "violations.jsonl"
    scenario, thread = _first_turn(env, report, monkeypatch, version)
    (rollout,) = env.rollouts()
    lines = rollout.read_text().splitlines(keepends=True)
    call = next(n for n, ln in enumerate(lines) if _is(ln, "function_call"))
    rollout.write_text("".join(lines[: call + 1]))  # a crash right after the call

    log = tmp_path / "log.jsonl"
    assert _resume(env, scenario, thread, log).returncode == 0
    assert not report.exists()
    sent_call, aborted = _sent(log)
    assert sent_call["type"] == "function_call"
    if version == "0.135.0":
        assert aborted == {"type": "function_call_output", "call_id": "call_7", "output": "aborted"}
    else:
        assert aborted.pop("id").startswith("fco_")
        assert aborted == {"type": "function_call_output", "call_id": "call_7", "output": "aborted"}
    # codex repairs what it sends, not the file
    assert not any(_is(ln, "function_call_output") for ln in rollout.read_text().splitlines())


def test_an_output_whose_call_is_gone_is_left_out(
    env: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    report = tmp_path / "violations.jsonl"
    scenario, thread = _first_turn(env, report, monkeypatch)
    (rollout,) = env.rollouts()
    lines = rollout.read_text().splitlines(keepends=True)
    kept = [ln for ln in lines if not _is(ln, "function_call")]
    assert len(kept) == len(lines) - 1, "the call's line is gone, its output stays"
    rollout.write_text("".join(kept))

    log = tmp_path / "log.jsonl"
    assert _resume(env, scenario, thread, log).returncode == 0
    assert not report.exists()
    assert _sent(log) == []


def test_a_well_paired_resume_reports_nothing(
    env: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    report = tmp_path / "violations.jsonl"
    scenario, thread = _first_turn(env, report, monkeypatch)
    assert _resume(env, scenario, thread).returncode == 0
    assert not report.exists()
