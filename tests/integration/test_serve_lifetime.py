"""Children never outlive `serve`: killed with SIGKILL, its codex dies with it (Linux parent-death
signal) and what codex left (a shell command, a grandchild) is ended by the next `serve`, found by
the marker in its environment; a live `serve`'s children are never touched."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from pathlib import Path

from plexum_openai_provider.owners import OWNER_ENV

from .conftest import group_alive
from .serve_support import ServeWorld, initialized
from .test_serve import hangs, turn_params


def alive(pid: int) -> bool:
    """True while `pid` runs (a zombie waiting for init counts as gone)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            return f.read().rsplit(b")", 1)[1].split()[0] not in (b"Z", b"X")
    except OSError:
        return False


def gone_within(pid: int, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while alive(pid):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


async def test_serve_killed_with_sigkill_takes_codex_along_and_the_next_serve_ends_the_rest(
    serve_world: ServeWorld,
) -> None:
    serve_world.fake.scenario([hangs(grandchild=True), hangs()])
    dead = await serve_world.connection()
    await initialized(dead)
    queue = dead.subscribe("t-orphan")
    running = asyncio.ensure_future(dead.turn(turn_params(serve_world, "t-orphan")))
    await asyncio.wait_for(queue.get(), 30)
    record = serve_world.fake.invocations()[0]
    grandchild = int(record.extra["grandchild_pid"])
    assert record.env.get(OWNER_ENV, "").startswith(f"{dead.proc.pid}:")

    dead.proc.kill()
    await dead.proc.wait()
    running.cancel()
    # The parent-death signal: codex goes at once, no new serve needed.
    assert gone_within(record.pid, 5), "codex outlived the serve that started it"
    # What codex started is beyond that signal's reach (not asserted alive here: a `serve`
    # started meanwhile by a parallel test would rightly end it already).

    # A live serve with a running turn of its own: the next serve must leave it alone.
    live = await serve_world.connection()
    await initialized(live)
    live_queue = live.subscribe("t-live")
    live_turn = asyncio.ensure_future(
        live.turn(turn_params(serve_world, "t-live", session_id="s2"))
    )
    await asyncio.wait_for(live_queue.get(), 30)
    live_codex = serve_world.fake.invocations()[1]

    fresh = await serve_world.connection()
    try:
        await initialized(fresh)  # the sweep runs before serve reads its first line
        assert gone_within(grandchild, 5), "the next serve did not end the dead serve's leftovers"
        assert not group_alive(record.pgid)
        assert alive(live_codex.pid), "a live serve's codex was killed"
    finally:
        assert await fresh.close() == 0
        assert await live.close() == 0
        live_turn.cancel()
    assert not group_alive(live_codex.pgid)
    await dead.close()


def test_an_owner_marker_names_this_process_until_it_is_gone() -> None:
    from plexum_openai_provider import owners

    pid, start, n = owners.new_marker().split(":")
    assert int(pid) == os.getpid() and int(start) > 0 and int(n) > 0
    assert owners.new_marker() != owners.new_marker()
    assert owners.owner_alive(f"{pid}:{start}:{n}")
    assert not owners.owner_alive(f"{pid}:{int(start) + 1}:1")  # a reused pid
    assert not owners.owner_alive("999999999:1:1")
    assert not owners.owner_alive("garbage")


async def test_reaping_a_child_ends_what_it_started_outside_its_group(tmp_path: Path) -> None:
    # Like real codex, which runs the model's command in a session of its own: the group kill
    # misses it, the marker it inherited does not.
    from plexum_openai_provider import owners, process

    pidfile = tmp_path / "escaped.pid"
    script = f"setsid sleep 60 & echo $! > {pidfile}; exec sleep 60"
    proc = await process.spawn(["sh", "-c", script], cwd=tmp_path, env=dict(os.environ))
    async with asyncio.timeout(10):
        while not pidfile.exists() or not pidfile.read_text().strip():
            await asyncio.sleep(0.02)
    escaped = int(pidfile.read_text())
    assert alive(escaped)
    await process.terminate_group(proc, grace_s=1)
    assert gone_within(escaped, 5), "the escaped command outlived its reaped parent"
    assert signal.SIGKILL == owners.PARENT_DEATH_SIGNAL
