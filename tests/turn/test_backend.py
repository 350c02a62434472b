"""The backends' seam: `off_loop` runs a turn's blocking file work in a thread, and cancelling the
turn never leaves that work running behind its back (the workspace lock must outlive the write); and
usage → `message_end`, written once for both backends."""

from __future__ import annotations

import asyncio
import threading

import pytest

from plexum_openai_provider.events import Usage
from plexum_openai_provider.turn.backend import blocking_work_on_loop, message_end, off_loop


async def test_the_loop_keeps_running_while_the_work_blocks_and_the_result_comes_back() -> None:
    release = threading.Event()
    ticks = 0

    def blocking() -> str:
        assert release.wait(10)
        return "written"

    async def ticker() -> None:
        nonlocal ticks
        while not release.is_set():
            ticks += 1
            if ticks == 3:
                release.set()  # only reachable if the loop ran while `blocking` held its thread
            await asyncio.sleep(0)

    result, _ = await asyncio.gather(off_loop(blocking), ticker())
    assert result == "written" and ticks >= 3


async def test_a_cancelled_caller_waits_for_the_work_to_finish_then_is_cancelled() -> None:
    started, release = threading.Event(), threading.Event()
    finished: list[bool] = []

    def blocking() -> None:
        started.set()
        assert release.wait(10)
        finished.append(True)

    task = asyncio.create_task(off_loop(blocking))
    await asyncio.to_thread(started.wait, 10)
    task.cancel()
    await asyncio.sleep(0)
    assert not task.done()  # still waiting for the thread, not abandoned
    release.set()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert finished == [True]


async def test_an_exception_in_the_work_reaches_the_caller() -> None:
    def failing() -> None:
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        await off_loop(failing)


async def test_after_blocking_work_on_loop_the_work_runs_on_the_loop_in_that_context_only() -> None:
    async def where() -> int:
        return await off_loop(threading.get_ident)

    async def one_turn_process() -> tuple[int, int]:
        blocking_work_on_loop()
        # a task started from here inherits the setting (a background session save does)
        return await off_loop(threading.get_ident), await asyncio.ensure_future(where())

    loop_thread = threading.get_ident()
    assert await asyncio.create_task(one_turn_process()) == (loop_thread, loop_thread)
    assert await asyncio.create_task(where()) != loop_thread  # other contexts: a worker as ever


def test_message_end_reports_codexs_turn_usage_when_it_has_one_else_the_threads_growth() -> None:
    before, total = Usage(input_tokens=10, output_tokens=2), Usage(input_tokens=25, output_tokens=5)
    grown = message_end("t", total, before=before)
    assert grown.usage == Usage(input_tokens=15, output_tokens=3) and grown.thread_usage == total
    turn = Usage(input_tokens=7, output_tokens=1)
    assert message_end("t", total, before=before, turn_usage=turn).usage == turn
