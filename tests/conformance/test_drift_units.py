"""The drift check without network or codex: version choice, the registry answer, the report."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest

from conformance import drift
from conformance.backends import Capture, InvocationCapture
from conformance.scenario_set import load
from conformance.verdict import Cell, judge
from conformance.views import rollout_view


def _npm(stdout: str, rc: int = 0, stderr: str = "") -> Any:
    def run(argv: list[str], **_: Any) -> subprocess.CompletedProcess[str]:
        assert argv == ["npm", "view", "@openai/codex", "version"]
        return subprocess.CompletedProcess(argv, rc, stdout, stderr)

    return run


def test_the_latest_version_is_what_the_registry_calls_latest() -> None:
    assert drift.latest_published(_npm("0.172.0\n")) == "0.172.0"


@pytest.mark.parametrize(
    ("stdout", "rc"), [("", 1), ("0.172.0-alpha.1\n", 0), ("npm ERR! 404\n", 0), ("1.2\n", 0)]
)
def test_a_registry_answer_that_is_not_a_release_is_a_drift_error(stdout: str, rc: int) -> None:
    with pytest.raises(drift.DriftError, match="npm view @openai/codex version"):
        drift.latest_published(_npm(stdout, rc, "E404"))


def test_a_missing_npm_is_a_drift_error() -> None:
    def run(argv: list[str], **_: Any) -> subprocess.CompletedProcess[str]:
        raise FileNotFoundError("npm")

    with pytest.raises(drift.DriftError, match="failed"):
        drift.latest_published(run)


def test_the_fake_emulates_the_nearest_known_version_of_the_one_checked() -> None:
    assert drift.choose(None, latest=lambda: "0.175.2") == ("0.175.2", "0.171.0")
    assert drift.choose("0.170.0") == ("0.170.0", "0.169.0")
    assert drift.choose("0.171.0") == ("0.171.0", "0.171.0")
    assert drift.choose("0.171.0", emulate="0.169.0") == ("0.171.0", "0.169.0")


def test_an_unknown_emulated_version_or_a_non_release_is_refused() -> None:
    with pytest.raises(drift.DriftError, match="not a known version"):
        drift.choose("0.171.0", emulate="0.170.0")
    with pytest.raises(drift.DriftError, match="not a release"):
        drift.choose("latest")


def _cell(name: str, diffs: dict[str, list[str]], problems: tuple[str, ...] = ()) -> Cell:
    cell = Cell(name, "0.172.0", diffs=diffs)
    for problem in problems:
        cell.fail(problem)
    for column in diffs:
        cell.fail(f"{column} differs")
    return cell


def test_the_report_merges_identical_changes_and_orders_them_by_column() -> None:
    model = ['-   "gpt-7-sol"', '+   "gpt-6.2-sol"']
    cells = [
        _cell("plain_answer", {"rollout": model}),
        _cell("resume_2_turns", {"rollout": model}),
        _cell("shell_ok", {"exec": ['-  "rc": 1', '+  "rc": 0'], "rollout": ['- "x"']}),
        _cell("unicode", {}),
    ]
    report = drift.render(cells, "0.172.0", "0.171.0")
    lines = report.splitlines()
    assert lines[0].startswith("drift: real codex 0.172.0 vs the fake emulating 0.171.0")
    assert lines[1] == "4 scenarios: 1 unchanged, 3 changed"
    exec_at, rollout_at = (
        lines.index(next(x for x in lines if x.startswith("## exec"))),
        next(i for i, x in enumerate(lines) if x.startswith("## rollout")),
    )
    assert exec_at < rollout_at
    assert lines[rollout_at] == "## rollout: 3 scenario(s) changed (- real 0.172.0, + fake)"
    assert "- in 2: plain_answer, resume_2_turns" in lines
    assert lines[lines.index("- in 2: plain_answer, resume_2_turns") + 1] == '    -   "gpt-7-sol"'
    assert "problems" not in report  # "<column> differs" is not a problem of the run


def test_the_report_lists_runs_that_went_wrong_and_says_when_nothing_drifted() -> None:
    broken = _cell("err_http_500", {}, ("real: real codex left 1 scripted replies unused",))
    report = drift.render([broken], "0.172.0", "0.171.0")
    assert report.splitlines()[1] == "1 scenarios: 1 unchanged, 0 changed, 1 with problems"
    assert report.endswith("- err_http_500: real: real codex left 1 scripted replies unused")
    clean = drift.render([_cell("a", {})], "0.172.0", "0.171.0")
    assert clean.endswith("no drift: a profile for 0.172.0 can copy 0.171.0's behaviour")
    known = drift.render([_cell("a", {})], "0.171.0", "0.171.0")
    assert known.endswith("no drift: 0.171.0 is a known version and the fake matches it")


def test_long_changes_are_cut_with_a_count() -> None:
    lines = [f"+ {n}" for n in range(drift.MAX_LINES + 5)]
    report = drift.render([_cell("big", {"exec": lines})], "0.172.0", "0.171.0")
    assert report.endswith("    ... 5 more lines")


def _capture(backend: str, version: str, run_dir: Path) -> Capture:
    init = {"id": 0, "method": "initialize", "params": {"clientInfo": {"version": version}}}
    inv = InvocationCapture(0, 0, [{"type": "turn.started"}], "", [], model_requests=1)
    capture = Capture(backend, version, run_dir / backend, [inv], {}, 1)
    capture.mcp_logs = {"echo": [init]}
    return capture


def test_in_a_drift_check_the_emulated_version_string_counts_as_the_real_one(
    tmp_path: Path,
) -> None:
    fake, real = _capture("fake", "0.171.0", tmp_path), _capture("real", "0.172.0", tmp_path)
    assert judge(Cell("s", "0.172.0"), fake, real, []).status == "equal"
    other = _capture("real", "0.172.0", tmp_path)
    other.mcp_logs["echo"][0]["params"]["clientInfo"]["version"] = "9.9.9"
    assert judge(Cell("s", "0.172.0"), fake, other, []).diffs["mcp"]


def test_the_rollout_column_holds_the_model_of_each_turn() -> None:
    lines = [
        {"type": "turn_context", "payload": {"model": "gpt-6.2-sol", "cwd": "/w"}},
        {"type": "event_msg", "payload": {"type": "task_started"}},
        {"type": "turn_context", "payload": {"model": "gpt-5.5"}},
    ]
    view = rollout_view(lines)
    assert view["models"] == ["gpt-6.2-sol", "gpt-5.5"]
    assert view["event_msg"] == ["task_started"]


def test_a_sidecar_version_range_with_only_a_lowest_bound_is_open_ended(tmp_path: Path) -> None:
    (tmp_path / "invocations").mkdir()
    (tmp_path / "s.json").write_text('{"schema_version": 1, "turns": [{}]}')
    (tmp_path / "invocations" / "s.json").write_text('{"versions": ["0.150.0"]}')
    scenario = load(tmp_path / "s.json")
    assert not scenario.applies_to("0.135.0")
    assert scenario.applies_to("0.150.1") and scenario.applies_to("0.999.0")
    (tmp_path / "invocations" / "s.json").write_text('{"versions": []}')
    with pytest.raises(ValueError, match="lowest"):
        load(tmp_path / "s.json")
