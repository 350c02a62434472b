"""The fake's writer lock: codex's file, flock and texts per version (real captures, §12)."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
from pathlib import Path

import pytest

from fake_codex.core import writer_lock

THREAD = "01a24876-6e8c-7680-93ee-98a687165f97"
HOLD = (
    "import sys; from pathlib import Path; from fake_codex.core import writer_lock as w;"
    "lock = w.acquire(Path(sys.argv[1]), sys.argv[2], 171); print('ready', flush=True);"
    "sys.stdin.read(); lock.release()"
)


def test_0135_has_no_writer_lock(tmp_path: Path) -> None:
    assert writer_lock.acquire(tmp_path, THREAD, 135) is None
    assert not (tmp_path / "thread-writer-locks").exists()


@pytest.mark.parametrize("family", [150, 169, 171])
def test_a_held_thread_refuses_a_second_process_until_released(tmp_path: Path, family: int) -> None:
    root = str(Path(writer_lock.__file__).parent.parent.parent)
    env = {**os.environ, "PYTHONPATH": root}
    with subprocess.Popen(
        [sys.executable, "-c", HOLD, str(tmp_path), THREAD],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    ) as proc:
        assert proc.stdout is not None and proc.stdout.readline() == "ready\n"
        path = tmp_path / "thread-writer-locks" / f"{THREAD}.lock"
        assert path.exists()
        with pytest.raises(writer_lock.WriterConflict) as caught:
            writer_lock.acquire(tmp_path, THREAD, family)
        assert str(caught.value) == f"thread {THREAD} already has an active writer"
        assert proc.stdin is not None
        proc.stdin.close()
        assert proc.wait(timeout=10) == 0
    assert not path.exists()  # released like codex: the file goes with the lock
    lock = writer_lock.acquire(tmp_path, THREAD, family)
    assert lock is not None and path.exists()
    lock.release()
    lock.release()
    assert not path.exists()
    assert (tmp_path / "thread-writer-locks" / ".coordination.lock").exists()


def test_a_stale_lock_file_is_taken_over(tmp_path: Path) -> None:
    folder = tmp_path / "thread-writer-locks"
    folder.mkdir()
    (folder / f"{THREAD}.lock").touch()
    lock = writer_lock.acquire(tmp_path, THREAD, 150)
    assert lock is not None
    lock.release()


def test_the_refusal_texts_are_the_real_ones() -> None:
    # Captured from real 0.150.1, 0.169.0 and 0.171.0 (the same on all three; timestamps vary).
    now = dt.datetime(2026, 12, 5, 23, 7, 31, 698584, tzinfo=dt.UTC)
    assert writer_lock.exec_stderr_lines(THREAD, now) == [
        "2026-12-05T23:07:31.698584Z ERROR codex_core::session::session: failed to initialize "
        f"thread persistence: thread-store conflict: thread {THREAD} already has an active writer",
        "2026-12-05T23:07:31.698584Z ERROR codex_core::session: Failed to create session: "
        f"thread-store conflict: thread {THREAD} already has an active writer",
        f"Error: thread/resume: thread/resume failed: thread {THREAD} already has an active "
        "writer (code -32600)",
    ]
    assert writer_lock.EXEC_EXIT_CODE == 1
    assert writer_lock.APP_SERVER_ERROR_CODE == -32600
    assert [writer_lock.has_writer_lock(f) for f in (135, 150, 169, 171)] == [
        False,
        True,
        True,
        True,
    ]


def test_unsubscribe_unloads_only_from_0169_after_the_configured_delay() -> None:
    delay = writer_lock.unsubscribe_unload_delay
    assert [delay(f, 0) for f in (135, 150)] == [None, None]
    assert [delay(f, None) for f in (169, 171)] == [60.0, 60.0]
    assert delay(171, 0) == 0.0 and delay(169, 2.5) == 2.5
