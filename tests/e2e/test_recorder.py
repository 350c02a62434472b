"""The recorder against the REAL codex 0.169.0: record, replay on the fake, compare (marker e2e).

Each case plays an existing scenario's replies to the real codex through `conformance.record`,
which builds a NEW scenario from codex's rollout and exec stream. Then:
- round trip: the recorded replies are the replies that were served (what the model said, its
  usage, the kind of error), so nothing was lost or invented on the way through the rollout;
- replay: the fake codex plays the recorded scenario, and the harness's normalised views of the
  recording run and of the replay are equal (or differ only by a recorded divergence).
A codex that cannot be installed FAILS the test (the plugin's `real_codex_installs`).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from conformance import divergences
from conformance.backends import run_fake
from conformance.compare import Cell, judge, report_diffs
from conformance.record import main, record
from conformance.scenario_set import SCENARIO_DIR, McpServer, load
from fake_codex.testing.plugin import RealCodexInstalls

pytestmark = pytest.mark.e2e
VERSION = "0.169.0"


def _source(name: str) -> tuple[dict[str, Any], str]:
    document = json.loads((SCENARIO_DIR / f"{name}.json").read_text())
    return document, str(document["turns"][0]["expect_prompt"])


def _essence(reply: dict[str, Any]) -> dict[str, Any]:
    """What a round trip must keep: the output items, the error's kind, else non-zero usage."""
    out: dict[str, Any] = {"output": reply.get("output", [])}
    if "http_status" in reply:
        out["http_status"] = reply["http_status"]
    elif "end" in reply:
        out["end"] = reply["end"]
        out["error_code"] = (reply.get("error") or {}).get("code")
    else:
        out["usage"] = {k: v for k, v in (reply.get("usage") or {}).items() if v}
    return out


CASES = {
    "plain_answer": ([], ()),
    "reasoning": ([], ()),
    "shell_ok": ([], ()),
    "mcp_classic_one": (["-m", "gpt-5.5"], (McpServer("echo"),)),
    "err_http_500": ([], ()),
    "err_http_401": ([], ()),
    "err_stream_cut": ([], ()),
}


@pytest.mark.parametrize("name", list(CASES))
async def test_a_recorded_scenario_round_trips_and_replays_on_the_fake(
    name: str, tmp_path: Path, real_codex_installs: RealCodexInstalls
) -> None:
    real_codex_installs.binary(VERSION)  # installed once, into the cache conformance reads
    options, servers = CASES[name]
    source, prompt = _source(name)
    served = [r for turn in source["turns"] for r in turn["requests"]]
    recording = await record(
        ["exec", *options, "--", prompt],
        VERSION,
        tmp_path / "record",
        replies=served,
        servers=servers,
    )
    assert recording.capture.problems == []

    recorded = recording.scenario["turns"]
    assert [t.get("expect_prompt") for t in recorded] == [prompt]
    assert [_essence(r) for r in recorded[0]["requests"]] == [_essence(r) for r in served]

    # The offline mode builds the same turns from the rollout file and the exec stdout.
    rollout = next((tmp_path / "record" / "real" / "home").glob("sessions/**/rollout-*.jsonl"))
    stdout = next((tmp_path / "record" / "real").glob("codex-0.*.out"))
    offline = tmp_path / "offline.json"
    argv = ["--from-rollout", str(rollout), "--exec-jsonl", str(stdout), "--out", str(offline)]
    assert main(argv) == 0
    assert json.loads(offline.read_text())["turns"] == recorded

    folder = tmp_path / "scenarios"
    (folder / "invocations").mkdir(parents=True)
    (folder / f"{name}.json").write_text(json.dumps(recording.scenario))
    (folder / "invocations" / f"{name}.json").write_text(json.dumps(recording.sidecar))
    scenario = load(folder / f"{name}.json")
    fake = await run_fake(scenario, VERSION, tmp_path / "replay")
    cell = judge(Cell(name, VERSION), fake, recording.capture, divergences.load())
    if cell.status == "failed":
        pytest.fail(report_diffs([cell], verbose=True, context=3), pytrace=False)
