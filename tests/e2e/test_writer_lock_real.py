"""The provider's writer lock against the REAL codex, every pinned version: codex ≥ 0.150 sees the
lock the provider takes (and refuses the thread as it refuses another codex), the provider sees
and names a running codex's lock; 0.135 has none, and the open rollout is all there is to see."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pytest

from conformance.codex_run import run_codex
from conformance.installs import VERSIONS
from fake_codex.testing.fakes import RealCodex
from fake_codex.testing.real_env import exec_argv, resume_argv
from plexum_openai_provider.codex.rollout import locate_rollout
from plexum_openai_provider.ownership import holders, writer_lock
from plexum_openai_provider.ownership.writer_lock import Busy, WriterLock

pytestmark = pytest.mark.e2e


def message(text: str) -> dict[str, object]:
    return {"output": [{"type": "message", "text": text}]}


async def new_thread(real: RealCodex, cwd: Path) -> str:
    argv = exec_argv(real.binary, real.server.base_url, real.version)
    first = await run_codex(argv, env=real.env, cwd=cwd, stdin=b"one")
    assert first.returncode == 0, first.stderr
    return first.thread_id


@pytest.mark.parametrize("real_codex_version", VERSIONS)
async def test_codex_refuses_a_thread_whose_lock_the_provider_holds(
    real_codex: RealCodex, tmp_path: Path
) -> None:
    real_codex.write_scenario([{"requests": [message("one")]}, {"requests": [message("two")]}])
    thread = await new_thread(real_codex, tmp_path)
    argv = resume_argv(real_codex.binary, real_codex.server.base_url, real_codex.version, thread)
    got = await writer_lock.take(real_codex.home, thread, wait_s=1)
    assert isinstance(got, WriterLock)
    try:
        second = await run_codex(argv, env=real_codex.env, cwd=tmp_path, stdin=b"two")
    finally:
        got.release()
    if real_codex.version == "0.135.0":  # no writer lock: it goes ahead
        assert second.returncode == 0, second.stderr
        assert second.agent_messages == ["two"]
        return
    assert second.returncode == 1
    assert second.events == []
    assert second.stderr.strip().splitlines()[-1] == (
        f"Error: thread/resume: thread/resume failed: thread {thread} already has an active "
        "writer (code -32600)"
    )


@pytest.mark.parametrize("real_codex_version", VERSIONS)
async def test_the_provider_sees_and_names_a_running_codex_on_the_thread(
    real_codex: RealCodex, tmp_path: Path
) -> None:
    # The second turn's reply is held at a gate until the checks are done: codex stays mid-turn.
    held = {**message("slow"), "gate": "held"}
    real_codex.write_scenario([{"requests": [message("one")]}, {"requests": [held]}])
    gate = real_codex.gate("held")
    thread = await new_thread(real_codex, tmp_path)
    argv = resume_argv(real_codex.binary, real_codex.server.base_url, real_codex.version, thread)
    proc = await asyncio.create_subprocess_exec(
        *argv,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
        env=real_codex.env,
        cwd=tmp_path,
    )
    try:
        assert proc.stdin is not None
        proc.stdin.write(b"two")
        proc.stdin.close()
        await gate.reached(timeout=30)  # codex is mid-turn now
        got = await writer_lock.take(real_codex.home, thread, wait_s=0.2)
        rollout = locate_rollout(real_codex.home, thread)
        assert rollout is not None
        open_by = holders.opened_by(rollout, exclude=[os.getpid()])
        assert [h.pid for h in open_by] == [proc.pid]  # every version keeps it open mid-turn
        if real_codex.version == "0.135.0":
            assert isinstance(got, WriterLock)  # nothing to see: 0.135 takes no lock
            got.release()
        else:
            assert isinstance(got, Busy)
            assert [(h.pid, h.how) for h in got.holders] == [(proc.pid, "flock")]
            assert got.holders[0].command is not None
            assert " exec resume " in got.holders[0].command
        gate.release()
        assert await asyncio.wait_for(proc.wait(), 60) == 0
    finally:
        gate.release()
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    # codex gave the lock back: the provider can take it now (and the file went with it).
    after = await writer_lock.take(real_codex.home, thread, wait_s=1)
    assert isinstance(after, WriterLock)
    after.release()
    assert list(writer_lock.scan(real_codex.home)) == []
