"""The fake app-server's turn log: an unloaded thread's turns leave memory (spilled to a temp file)
and read back the same; a turn ending after the unload, and a fork's copy, are kept too."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from fake_codex.app_server.turn_log import TurnLog


@pytest.fixture
def log() -> Iterator[TurnLog]:
    kept = TurnLog()
    yield kept
    kept.close()


def turn(n: int) -> dict[str, object]:
    return {
        "id": f"turn-{n}",
        "status": "completed",
        "items": [{"type": "agentMessage", "text": "x" * n}],
    }


def test_a_spilled_thread_holds_nothing_in_memory_and_reads_back_the_same(log: TurnLog) -> None:
    log.append("a", turn(1))
    log.append("a", turn(2))
    log.append("b", turn(3))
    log.spill("a")
    assert not log.held("a") and log.held("b")
    assert log.get("a") == [turn(1), turn(2)]
    assert log.get("b") == [turn(3)]
    assert log.get("never") == []


def test_turns_after_a_spill_and_a_forks_copy_are_kept(log: TurnLog) -> None:
    log.append("a", turn(1))
    log.spill("a")
    log.append("a", turn(2))  # the thread was reloaded (or its turn ended after the unload)
    assert not log.held("a")
    assert log.get("a") == [turn(1), turn(2)]
    log.copy("a", "fork")
    log.append("fork", turn(3))
    assert log.get("fork") == [turn(1), turn(2), turn(3)]
    assert log.get("a") == [turn(1), turn(2)]
    log.spill("fork")
    log.spill("fork")  # twice: nothing held the second time, the spilled copy stays
    assert log.get("fork") == [turn(1), turn(2), turn(3)]


def test_get_returns_a_copy(log: TurnLog) -> None:
    log.append("a", turn(1))
    log.get("a").append(turn(9))
    assert log.get("a") == [turn(1)]
