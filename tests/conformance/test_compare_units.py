"""Fast tests of the conformance machinery: normaliser, divergence matcher, scenarios, judge."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from conformance import divergences as div
from conformance.backends import Capture, InvocationCapture
from conformance.normalise import Normaliser, canonical_arguments
from conformance.scenario_set import SCENARIO_DIR, Invocation, load, load_all
from conformance.verdict import Cell, changed_lines, judge, table
from fake_codex.core.scenario import load_scenario as fake_load_scenario
from fake_codex.responses.script import replies_from_scenario, validate_reply

T1 = "01a20111-b76a-7ae0-9e94-0c6ac1d6dc9d"
T2 = "01a20111-c6b9-7226-a3ef-1bde66dfa413"
OTHER = "01a20111-b7c6-79d1-8d4d-45d1375dd741"


def test_thread_ids_are_numbered_in_order_of_first_appearance() -> None:
    norm = Normaliser()
    assert norm.thread(T2) == "<thread:1>"
    assert norm.thread(T1) == "<thread:2>"
    assert norm.text(f"resume {T1} then {T2}") == "resume <thread:2> then <thread:1>"


def test_unregistered_uuids_are_masked_without_a_number() -> None:
    assert Normaliser().text(f"turn {OTHER}") == "turn <uuid>"


def test_run_folder_server_url_wall_time_and_chunk_id_are_masked() -> None:
    norm = Normaliser("/tmp/conformance-x/a@0.169.0/real")
    text = (
        "Chunk ID: 96c8aa\nWall time: 0.0108 seconds\n"
        "/tmp/conformance-x/a@0.169.0/real/ws/hello.txt url: http://127.0.0.1:41234/v1/responses"
    )
    assert norm.text(text) == (
        "Chunk ID: <chunk>\nWall time: <wall> seconds\n"
        "<run>/ws/hello.txt url: <server>/v1/responses"
    )


def test_the_code_mode_script_wall_time_is_masked_too() -> None:
    text = "Script completed\nWall time 0.1 seconds\nOutput:\n"
    assert Normaliser().text(text) == "Script completed\nWall time <wall> seconds\nOutput:\n"


def test_codex_made_output_ids_keep_their_prefix() -> None:
    assert Normaliser().text(f"fco_{OTHER} ctco_{OTHER}") == "fco_<id> ctco_<id>"


def test_clock_keys_are_masked_at_any_depth_and_item_ids_are_kept() -> None:
    data = {"id": "item_3", "nested": [{"timestamp": "2026-01-01", "create_time": 1.5}]}
    assert Normaliser().value(data) == {
        "id": "item_3",
        "nested": [{"timestamp": "<volatile>", "create_time": "<volatile>"}],
    }


def test_function_arguments_compare_as_objects_whatever_their_spacing() -> None:
    assert canonical_arguments('{"cmd": "ls"}') == canonical_arguments('{"cmd":"ls"}')
    assert canonical_arguments("not json") == "not json"


def _divergence(**overrides: Any) -> div.Divergence:
    raw = {
        "scenario": "err_*",
        "versions": ["0.150.0", "0.150.99"],
        "column": "exec",
        "lines": ["high demand"],
        "differs": "apostrophe",
        "reason": "why",
    }
    raw.update(overrides)
    return div.parse({"divergences": [raw]})[0]


def test_a_divergence_applies_only_inside_its_version_range_scenario_and_column() -> None:
    d = _divergence()
    assert d.applies("err_http_500", "0.150.1", "exec")
    assert not d.applies("err_http_500", "0.169.0", "exec")
    assert not d.applies("shell_ok", "0.150.1", "exec")
    assert not d.applies("err_http_500", "0.150.1", "rollout")


def test_a_diff_is_explained_only_when_every_changed_line_matches() -> None:
    d = _divergence()
    lines = ['-  "We\'re ... high demand"', '+  "We’re ... high demand"']
    assert div.explain(lines, [d], "err_http_500", "0.150.1", "exec") == ([d], [])
    used, unexplained = div.explain([*lines, '+ "rc": 1'], [d], "err_http_500", "0.150.1", "exec")
    assert used == [d] and unexplained == ['+ "rc": 1']


def test_a_malformed_divergence_entry_is_rejected() -> None:
    with pytest.raises(ValueError, match="column"):
        _divergence(column="stderr")
    with pytest.raises(ValueError, match="keys"):
        div.parse({"divergences": [{"scenario": "x"}]})


def test_the_shipped_divergences_file_is_valid() -> None:
    assert all(isinstance(p, re.Pattern) for d in div.load() for p in d.lines)


def test_there_are_at_least_25_scenarios_each_with_a_description() -> None:
    scenarios = load_all()
    assert len(scenarios) >= 25
    assert all(s.document.get("description") for s in scenarios)


@pytest.mark.parametrize("path", sorted(SCENARIO_DIR.glob("*.json")), ids=lambda p: p.stem)
def test_every_scenario_is_valid_for_the_fake_and_the_server(path: Path) -> None:
    fake_load_scenario(path)
    for scripted in replies_from_scenario(json.loads(path.read_text())):
        validate_reply(scripted.reply)


def test_a_sidecar_gives_the_invocations_and_versions(tmp_path: Path) -> None:
    (tmp_path / "invocations").mkdir()
    (tmp_path / "s.json").write_text('{"schema_version": 1, "turns": [{}, {}]}')
    (tmp_path / "invocations" / "s.json").write_text(
        '{"versions": ["0.150.0", "0.169.99"], '
        '"invocations": [{"session": "b", "prompt_repeat": ["ab", 3]}]}'
    )
    scenario = load(tmp_path / "s.json")
    assert scenario.invocations == (Invocation(session="b", prompt_repeat=("ab", 3)),)
    assert scenario.invocations[0].prompt_text({}, 1) == "ababab"
    assert not scenario.applies_to("0.135.0") and scenario.applies_to("0.169.0")


def test_without_a_sidecar_each_turn_is_one_invocation_prompted_with_its_expectation(
    tmp_path: Path,
) -> None:
    (tmp_path / "s.json").write_text('{"turns": [{"expect_prompt": "hi"}, {}]}')
    scenario = load(tmp_path / "s.json")
    prompts = [
        inv.prompt_text(scenario.turn(i), i + 1) for i, inv in enumerate(scenario.invocations)
    ]
    assert prompts == ["hi", "prompt of turn 2"]


def _capture(backend: str, run_dir: Path, message: str) -> Capture:
    events = [
        {"type": "thread.started", "thread_id": T1 if backend == "real" else T2},
        {"type": "item.completed", "item": {"id": "item_0", "type": "error", "message": message}},
    ]
    inv = InvocationCapture(0, 1, events, "", [{"type": "error", "message": message}], 1)
    return Capture(backend, "0.150.1", run_dir / backend, [inv], {}, 1)


def test_judge_reports_equal_divergent_or_failed(tmp_path: Path) -> None:
    real = _capture("real", tmp_path, "We're busy")
    same = judge(
        Cell("err_http_500", "0.150.1"), _capture("fake", tmp_path, "We're busy"), real, []
    )
    assert same.status == "equal"
    fake = _capture("fake", tmp_path, "We’re busy")
    d = _divergence(lines=["busy"], column="exec")
    known = [d, _divergence(lines=["busy"], column="provider")]
    divergent = judge(Cell("err_http_500", "0.150.1"), fake, real, known)
    assert divergent.status == "divergent" and divergent.reasons == ["apostrophe"]
    failed = judge(Cell("err_http_500", "0.150.1"), fake, real, [d])
    assert failed.status == "failed" and "provider differs" in failed.label


def test_changed_lines_hold_only_the_differing_lines() -> None:
    assert changed_lines({"a": 1, "b": 2}, {"a": 1, "b": 3}) == ['- "b": 3', '+ "b": 2']


def test_the_table_has_one_row_per_scenario_and_marks_versions_not_compared() -> None:
    cells = [Cell("s", "0.169.0"), Cell("t", "0.135.0", "failed", ["exec differs"])]
    assert table(cells, ["0.135.0", "0.169.0"]).splitlines()[2:] == [
        "| s | n/a | equal |",
        "| t | failed (exec differs) | n/a |",
    ]


def test_a_sidecar_registers_the_echo_server_and_prepares_invocations(tmp_path: Path) -> None:
    (tmp_path / "invocations").mkdir()
    (tmp_path / "s.json").write_text('{"schema_version": 1, "turns": [{}, {}]}')
    (tmp_path / "invocations" / "s.json").write_text(
        '{"mcp_servers": {"echo": {"required": true, "startup_delay_s": 2}},'
        ' "extra_args": ["-c", "x=1"],'
        ' "invocations": [{}, {"consume": ["call_1"], "delete_rollout": true}]}'
    )
    scenario = load(tmp_path / "s.json")
    assert scenario.extra_args == ("-c", "x=1")
    assert scenario.invocations[1] == Invocation(consume=("call_1",), delete_rollout=True)
    (server,) = scenario.mcp_servers
    flag, value = server.config_args("/py", Path("/run/mcp-echo.log"))
    assert flag == "-c" and value.startswith('mcp_servers.echo={command="/py",args=["-I",')
    assert '"--log","/run/mcp-echo.log","--startup-delay","2"],required=true}' in value
    (tmp_path / "invocations" / "s.json").write_text('{"mcp_servers": {"echo": {"bogus": 1}}}')
    with pytest.raises(ValueError, match="MCP server"):
        load(tmp_path / "s.json")


def test_the_mcp_column_keeps_the_lifecycle_in_order_and_sorts_the_calls() -> None:
    from conformance.views import mcp_view

    def call(text: str) -> dict[str, Any]:
        params = {"name": "echo", "arguments": {"text": text}, "_meta": {"callId": text}}
        return {"id": 2, "method": "tools/call", "params": params}

    init = {"id": 0, "method": "initialize", "params": {"protocolVersion": "2025-06-18"}}
    messages = [init, {"method": "notifications/initialized"}, call("b"), call("a")]
    view = mcp_view(messages)
    assert [m["method"] for m in view["lifecycle"]] == ["initialize", "notifications/initialized"]
    assert [c["arguments"]["text"] for c in view["calls"]] == ["a", "b"]
    assert view["calls"][0]["meta_keys"] == ["callId"]


def test_the_request_column_reads_the_real_body_like_the_fake_record(tmp_path: Path) -> None:
    from conformance.views import views

    user = [{"type": "input_text", "text": "look"}]
    fmt = {"type": "json_schema", "strict": True, "schema": {}, "name": "codex_output_schema"}
    body = {
        "input": [
            {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "e"}]},
            {"type": "message", "role": "user", "content": user},
        ],
        "text": {"verbosity": "low", "format": fmt},
        "reasoning": {"effort": "high", "context": "all_turns"},
    }
    record = {"user": user, "text_format": fmt, "reasoning_effort": "high"}
    real = Capture("real", "0.169.0", tmp_path / "r", compare_request=True)
    fake = Capture("fake", "0.169.0", tmp_path / "f", compare_request=True)
    real.invocations = [InvocationCapture(0, 0, [], "", None, request=body)]
    fake.invocations = [InvocationCapture(0, 0, [], "", None, request=record)]
    assert views(real)["request"] == views(fake)["request"] == [record]
    fake.invocations[0].request = {**record, "reasoning_effort": "low"}
    assert views(real)["request"] != views(fake)["request"]
    real.compare_request = False
    assert views(real)["request"] is None


def test_codex_args_refuse_a_config_override(tmp_path: Path) -> None:
    (tmp_path / "invocations").mkdir()
    (tmp_path / "s.json").write_text(json.dumps({"schema_version": 1, "turns": []}))
    sidecar = {"invocations": [{"direct": True, "codex_args": ["-c", "model=x"]}]}
    (tmp_path / "invocations" / "s.json").write_text(json.dumps(sidecar))
    with pytest.raises(ValueError, match="codex_args must not hold -c"):
        load(tmp_path / "s.json")
