"""`process.exited`: woken by the exit itself (a pidfd) rather than by its poll, and still right
where no pidfd can be had."""

from __future__ import annotations

import asyncio
import os
import sys

import pytest

from plexum_openai_provider import process


async def _child(code: int) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable, "-c", f"import sys; sys.stdin.read(); sys.exit({code})",
        stdin=asyncio.subprocess.PIPE, start_new_session=True,
    )  # fmt: skip


@pytest.mark.skipif(not hasattr(os, "pidfd_open"), reason="pidfd_open is Linux >= 5.3")
async def test_exited_wakes_at_the_exit_not_at_the_next_poll(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(process, "EXIT_POLL_S", 3600.0)  # a poll would outlast the test's timeout
    proc = await _child(3)
    waiter = asyncio.create_task(process.exited(proc))
    await asyncio.sleep(0)
    assert not waiter.done()
    assert proc.stdin is not None
    proc.stdin.close()
    assert await asyncio.wait_for(waiter, 30) == 3
    await proc.wait()


async def test_exited_polls_where_there_is_no_pidfd(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delattr(os, "pidfd_open", raising=False)
    monkeypatch.setattr(process, "EXIT_POLL_S", 0.01)
    proc = await _child(5)
    assert proc.stdin is not None
    proc.stdin.close()
    assert await asyncio.wait_for(process.exited(proc), 30) == 5
    await proc.wait()


async def test_a_cancelled_wait_leaves_no_pidfd_open() -> None:
    proc = await _child(0)
    before = set(os.listdir("/proc/self/fd"))
    waiter = asyncio.create_task(process.exited(proc))
    await asyncio.sleep(0.05)
    waiter.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiter
    await asyncio.sleep(0)  # the pidfd closes in the future's done-callback
    assert set(os.listdir("/proc/self/fd")) <= before
    assert proc.stdin is not None
    proc.stdin.close()
    assert await asyncio.wait_for(process.exited(proc), 30) == 0
    await proc.wait()
