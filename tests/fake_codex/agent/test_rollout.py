"""Rollout files: the real layout, envelopes and key sets (codex-samples/rollout_schema_*.txt)."""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path
from typing import Any

import pytest

DATA = Path(__file__).parents[1] / "data"
# Keys that real codex writes only sometimes (a failed turn, an MCP namespace, ...).
OPTIONAL = {"error", "namespace", "time_to_first_token_ms", "metadata"}
# Keys codex copies from the Responses server's output item: the conformance server sends
# `status: completed`, and the real 0.135.0 / 0.169.0 store it on these (the schema captures
# came from a server that did not send it).
FROM_SERVER = {
    ("response_item", "function_call"): {"status"},
    ("response_item", "custom_tool_call"): {"status"},
    ("response_item", "message"): {"status"},  # assistant messages, 0.169.0
}


def load_schema(
    version: str,
) -> tuple[set[tuple[str, ...]], dict[tuple[str, str | None], set[str]]]:
    tops: set[tuple[str, ...]] = set()
    kinds: dict[tuple[str, str | None], set[str]] = {}
    for line in (DATA / f"rollout_schema_{version}.txt").read_text().splitlines():
        if line.startswith("TOP "):
            tops.add(ast.literal_eval(line[4:]))
        elif line.startswith("item_completed.item "):
            _, name, keys = line.split(" ", 2)
            kinds[("item", name)] = set(ast.literal_eval(keys))
        elif line.startswith("("):
            m = re.match(r"^(\(.*?\)) (\[.*\])$", line)
            assert m, line
            kinds[ast.literal_eval(m.group(1))] = set(ast.literal_eval(m.group(2)))
    return tops, kinds


def check_against_schema(lines: list[dict[str, Any]], version: str) -> set[tuple[str, str | None]]:
    tops, kinds = load_schema(version)
    seen: set[tuple[str, str | None]] = set()
    for line in lines:
        assert tuple(line) in tops, f"envelope {tuple(line)}"
        payload = line["payload"]
        sub = payload.get("type") if line["type"] in ("event_msg", "response_item") else None
        kind = (line["type"], sub)
        assert kind in kinds, f"{kind} is not in rollout_schema_{version}.txt"
        keys = set(payload) - FROM_SERVER.get(kind, set())
        assert keys <= kinds[kind], f"{kind}: extra keys {keys - kinds[kind]}"
        assert kinds[kind] - keys <= OPTIONAL, f"{kind}: missing keys {kinds[kind] - keys}"
        seen.add(kind)
        if sub == "item_completed":
            item = payload["item"]
            want = kinds[("item", item["type"])]
            assert set(item) == want, f"item {item['type']}: {set(item) ^ want}"
            seen.add(("item", item["type"]))
    return seen


def test_rollouts_of_0_169_have_the_real_key_sets(env: Any) -> None:
    common = ["exec", *env.provider_args(False), *env.EXEC_FLAGS]
    env.run([*common, "--", "do stuff"], scenario="tools_gpt55.json", stdin=None)
    env.run([*common, "--", "hello"], scenario="err_401.json", stdin=None)
    first = env.run([*common, "-m", "gpt-5.5", "--", "a"], scenario="resume_model_switch.json")
    thread = env.parse_jsonl(first.stdout)[0]["thread_id"]
    switched = env.run([*common, "resume", thread, "b"], scenario="resume_model_switch.json")
    assert switched.returncode == 0, switched.stderr.decode()
    lines = [line for path in env.rollouts() for line in env.rollout_lines(path)]
    seen = check_against_schema(lines, "0.169.0")
    for kind in [
        ("session_meta", None),
        ("token_usage_record", None),
        ("compacted", None),
        ("event_msg", "task_complete"),
        ("item", "CommandExecution"),
        ("item", "FileChange"),
        ("item", "WebSearch"),
        ("item", "ContextCompaction"),
        ("response_item", "function_call_output"),
        ("response_item", "custom_tool_call_output"),
    ]:
        assert kind in seen


def test_rollouts_of_0_135_have_the_real_key_sets(env: Any) -> None:
    common = ["exec", *env.provider_args(False), *env.EXEC_FLAGS]
    env.run([*common, "--", "do stuff"], scenario="v135_tools.json", stdin=None)
    env.run([*common, "--", "hello"], scenario="v135_basic.json", stdin=None)
    lines = [line for path in env.rollouts() for line in env.rollout_lines(path)]
    seen = check_against_schema(lines, "0.135.0")
    for kind in [
        ("event_msg", "user_message"),
        ("event_msg", "agent_reasoning"),
        ("event_msg", "agent_message"),
        ("event_msg", "patch_apply_end"),
        ("event_msg", "web_search_end"),
        ("response_item", "function_call"),
    ]:
        assert kind in seen
    assert all("ordinal" not in line for line in lines)


def test_a_failed_turn_records_the_error_and_its_codex_error_info(env: Any) -> None:
    args = ["exec", *env.provider_args(False), *env.EXEC_FLAGS, "--", "hello"]
    env.run(args, scenario="err_401.json", stdin=None)
    (path,) = env.rollouts()
    done = [
        ln["payload"]
        for ln in env.rollout_lines(path)
        if ln["payload"].get("type") == "task_complete"
    ]
    assert done[0]["error"] == {
        "message": "unexpected status 401 Unauthorized: Incorrect API key provided: sk-test., "
        "url: http://127.0.0.1:18811/v1/responses",
        "codex_error_info": {"http_connection_failed": {"http_status_code": 401}},
    }


def test_the_rollout_path_uses_local_time_and_timestamps_inside_are_utc(env: Any) -> None:
    result = env.run(
        ["exec", "--skip-git-repo-check", "--json", "--", "hi"],
        stdin=None,
        extra_env={"TZ": "America/Los_Angeles"},
    )
    thread = env.parse_jsonl(result.stdout)[0]["thread_id"]
    (path,) = env.rollouts()
    first = env.rollout_lines(path)[0]
    stamp = first["timestamp"]
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", stamp)
    # Los Angeles is 7 or 8 hours behind UTC: the file name shows the local wall-clock time.
    hour_utc = int(stamp[11:13])
    m = re.fullmatch(
        rf"rollout-(\d{{4}})-(\d\d)-(\d\d)T(\d\d)-(\d\d)-(\d\d)-{thread}\.jsonl", path.name
    )
    assert m, path.name
    assert (hour_utc - int(m.group(4))) % 24 in (7, 8)
    assert path.parent.relative_to(env.home / "sessions").parts == m.group(1, 2, 3)


def test_rollout_lines_are_compact_json_with_contiguous_ordinals(env: Any) -> None:
    env.run(["exec", "--skip-git-repo-check", "--json", "--", "hi"], stdin=None)
    (path,) = env.rollouts()
    raw = path.read_bytes().splitlines()
    assert all(b'": ' not in line[:40] for line in raw)
    assert [json.loads(line)["ordinal"] for line in raw] == list(range(len(raw)))


def test_ephemeral_runs_write_no_rollout(env: Any) -> None:
    result = env.run(
        ["exec", "--skip-git-repo-check", "--json", "--ephemeral", "--", "hi"], stdin=None
    )
    assert result.returncode == 0
    assert env.rollouts() == []


@pytest.mark.parametrize("version", ["0.169.0", "0.135.0"])
def test_the_schema_files_parse(version: str) -> None:
    tops, kinds = load_schema(version)
    assert tops and ("session_meta", None) in kinds
