"""codex's writer lock as the provider takes it: real files, real flocks, a real second process."""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from plexum_openai_provider.ownership import busy, holders, rewrite_guard, writer_lock
from plexum_openai_provider.ownership.writer_lock import Busy, WriterLock

THREAD = "01a24876-6e8c-7680-93ee-98a687165f97"

# A process that takes the lock the way codex does (coordination, then the thread's file),
# says "ready", and lets go (close + unlink under coordination) when its stdin closes.
HOLDER = r"""
import fcntl, os, sys
folder, thread = sys.argv[1], sys.argv[2]
os.makedirs(folder, exist_ok=True)
c = os.open(os.path.join(folder, ".coordination.lock"), os.O_RDWR | os.O_CREAT)
fcntl.flock(c, fcntl.LOCK_EX)
path = os.path.join(folder, thread + ".lock")
fd = os.open(path, os.O_RDWR | os.O_CREAT)
fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
os.close(c)
print("ready", flush=True)
sys.stdin.read()
c = os.open(os.path.join(folder, ".coordination.lock"), os.O_RDWR | os.O_CREAT)
fcntl.flock(c, fcntl.LOCK_EX)
os.close(fd)
os.unlink(path)
os.close(c)
"""


@contextlib.contextmanager
def running(*args: str) -> Iterator[subprocess.Popen[str]]:
    """A python process running `args`, once it has printed "ready"; killed and reaped after."""
    with subprocess.Popen(
        [sys.executable, "-c", *args], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    ) as proc:
        try:
            assert proc.stdout is not None
            assert proc.stdout.readline() == "ready\n"  # blocks until it is ready (or died)
            yield proc
        finally:
            if proc.poll() is None:
                proc.kill()
            proc.wait(timeout=10)


@pytest.fixture
def holder(tmp_path: Path) -> Iterator[subprocess.Popen[str]]:
    with running(HOLDER, str(tmp_path / "thread-writer-locks"), THREAD) as proc:
        yield proc


def _lines_for(path: Path) -> list[str]:
    st = path.stat()
    key = f"{os.major(st.st_dev):02x}:{os.minor(st.st_dev):02x}:{st.st_ino}"
    return [line for line in Path("/proc/locks").read_text().splitlines() if key in line]


def test_lock_path_refuses_an_id_that_could_leave_the_folder(tmp_path: Path) -> None:
    assert writer_lock.lock_path(tmp_path, THREAD) == (
        tmp_path / "thread-writer-locks" / f"{THREAD}.lock"
    )
    for bad in ("../x", ".coordination", "a/b", ""):
        with pytest.raises(ValueError):
            writer_lock.lock_path(tmp_path, bad)


async def test_a_free_thread_is_taken_with_an_exclusive_flock_and_given_back_like_codex(
    tmp_path: Path,
) -> None:
    got = await writer_lock.take(tmp_path, THREAD, wait_s=1)
    assert isinstance(got, WriterLock)
    path = writer_lock.lock_path(tmp_path, THREAD)
    lines = _lines_for(path)
    assert len(lines) == 1
    assert " FLOCK " in lines[0] and " WRITE " in lines[0] and f" {os.getpid()} " in lines[0]
    # The coordination lock is not kept: codex must be able to take it and see the thread busy.
    assert _lines_for(tmp_path / "thread-writer-locks" / ".coordination.lock") == []
    got.release()
    assert not path.exists()
    got.release()  # idempotent


async def test_a_thread_held_by_another_process_is_busy_and_names_that_process(
    tmp_path: Path, holder: subprocess.Popen[str]
) -> None:
    got = await writer_lock.take(tmp_path, THREAD, wait_s=0.1)
    assert isinstance(got, Busy)
    assert got.thread_id == THREAD
    assert [h.pid for h in got.holders] == [holder.pid]
    assert got.holders[0].how == "flock"
    assert f"pid {holder.pid}" in got.describe() and "-c" in got.describe()


async def test_take_waits_for_the_holder_to_let_go(
    tmp_path: Path, holder: subprocess.Popen[str]
) -> None:
    waiter = asyncio.create_task(writer_lock.take(tmp_path, THREAD, wait_s=20))
    await asyncio.sleep(0)  # the waiter runs its first attempt and finds the thread busy
    assert not waiter.done()
    assert holder.stdin is not None
    holder.stdin.close()  # the holder releases
    got = await asyncio.wait_for(waiter, 20)
    assert isinstance(got, WriterLock)
    got.release()


async def test_a_lock_file_nobody_holds_is_stale_and_taken_over(tmp_path: Path) -> None:
    path = writer_lock.lock_path(tmp_path, THREAD)
    path.parent.mkdir()
    path.touch()  # what a killed codex leaves behind
    states = list(writer_lock.scan(tmp_path))
    assert [(s.thread_id, s.held, s.stale) for s in states] == [(THREAD, False, True)]
    got = await writer_lock.take(tmp_path, THREAD, wait_s=0.1)
    assert isinstance(got, WriterLock)
    got.release()


def test_scan_reports_a_held_lock_with_its_holder_and_skips_other_files(
    tmp_path: Path, holder: subprocess.Popen[str]
) -> None:
    (tmp_path / "thread-writer-locks" / "notes.txt").write_text("x")
    states = list(writer_lock.scan(tmp_path))
    assert [s.thread_id for s in states] == [THREAD]
    assert states[0].held is True and not states[0].stale
    assert [h.pid for h in states[0].holders] == [holder.pid]


def test_a_posix_lock_does_not_hold_the_thread_for_codex(tmp_path: Path) -> None:
    """codex uses flock; an fcntl lock on the same file does not stop it (nor `take`)."""
    path = writer_lock.lock_path(tmp_path, THREAD)
    path.parent.mkdir()
    with running(
        "import fcntl,os,sys; fd=os.open(sys.argv[1],os.O_RDWR|os.O_CREAT);"
        "fcntl.lockf(fd,fcntl.LOCK_EX); print('ready',flush=True); sys.stdin.read()",
        str(path),
    ):
        assert [h.how for h in holders.lock_holders(path)] == ["posix"]
        got = writer_lock.try_take(tmp_path, THREAD)
        assert isinstance(got, WriterLock)
        got.release()


def test_opened_by_finds_another_process_with_the_file_open(tmp_path: Path) -> None:
    target = tmp_path / "rollout.jsonl"
    target.write_text("{}\n")
    with running(
        "import sys; f=open(sys.argv[1],'a'); print('ready',flush=True); sys.stdin.read()",
        str(target),
    ) as proc:
        found = holders.opened_by(target, exclude=[os.getpid()])
        assert [(h.pid, h.how) for h in found] == [(proc.pid, "open")]
        assert found[0].command is not None and "sys.stdin.read()" in found[0].command
        assert holders.opened_by(target, exclude=[os.getpid(), proc.pid]) == ()


def test_proc_locks_lines_are_parsed_and_waiters_and_garbage_skipped(tmp_path: Path) -> None:
    proc = tmp_path / "proc"
    (proc / "77").mkdir(parents=True)
    (proc / "77" / "cmdline").write_bytes(b"codex\0exec\0resume\0")
    target = tmp_path / "f.lock"
    target.touch()
    st = target.stat()
    key = f"{os.major(st.st_dev):02x}:{os.minor(st.st_dev):02x}:{st.st_ino}"
    (proc / "locks").write_text(
        f"1: FLOCK  ADVISORY  WRITE 77 {key} 0 EOF\n"
        f"1: -> FLOCK  ADVISORY  WRITE 99 {key} 0 EOF\n"
        f"2: OFDLCK ADVISORY  WRITE -1 {key} 0 EOF\n"
        "3: POSIX  ADVISORY  WRITE 12 zz:00:1 0 EOF\n"
        "garbage\n"
    )
    found = holders.lock_holders(target, proc=proc)
    assert [(h.pid, h.command, h.how) for h in found] == [
        (77, "codex exec resume", "flock"),
        (None, None, "ofd"),
    ]
    assert holders.describe(found) == (
        "another process (the OS does not say which), pid 77 (codex exec resume)"
    )
    assert holders.describe(()) == "another process (the OS does not say which)"


def test_coordination_held_by_someone_else_makes_take_busy_after_the_deadline(
    tmp_path: Path,
) -> None:
    folder = tmp_path / "thread-writer-locks"
    folder.mkdir()
    fd = os.open(folder / ".coordination.lock", os.O_RDWR | os.O_CREAT)
    # a separate open file description: this process's own flock counts as someone else's
    fcntl.flock(fd, fcntl.LOCK_EX)
    try:
        assert writer_lock.try_take(tmp_path, THREAD) is None
        got = asyncio.run(writer_lock.take(tmp_path, THREAD, wait_s=0.05))
        assert isinstance(got, Busy)
        assert [h.pid for h in got.holders] == [os.getpid()]
    finally:
        os.close(fd)


async def test_rewrite_guard_holds_the_lock_when_nobody_writes_the_rollout(tmp_path: Path) -> None:
    rollout = tmp_path / "rollout.jsonl"
    rollout.write_text("{}\n")
    with running(
        "import sys; f=open(sys.argv[1]); print('ready',flush=True); sys.stdin.read()",
        str(rollout),
    ):  # a reader (a `tail`, an editor) does not count: it cannot lose our lines
        got = await rewrite_guard.hold_for_rewrite(tmp_path, THREAD, rollout, wait_s=1)
    assert isinstance(got, WriterLock)
    assert _lines_for(writer_lock.lock_path(tmp_path, THREAD))
    got.release()


async def test_rewrite_guard_refuses_while_another_process_appends_to_the_rollout(
    tmp_path: Path,
) -> None:
    """codex 0.135 takes no lock: its open append handle is the sign it writes the thread."""
    rollout = tmp_path / "rollout.jsonl"
    rollout.write_text("{}\n")
    with running(
        "import sys; f=open(sys.argv[1],'a'); print('ready',flush=True); sys.stdin.read()",
        str(rollout),
    ) as proc:
        got = await rewrite_guard.hold_for_rewrite(tmp_path, THREAD, rollout, wait_s=0.1)
        assert isinstance(got, rewrite_guard.Refusal)
        assert got.how == "open" and [h.pid for h in got.holders] == [proc.pid]
        assert f"pid {proc.pid}" in got.describe()
    # the lock it took while waiting was given back
    assert not writer_lock.lock_path(tmp_path, THREAD).exists()


async def test_rewrite_guard_waits_for_the_writer_to_close_the_rollout(tmp_path: Path) -> None:
    rollout = tmp_path / "rollout.jsonl"
    rollout.write_text("{}\n")
    with running(
        "import sys; f=open(sys.argv[1],'a'); print('ready',flush=True); sys.stdin.read()",
        str(rollout),
    ) as proc:
        waiter = asyncio.create_task(
            rewrite_guard.hold_for_rewrite(tmp_path, THREAD, rollout, wait_s=20)
        )
        await asyncio.sleep(0)
        assert not waiter.done()
        assert proc.stdin is not None
        proc.stdin.close()  # the writer exits
        got = await asyncio.wait_for(waiter, 20)
    assert isinstance(got, WriterLock)
    got.release()


async def test_rewrite_guard_refuses_a_thread_whose_writer_lock_is_held(
    tmp_path: Path, holder: subprocess.Popen[str]
) -> None:
    rollout = tmp_path / "rollout.jsonl"
    rollout.write_text("{}\n")
    got = await rewrite_guard.hold_for_rewrite(tmp_path, THREAD, rollout, wait_s=0.1)
    assert isinstance(got, rewrite_guard.Refusal)
    assert got.how == "writer-lock" and [h.pid for h in got.holders] == [holder.pid]


def test_held_by_names_the_lock_holder_and_is_none_once_free(
    tmp_path: Path, holder: subprocess.Popen[str]
) -> None:
    assert writer_lock.is_held(tmp_path, THREAD) is True
    found = busy.held_by(tmp_path, THREAD, None)
    assert found is not None and [h.pid for h in found] == [holder.pid]
    assert holder.stdin is not None
    holder.stdin.close()
    holder.wait(timeout=10)
    assert busy.held_by(tmp_path, THREAD, None) is None
    assert writer_lock.is_held(tmp_path, THREAD) is False


def test_without_a_lock_folder_a_writer_of_the_rollout_holds_the_thread(tmp_path: Path) -> None:
    """A CODEX_HOME where only 0.135 ran: no lock folder, so the open append handle tells."""
    rollout = tmp_path / "rollout.jsonl"
    rollout.write_text("{}\n")
    assert busy.held_by(tmp_path, THREAD, rollout) is None
    with running(
        "import sys; f=open(sys.argv[1],'a'); print('ready',flush=True); sys.stdin.read()",
        str(rollout),
    ) as proc:
        found = busy.held_by(tmp_path, THREAD, rollout)
        assert found is not None and [h.pid for h in found] == [proc.pid]
        assert not (tmp_path / "thread-writer-locks").exists()  # asking created nothing


async def test_wait_free_returns_none_when_the_holder_lets_go_within_the_wait(
    tmp_path: Path, holder: subprocess.Popen[str]
) -> None:
    assert await busy.wait_free(tmp_path, THREAD, None, wait_s=0) is not None
    waiter = asyncio.create_task(busy.wait_free(tmp_path, THREAD, None, wait_s=20))
    await asyncio.sleep(0)
    assert holder.stdin is not None
    holder.stdin.close()
    assert await asyncio.wait_for(waiter, 20) is None


def test_busy_message_names_the_holder_and_what_to_do() -> None:
    text = busy.busy_message(THREAD, "s1", [holders.Holder(42, "codex exec resume", "flock")])
    assert f"codex thread {THREAD} of session 's1' is in use by pid 42 (codex exec resume)" in text
    assert "Nothing was changed" in text and "busy_wait_s" in text
