"""Automatic compaction, on the fake and on the real codex of every pinned version (marker
`e2e`): what the provider's mirror reports for a call that was compacted away, what consume does
to it, and that every request stays well-formed (docs/scenarios.md, "Automatic compaction")."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from conformance.backends import Capture, run_fake, run_real
from conformance.installs import VERSIONS
from conformance.scenario_set import load_all
from fake_codex.core.pairing import violations
from fake_codex.responses.requests import last_user_text

pytestmark = pytest.mark.e2e
SCENARIOS = {s.name: s for s in load_all()}
RUNNERS = {"fake": run_fake, "real": run_real}


def play(name: str, backend: str, version: str, root: Path) -> Capture:
    capture = asyncio.run(RUNNERS[backend](SCENARIOS[name], version, root / backend))
    assert capture.problems == []
    assert [inv.returncode for inv in capture.invocations] == [0] * len(capture.invocations)
    return capture


def events(capture: Capture, index: int, kind: str) -> list[dict[str, Any]]:
    return [e for e in capture.invocations[index].canonical or [] if e["type"] == kind]


def compacted(capture: Capture) -> list[dict[str, Any]]:
    (lines,) = capture.rollouts.values()
    return [line["payload"] for line in lines if line.get("type") == "compacted"]


@pytest.mark.parametrize("backend", ["fake", "real"])
@pytest.mark.parametrize("version", VERSIONS)
def test_a_call_compacted_away_mid_turn_is_still_mirrored_and_never_sent_again(
    backend: str, version: str, tmp_path: Path
) -> None:
    capture = play("auto_compact_mid_turn", backend, version, tmp_path)
    (call,) = events(capture, 0, "tool_call")
    (result,) = events(capture, 0, "tool_result")
    # The mirror reads the rollout's lines, which keep the call: the turn reports it in full.
    assert call["block_id"] == result["block_id"] == "call_mt1"
    assert "MID-TOOL-55" in result["output"]
    (summary,) = compacted(capture)
    kept = summary["replacement_history"]
    assert kept and all(item.get("type") != "function_call" for item in kept)
    assert "SUMMARY-MT" in str(kept[-1])
    if backend == "real":
        bodies = capture.request_bodies
        prompts = [last_user_text(body) or "" for body in bodies]
        assert "CONTEXT CHECKPOINT COMPACTION" in prompts[1]  # the summary request
        assert "call_mt1" not in str(bodies[2]["input"])  # the follow-up: summary, no call
        assert [violations(body["input"]) for body in bodies] == [[]] * len(bodies)


@pytest.mark.parametrize("backend", ["fake", "real"])
@pytest.mark.parametrize("version", VERSIONS)
def test_consume_of_a_call_compacted_away_succeeds_and_the_next_request_is_well_formed(
    backend: str, version: str, tmp_path: Path
) -> None:
    capture = play("auto_compact_after_tool", backend, version, tmp_path)
    (lines,) = capture.rollouts.values()
    # consume blanked the call where the rollout still holds it (before the compacted line)...
    calls = [ln["payload"] for ln in lines if ln["payload"].get("call_id") == "call_ac1"]
    assert [c["type"] for c in calls] == ["function_call", "function_call_output"]
    assert "...(tool called)" in str(calls[1]["output"])
    assert "TOOL-OUT-77" not in str(calls)
    # ...while the model's history had already lost it: turn 3 is answered from the summary.
    (end,) = events(capture, 2, "message_end")
    assert [e.get("text") for e in events(capture, 2, "text_delta")] == ["third answer"]
    assert end["type"] == "message_end"
    if backend == "real":
        bodies = capture.request_bodies
        assert len(bodies) == 5  # tool call, answer, summary request, answer, turn 3
        assert [violations(body["input"]) for body in bodies] == [[]] * 5
