"""The benchmark command's arithmetic and table: ratios pair by pair, targets read right, and the
stateless fake Responses server's choice of reply."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from benchmarks.__main__ import main
from benchmarks.figures import Figure, Pairs, interleave, render, spread
from benchmarks.responses import ANSWER, reply_for
from benchmarks.suite import FAST_LOOP, TEST_COMMAND, readme_command


def figure(ratio: float, target: str) -> Figure:
    return Figure("P9", "thing", "base 1 s", "2 s", ratio, target, "x")


@pytest.mark.parametrize(
    ("ratio", "target", "met"),
    [
        (1.3, "<= 1.3", True),
        (1.31, "<= 1.3", False),
        (0.5, ">= 0.5", True),
        (0.49, ">= 0.5", False),
        (1.0, "< 1", False),
        (2.0, "", None),
    ],
)
def test_a_figure_reads_its_target_as_a_bound_on_the_ratio(
    ratio: float, target: str, met: bool | None
) -> None:
    assert figure(ratio, target).met is met
    assert figure(ratio, target).to_json()["met"] is met


def test_the_ratio_is_the_median_of_pair_ratios_not_a_ratio_of_medians() -> None:
    pairs = Pairs(a=[2.0, 9.0, 3.0], b=[1.0, 3.0, 3.0])
    assert pairs.ratios == [2.0, 3.0, 1.0]
    assert pairs.ratio == 2.0


def test_interleaving_alternates_which_side_runs_first() -> None:
    order: list[str] = []

    def side(name: str) -> float:
        order.append(name)
        return 1.0

    interleave(lambda: side("a"), lambda: side("b"), 3, warmup=0)
    assert order == ["a", "b", "b", "a", "a", "b"]


def test_spread_is_p10_to_p90_from_ten_values_and_min_max_below() -> None:
    assert spread([1.0, 3.0, 2.0]) == "1.00-3.00 (min-max of 3)"
    assert spread([float(i) for i in range(1, 12)]).endswith("(p10-p90 of 11)")


def test_the_table_has_one_row_per_figure_and_says_which_targets_were_missed() -> None:
    table = render([figure(1.2, "<= 1.3"), figure(1.6, "<= 1.5")]).splitlines()
    assert [c.strip() for c in table[0].strip("|").split("|")] == [
        "figure", "baseline", "ours", "ratio", "target", "spread"
    ]  # fmt: skip
    assert len(table) == 4
    assert "<= 1.3 ok" in table[2] and "<= 1.5 MISSED" in table[3]


def test_the_fake_responses_server_calls_the_tool_once_then_answers() -> None:
    first = reply_for({"input": [{"type": "message", "role": "user"}]}, "mcp__ns")
    assert first["output"][0]["type"] == "function_call"
    assert first["output"][0]["namespace"] == "mcp__ns"
    after = reply_for({"input": [{"type": "function_call_output", "call_id": "c"}]}, "mcp__ns")
    assert after["output"] == [{"type": "message", "text": ANSWER}]
    assert reply_for({"input": []}, None)["output"][0]["text"] == ANSWER


def test_the_command_writes_the_table_as_json_and_exits_1_when_a_figure_crashes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import benchmarks.__main__ as command

    def plan(quick: bool, tests: str | None) -> list[tuple[str, Callable[[], list[Figure]]]]:
        def boom() -> list[Figure]:
            raise RuntimeError("no codex here")

        return [("P1", lambda: [figure(1.1, "<= 1.3")]), ("P2", boom)]

    monkeypatch.setattr(command, "_plan", plan)
    out = tmp_path / "rows.json"
    assert main(["--quick", "--json", str(out)]) == 1
    written = json.loads(out.read_text())
    assert [f["key"] for f in written["figures"]] == ["P9"]
    assert written["crashed"] == ["P2"]
    printed = capsys.readouterr().out
    assert "P9 thing" in printed and "CRASHED: P2" in printed


def test_the_budget_cuts_a_cold_turn_into_stages_that_add_up_to_its_wall_time() -> None:
    from benchmarks.budget import STAGES, stage_times

    names = ["spawn0", "start", "config", "lock", "session", "tools", "spawn", "spawned"]
    names += ["first_byte", "eof", "reaped", "saved", "end"]
    marks = {name: float(i) for i, name in enumerate(names)}
    stages = stage_times(marks)
    assert list(stages) == [name for name, _, _ in STAGES]
    assert all(seconds == 1.0 for seconds in stages.values())
    assert sum(stages.values()) == marks["end"]


def test_without_tools_the_session_read_runs_to_the_spawn_and_overlaps_count_zero() -> None:
    from benchmarks.budget import stage_times

    marks = {"spawn0": 0.0, "start": 0.01, "config": 0.08, "lock": 0.081, "session": 0.082}
    marks |= {"spawn": 0.09, "first_byte": 0.2, "spawned": 0.21, "eof": 0.3, "reaped": 0.31}
    marks |= {"saved": 0.32, "end": 0.33}
    stages = stage_times(marks)
    assert stages["tool offering"] == 0.0
    assert stages["session read"] == pytest.approx(0.008)
    assert stages["spawn (exec of codex)"] == pytest.approx(0.12)
    assert stages["first byte from codex"] == 0.0  # the pipe closed after the first read


def test_the_budget_rows_name_their_stage_and_show_the_gap_to_the_stage_alone() -> None:
    from benchmarks.budget import rows

    table = rows({False: {"imports": (0.09, 0.07), "total (wall)": (0.3, 0.2)}}, 5)
    assert [f.name for f in table] == [
        "budget, no tools:  1 imports", "budget, no tools: total (wall)"
    ]  # fmt: skip
    assert table[0].baseline == "alone 70.0 ms" and table[0].ours == "90.0 ms"
    assert table[0].spread == "gap +20.0 ms (medians of 5)"
    assert table[1].ratio == pytest.approx(1.5)
    assert table[1].baseline == "bare codex exec 200.0 ms"


def test_the_load_latency_runs_from_codex_s_last_write_of_a_reply_to_the_daemon_s_read(
    tmp_path: Path,
) -> None:
    from benchmarks.load import latencies, written_at

    (tmp_path / "101").write_bytes(
        b'1000 {"type":"item.started","text":"fake-codex received your prompt: a1 t0"}\n'
        b'3000 {"type":"item.completed","text":"fake-codex received your prompt: a1 t0"}\n'
        b"4000 {}\n"
    )
    (tmp_path / "102").write_bytes(b"2000 received your prompt: a2 t1\n")
    written = written_at(tmp_path)
    assert written == {"a1 t0": [1000, 3000], "a2 t1": [2000]}
    assert latencies({"a1 t0": 5000, "a2 t1": 2500}, written) == [2e-6, 5e-7]
    with pytest.raises(RuntimeError, match="a2 t1"):
        latencies({"a2 t1": 1500}, written)  # read before any write: the stamps are wrong


def test_p6_times_the_commands_the_readme_documents(tmp_path: Path) -> None:
    # P6 must time what a developer runs: the README's own lines, read each run, not a copy.
    assert readme_command(FAST_LOOP)  # whatever the README documents as the fast loop
    assert readme_command(TEST_COMMAND) == ["bash", "scripts/test"]
    readme = tmp_path / "README.md"
    readme.write_text(
        "# x\n```sh\nrun --fast \\\n  'a b'   # the fast loop: quick\nmake  # other\n```\n"
        "```\nnot sh  # the test command\n```\n"
    )
    assert readme_command(FAST_LOOP, readme) == ["run", "--fast", "a b"]
    with pytest.raises(LookupError, match="the test command"):
        readme_command(TEST_COMMAND, readme)


def test_p9_s_rss_rows_have_targets_and_the_cap_row_holds_one_agent_s_threads_to_the_cap(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A small real run on the fake codex: both backends' rows, then the loaded-thread cap's.
    from benchmarks import load, load_cap

    monkeypatch.delenv("FAKE_CODEX_SCENARIO", raising=False)
    rows = load.figures(2, 2, cap_sessions=3 * load_cap.CAP)
    rss = [f for f in rows if "RSS" in f.name]
    assert [f.name.split(":")[0] for f in rss] == ["exec", "app-server", "app-server"]
    assert all(f.target == "<= 1" and f.ratio > 0 for f in rss)
    cap = rss[-1]
    assert f"max_loaded_threads {load_cap.CAP}" in cap.name and cap.baseline.startswith("bound ")
    loaded = int(cap.ours.split(", ")[1].split()[0])
    # In-use threads are never given back: at most LANES beyond the cap, while an unload runs.
    assert load_cap.CAP <= loaded <= load_cap.CAP + load_cap.LANES


def test_the_cap_bound_adds_base_per_thread_times_cap_and_a_margin_of_lanes_plus_slack(
    tmp_path: Path,
) -> None:
    from benchmarks.load_cap import LANES, SLACK_MB, Bound, most_loaded

    bound = Bound(base_kb=20 * 1024, per_thread_kb=512.0, probe_threads=16)
    assert bound.margin_mb() == LANES * 0.5 + SLACK_MB
    assert bound.limit_mb(4) == 20 + 2 + LANES * 0.5 + SLACK_MB
    (tmp_path / "7").write_text("1\n3\n2\n0\n")
    assert most_loaded(tmp_path, 7) == 3
    with pytest.raises(RuntimeError, match="logged no loaded-thread count"):
        most_loaded(tmp_path, 8)
