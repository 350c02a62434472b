"""Gates (`core/gates.py`): a reply's named pause holds the fake codex's model until the test
releases it — the turn has started, nothing of the reply is out."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from fake_codex.core.gates import FileGate
from fake_codex.core.scenario import ScenarioError, parse_scenario

from ..conftest import kill_group, read_line


def _scenario(env: Any, reply: dict[str, Any]) -> Path:
    path = env.root / "gated.json"
    path.write_text(json.dumps({"schema_version": 1, "turns": [{"requests": [reply]}]}))
    return path


def test_a_gated_reply_holds_the_turn_until_the_test_releases_it(env: Any) -> None:
    reply = {"output": [{"type": "message", "text": "after the gate"}], "gate": "model"}
    proc = env.start(["exec", *env.EXEC_FLAGS, "--", "go"], scenario=_scenario(env, reply))
    try:
        gate = FileGate(env.home, "model")
        gate.wait_reached(timeout=20)
        started = [json.loads(read_line(proc.stdout))["type"] for _ in range(2)]
        assert started == ["thread.started", "turn.started"]
        (rollout,) = env.rollouts()
        assert "after the gate" not in rollout.read_text()  # held before any of the reply
        assert proc.poll() is None
        gate.release()
        out, _ = proc.communicate(timeout=20)
    finally:
        if proc.returncode is None:
            kill_group(proc)
    assert proc.returncode == 0
    events = [json.loads(line) for line in out.splitlines()]
    assert events[0]["item"]["text"] == "after the gate"
    assert events[-1]["type"] == "turn.completed"


def test_waiting_for_a_gate_nobody_reaches_times_out(env: Any) -> None:
    with pytest.raises(TimeoutError, match="'never'"):
        FileGate(env.home, "never").wait_reached(timeout=0.05)


@pytest.mark.parametrize("name", ["", "../up", ".hidden"])
def test_a_gate_name_must_be_a_plain_name(name: str) -> None:
    doc = {"schema_version": 1, "turns": [{"requests": [{"output": [], "gate": name}]}]}
    with pytest.raises(ScenarioError, match=r"\$\.turns\[0\]\.requests\[0\]\.gate"):
        parse_scenario(doc, "s.json")
