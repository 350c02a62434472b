"""kill -9 during consume never leaves a partial rollout, nor a second `rollout-*.jsonl`.

A child process runs consume on a multi-MB rollout and is SIGKILLed: (1) by itself at the k-th
file-system step (write, copy, fsync, rename, directory fsync) for random k across the whole run,
so every stage is hit deterministically and without sleeps; (2) by the parent as soon as the child
says it is starting, at whatever point the scheduler lets it reach.
"""

from __future__ import annotations

import json
import random
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from plexum_openai_provider.codex.rollout import consume_rollout

NAME = "rollout-2026-11-22T01-19-33-01a200d6-4ad2-7d63-9009-8c762be02650.jsonl"
IDS = [f"call_{i}" for i in range(0, 120, 3)]

CHILD = r"""
import os, signal, sys
from pathlib import Path
from plexum_openai_provider.codex.rollout import consume_rollout

path, kill_at, ids = Path(sys.argv[1]), int(sys.argv[2]), sys.argv[3].split(",")
steps = 0

def counted(fn):
    def wrapper(*args, **kwargs):
        global steps
        steps += 1
        if steps == kill_at:
            os.kill(os.getpid(), signal.SIGKILL)
        return fn(*args, **kwargs)
    return wrapper

for name in ("write", "copy_file_range", "fsync", "replace", "pread"):
    setattr(os, name, counted(getattr(os, name)))
print("start", flush=True)
consume_rollout(path, ids, chunk_size=1 << 16)
print(steps, flush=True)
"""


def big_rollout(path: Path) -> None:
    rng = random.Random(7)
    with path.open("w", encoding="utf-8") as f:
        for i in range(120):
            heavy = "".join(rng.choice('abcé☃\n"') for _ in range(rng.randint(10, 60_000)))
            call = {
                "type": "function_call",
                "name": "exec_command",
                "arguments": heavy,
                "call_id": f"call_{i}",
            }
            out = {"type": "function_call_output", "call_id": f"call_{i}", "output": heavy}
            for payload in (call, out):
                f.write(json.dumps({"type": "response_item", "payload": payload}) + "\n")
            f.write(json.dumps({"type": "event_msg", "payload": {"type": "token_count"}}) + "\n")


def run_child(path: Path, kill_at: int) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", CHILD, str(path), str(kill_at), ",".join(IDS)],
        stdout=subprocess.PIPE,
        text=True,
        cwd=Path(__file__).parents[3],
    )


@pytest.fixture(scope="module")
def versions(tmp_path_factory: pytest.TempPathFactory) -> tuple[bytes, bytes, int]:
    """(old bytes, new bytes, number of counted steps in a full run)."""
    work = tmp_path_factory.mktemp("versions")
    path = work / NAME
    big_rollout(path)
    old = path.read_bytes()
    child = run_child(path, kill_at=0)
    out, _ = child.communicate(timeout=60)
    assert child.returncode == 0
    steps = int(out.split()[-1])
    new = path.read_bytes()
    (work / "check.jsonl").write_bytes(old)
    consume_rollout(work / "check.jsonl", IDS)
    assert new == (work / "check.jsonl").read_bytes() != old
    return old, new, steps


def assert_old_or_new(directory: Path, old: bytes, new: bytes) -> None:
    data = (directory / NAME).read_bytes()
    assert data in (old, new), "partial or mixed rollout after SIGKILL"
    assert [p.name for p in directory.glob("rollout-*.jsonl")] == [NAME]


def test_the_child_counts_enough_steps_to_kill_it_mid_copy(
    versions: tuple[bytes, bytes, int],
) -> None:
    assert versions[2] > 20


@pytest.mark.parametrize("run", range(8))
def test_a_kill_at_any_file_system_step_leaves_the_old_or_the_new_file(
    tmp_path: Path, versions: tuple[bytes, bytes, int], run: int
) -> None:
    old, new, steps = versions
    rng = random.Random(run)
    # Always cover the first and last steps (before any write; between rename and dir fsync).
    kill_at = {0: 1, 1: steps, 2: steps - 1}.get(run, rng.randint(1, steps))
    (tmp_path / NAME).write_bytes(old)
    child = run_child(tmp_path / NAME, kill_at)
    child.communicate(timeout=60)
    assert child.returncode == -signal.SIGKILL
    assert_old_or_new(tmp_path, old, new)
    # A later consume finishes the job from whatever was left, and sweeps the dead temp file.
    consume_rollout(tmp_path / NAME, IDS)
    assert (tmp_path / NAME).read_bytes() == new
    assert [p.name for p in tmp_path.iterdir()] == [NAME]  # the killed run's temp is gone


@pytest.mark.parametrize("run", range(4))
def test_an_external_kill_while_consuming_leaves_the_old_or_the_new_file(
    tmp_path: Path, versions: tuple[bytes, bytes, int], run: int
) -> None:
    old, new, _ = versions
    (tmp_path / NAME).write_bytes(old)
    child = run_child(tmp_path / NAME, kill_at=0)
    assert child.stdout is not None
    assert child.stdout.readline() == "start\n"
    child.send_signal(signal.SIGKILL)
    child.communicate(timeout=60)
    assert_old_or_new(tmp_path, old, new)
