"""The workspace lock is fair: under a steady stream of turns, each retaking the lock the moment
it lets go, a consume waiting for it gets it — in one process (a queue of waiters) and across
processes (the waiter at the head holds a turnstile that newcomers must pass)."""

from __future__ import annotations

import asyncio
import errno
import os
import sys
import textwrap
from pathlib import Path

from plexum_openai_provider.sessions import acquire_workspace_lock

HOLD_S = 0.03  # how long each "turn" holds the lock
WAIT_S = 3.0  # a consume must get the lock well within this (100 turns' worth)


async def steady_turns(workspace: Path, stop: asyncio.Event, held: asyncio.Event) -> int:
    """Turns one after the other with no gap: each retakes the lock as soon as it released it."""
    turns = 0
    while not stop.is_set():
        fd = await acquire_workspace_lock(workspace)
        held.set()
        try:
            await asyncio.sleep(HOLD_S)
        finally:
            os.close(fd)
        turns += 1
    return turns


async def test_a_consume_gets_the_lock_under_steady_turns_in_one_process(tmp_path: Path) -> None:
    stop, held = asyncio.Event(), asyncio.Event()
    turns = asyncio.ensure_future(steady_turns(tmp_path, stop, held))
    try:
        await asyncio.wait_for(held.wait(), 5)
        fd = await asyncio.wait_for(acquire_workspace_lock(tmp_path), WAIT_S)
        os.close(fd)
    finally:
        stop.set()
        assert await asyncio.wait_for(turns, 5) >= 1


CHILD = textwrap.dedent(
    """
    import asyncio, os, sys, time
    from pathlib import Path
    from plexum_openai_provider.sessions import acquire_workspace_lock

    async def main():
        end = time.monotonic() + float(sys.argv[2])
        first = True
        while time.monotonic() < end:
            fd = await acquire_workspace_lock(Path(sys.argv[1]))
            if first:
                print("holding", flush=True)
                first = False
            await asyncio.sleep(float(sys.argv[3]))
            os.close(fd)

    asyncio.run(main())
    """
)


async def test_a_consume_gets_the_lock_under_steady_turns_of_another_process(
    tmp_path: Path,
) -> None:
    child = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        CHILD,
        str(tmp_path),
        str(WAIT_S + 5),
        str(HOLD_S),
        stdout=asyncio.subprocess.PIPE,
    )
    try:
        assert child.stdout is not None
        assert await asyncio.wait_for(child.stdout.readline(), 10) == b"holding\n"
        fd = await asyncio.wait_for(acquire_workspace_lock(tmp_path), WAIT_S)
        os.close(fd)
    finally:
        child.kill()
        await child.wait()


async def test_a_symlink_planted_at_the_turnstile_is_refused_not_followed(tmp_path: Path) -> None:
    from plexum_openai_provider.sessions import QUEUE_FILE

    target = tmp_path / "planted-target"
    (tmp_path / QUEUE_FILE).symlink_to(target)
    try:
        await acquire_workspace_lock(tmp_path)
    except OSError as exc:
        assert exc.errno == errno.ELOOP
    else:
        raise AssertionError("the planted symlink was followed")
    assert not target.exists()
    # The refused waiter left no ticket behind: once the link is gone, the lock is taken at once.
    (tmp_path / QUEUE_FILE).unlink()
    fd = await asyncio.wait_for(acquire_workspace_lock(tmp_path), 1)
    os.close(fd)
    assert (tmp_path / QUEUE_FILE).stat().st_mode & 0o777 == 0o600
