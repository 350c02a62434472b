"""`exec resume`: same thread, appended rollout, cumulative usage, codex's unknown-id rules."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

DATA = Path(__file__).parents[1] / "data"


def _exec(env: Any, *args: str, scenario: str | None = None) -> Any:
    return env.run(["exec", *env.EXEC_FLAGS, *args], scenario=scenario, stdin=None)


def test_resume_appends_to_the_same_rollout_and_continues_the_ordinal(env: Any) -> None:
    first = _exec(env, "--", "one")
    thread = env.parse_jsonl(first.stdout)[0]["thread_id"]
    (path,) = env.rollouts()
    before = env.rollout_lines(path)
    second = _exec(env, "resume", thread, "two")
    assert second.returncode == 0
    assert env.rollouts() == [path]
    after = env.rollout_lines(path)
    assert after[: len(before)] == before
    assert [ln["ordinal"] for ln in after] == list(range(len(after)))
    assert [ln["type"] for ln in after].count("session_meta") == 1


def test_turn_completed_usage_is_cumulative_across_resumes(env: Any) -> None:
    first = _exec(env, "--", "one")
    thread = env.parse_jsonl(first.stdout)[0]["thread_id"]
    totals = [env.parse_jsonl(first.stdout)[-1]["usage"]["input_tokens"]]
    for prompt in ("two", "three"):
        result = _exec(env, "resume", thread, prompt)
        totals.append(env.parse_jsonl(result.stdout)[-1]["usage"]["input_tokens"])
    assert totals == [10, 20, 30]


def test_resume_of_an_unknown_uuid_fails_before_any_output(env: Any) -> None:
    missing = "01a200dc-0000-7000-8000-000000000000"
    result = _exec(env, "resume", missing, "hi")
    assert (result.returncode, result.stdout) == (1, b"")
    assert result.stderr.decode() == (
        "Error: thread/resume: thread/resume failed: no rollout found for thread id "
        f"{missing} (code -32600)\n"
    )


def test_resume_of_an_unknown_uuid_prints_a_backtrace_when_rust_backtrace_is_set(env: Any) -> None:
    missing = "01a200dc-0000-7000-8000-000000000000"
    result = env.run(
        ["exec", "--skip-git-repo-check", "--json", "resume", missing, "hi"],
        stdin=None,
        extra_env={"RUST_BACKTRACE": "1"},
    )
    expected = (DATA / "resume_unknown_uuid.stderr.txt").read_text().split("\n", 1)[1]
    assert result.stderr.decode().strip() == expected.strip()


def test_resume_of_a_non_uuid_name_silently_starts_a_new_thread(env: Any) -> None:
    first = _exec(env, "--", "one")
    thread = env.parse_jsonl(first.stdout)[0]["thread_id"]
    other = _exec(env, "resume", "not-a-uuid", "x")
    assert other.returncode == 0
    new_thread = env.parse_jsonl(other.stdout)[0]["thread_id"]
    assert new_thread != thread
    assert len(env.rollouts()) == 2


def test_resume_last_picks_the_newest_thread_of_this_cwd(env: Any) -> None:
    first = _exec(env, "--", "one")
    thread = env.parse_jsonl(first.stdout)[0]["thread_id"]
    again = _exec(env, "resume", "--last", "two")
    assert env.parse_jsonl(again.stdout)[0]["thread_id"] == thread


def test_resume_with_another_model_warns_and_spends_a_reply_on_compaction(env: Any) -> None:
    args = [*env.provider_args(False), "-m"]
    first = _exec(env, *args, "gpt-5.5", "--", "a", scenario="resume_model_switch.json")
    thread = env.parse_jsonl(first.stdout)[0]["thread_id"]
    result = _exec(
        env, *args, "gpt-6.1-sol", "resume", thread, "b", scenario="resume_model_switch.json"
    )
    events = env.parse_jsonl(result.stdout)
    assert [e["type"] for e in events] == [
        "thread.started",
        "item.completed",
        "turn.started",
        "item.completed",
        "turn.completed",
    ]
    assert events[1]["item"] == {
        "id": "item_0",
        "type": "error",
        "message": "This session was recorded with model `gpt-5.5` but is resuming with "
        "`gpt-6.1-sol`. Consider switching back to `gpt-5.5` as it may affect Codex performance.",
    }
    assert events[3]["item"]["text"] == "after switch"
    assert events[4]["usage"]["input_tokens"] == 36  # turn 1 + compaction + answer
    (path,) = env.rollouts()
    assert "compacted" in [ln["type"] for ln in env.rollout_lines(path)]


def test_resume_after_a_truncated_last_line_starts_on_a_fresh_line(env: Any) -> None:
    first = _exec(env, "--", "one")
    thread = env.parse_jsonl(first.stdout)[0]["thread_id"]
    (path,) = env.rollouts()
    valid = len(env.rollout_lines(path))
    with open(path, "ab") as fh:
        fh.write(b'{"timestamp":"2026-11-22T00:00:00.000Z","ordinal":')
    assert _exec(env, "resume", thread, "two").returncode == 0
    raw = path.read_bytes().splitlines()
    parsed = []
    for line in raw:
        try:
            parsed.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    assert len(parsed) == len(raw) - 1
    assert parsed[valid]["ordinal"] == valid
