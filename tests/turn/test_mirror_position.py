"""Where a turn's lines begin in its thread's rollout (`turn/mirror.py`): the session file's
remembered spot is used only while it still holds, whether asked on the loop
(`remembered_position`) or in a worker (`start_position`, which locates the file otherwise)."""

from __future__ import annotations

import os
import threading
from pathlib import Path

from plexum_openai_provider.config import HostConfig
from plexum_openai_provider.sessions import ThreadRecord
from plexum_openai_provider.turn.mirror import (
    RolloutPosition,
    _line_start,
    remembered_position,
    start_position,
)

THREAD = "019a0000-0000-7000-8000-00000000000a"
LINES = b'{"type":"session_meta"}\n{"type":"turn_context"}\n'


def _world(tmp_path: Path) -> tuple[HostConfig, Path]:
    home = tmp_path / "home"
    day = home / "sessions" / "2026" / "12" / "06"
    day.mkdir(parents=True)
    rollout = day / f"rollout-2026-12-06T00-00-00-{THREAD}.jsonl"
    rollout.write_bytes(LINES)
    return HostConfig(codex_home=str(home)), rollout


def test_a_remembered_line_start_in_this_threads_file_is_used_as_it_is(tmp_path: Path) -> None:
    config, rollout = _world(tmp_path)
    second_line = LINES.index(b"\n") + 1
    record = ThreadRecord(THREAD, None, rollout_path=str(rollout), rollout_offset=second_line)
    expected = RolloutPosition(rollout, second_line)
    assert remembered_position(config, record) == expected
    assert start_position(config, record) == expected


def test_a_spot_that_no_longer_holds_is_not_used_and_the_file_is_read_from_its_end(
    tmp_path: Path,
) -> None:
    config, rollout = _world(tmp_path)
    planted = tmp_path / f"rollout-2026-12-06T00-00-00-{THREAD}.jsonl"  # outside CODEX_HOME
    planted.write_bytes(LINES)
    for path, offset in [
        (rollout, 3),  # inside a line (the file changed)
        (rollout, len(LINES) + 10),  # past the end (it shrank)
        (planted, 0),  # a file the model wrote where the session file points
        (None, 0),  # never recorded
    ]:
        record = ThreadRecord(
            THREAD, None, rollout_path=str(path) if path else None, rollout_offset=offset
        )
        assert remembered_position(config, record) is None, (path, offset)
        assert start_position(config, record) == RolloutPosition(rollout, len(LINES))


def test_the_line_check_never_blocks_on_a_fifo_swapped_in_for_the_rollout(tmp_path: Path) -> None:
    # It runs on the event loop (`remembered_position`); after the regular-file check the model
    # could swap in a FIFO nobody writes to: a blocking open would stall every turn of `serve`.
    fifo = tmp_path / f"rollout-2026-12-06T00-00-00-{THREAD}.jsonl"
    os.mkfifo(fifo)
    result: list[bool] = []
    checker = threading.Thread(target=lambda: result.append(_line_start(fifo, 0)), daemon=True)
    checker.start()
    checker.join(timeout=10)
    assert result == [False], "the check blocked on the FIFO"
