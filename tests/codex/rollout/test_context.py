"""The context figures of a turn: the last `token_count` with usage in the turn's rollout lines,
read backwards in chunks, never before the turn's start."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from plexum_openai_provider.codex.rollout import context
from plexum_openai_provider.codex.rollout.context import ContextFill, last_context


def count(total: int | None, window: int | None = 258400, *, info: bool = True) -> str:
    usage: dict[str, int] = {"input_tokens": 100, "output_tokens": 7}
    if total is not None:
        usage["total_tokens"] = total
    body = {"last_token_usage": usage, "model_context_window": window} if info else None
    return json.dumps({"type": "event_msg", "payload": {"type": "token_count", "info": body}})


def write(path: Path, lines: list[str]) -> list[int]:
    """Write the lines; return each line's start offset."""
    starts, data = [], b""
    for line in lines:
        starts.append(len(data))
        data += line.encode() + b"\n"
    path.write_bytes(data)
    return starts


@pytest.mark.parametrize("chunk", [7, 1000, 64 * 1024])
def test_the_last_count_with_usage_wins_and_an_info_less_one_is_skipped(
    chunk: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(context, "CHUNK", chunk)  # lines cut anywhere by the backward read
    monkeypatch.setattr(context, "MAX_COUNT_LINE", 1000)  # the big lines are skipped unjoined
    rollout = tmp_path / "r.jsonl"
    big = json.dumps({"type": "response_item", "payload": {"output": "x" * 200_000}})
    write(rollout, [count(50), big, count(900), big, count(None, info=False), "{broken"])
    assert last_context(rollout, 0) == ContextFill(900, 258400)


def test_no_total_means_input_plus_output_and_no_window_is_none(tmp_path: Path) -> None:
    rollout = tmp_path / "r.jsonl"
    write(rollout, [count(None, window=None)])
    assert last_context(rollout, 0) == ContextFill(107, None)


def test_counts_before_the_turns_start_or_after_its_end_are_not_this_turns(tmp_path: Path) -> None:
    rollout = tmp_path / "r.jsonl"
    starts = write(rollout, [count(50), '{"type": "turn_context"}', count(60)])
    assert last_context(rollout, starts[1], starts[2]) is None
    assert last_context(rollout, starts[1]) == ContextFill(60, 258400)
    assert last_context(rollout, 0, starts[1]) == ContextFill(50, 258400)
