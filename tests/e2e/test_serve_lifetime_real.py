"""`serve` on the REAL codex, stopped the hard ways mid-turn while the model's shell command runs:
SIGKILL (codex dies with serve; the next serve ends the shell command before it reads a line) and
SIGHUP (handled like SIGTERM: the turn ends `cancelled`, nothing of it runs on, the session file
is whole and no temp file of the store is left)."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import time
from pathlib import Path
from typing import Any

import pytest

from fake_codex.testing.fakes import RealCodex
from plexum_openai_provider.daemon.client import PluginConnection, serve_argv
from plexum_openai_provider.owners import OWNER_ENV

from ..protocol_schema import SchemaCheck

pytestmark = pytest.mark.e2e
AGENT = "agent-life"
# The command writes `started`, then would write `finished` 20 s later, unless it is ended.
SHELL = "touch started; sleep 20; touch finished"


@pytest.fixture(params=["0.169.0"])
def real_codex_version(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def owned_by(pid: int) -> list[int]:
    """Live processes whose owner marker names `pid`."""
    key = f"{OWNER_ENV}={pid}:".encode()
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/environ", "rb") as f:
                if not any(e.startswith(key) for e in f.read().split(b"\0")):
                    continue
            with open(f"/proc/{entry}/stat", "rb") as f:
                if f.read().rsplit(b")", 1)[1].split()[0] in (b"Z", b"X"):
                    continue
        except OSError:
            continue
        found.append(int(entry))
    return found


def wait_until(condition: Any, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def config(real_codex: RealCodex, tmp_path: Path) -> Path:
    path = tmp_path / "config.json"
    path.write_text(
        json.dumps(
            {
                "binary": str(real_codex.binary),
                "codex_home": str(real_codex.home),
                "extra_args": real_codex.config_args,
                "socket_dir": str(tmp_path / "sock"),
                "idle_timeout_s": 60,
                "turn_timeout_s": 90,
            }
        )
    )
    return path


async def start_turn_running_the_shell(
    real_codex: RealCodex, tmp_path: Path, check: SchemaCheck
) -> tuple[PluginConnection, Path, Any]:
    shell = {
        "type": "function_call",
        "name": "exec_command",
        "arguments": {"cmd": SHELL},
        "call_id": "call_long",
    }
    done = {"output": [{"type": "message", "text": "done"}]}
    real_codex.write_scenario([{"requests": [{"output": [shell]}, done]}])
    workspace = tmp_path / "ws"
    workspace.mkdir()
    conn = await PluginConnection.start(serve_argv(config(real_codex, tmp_path)), observe=check)
    await conn.request(
        "initialize", {"protocol_version": "1", "host": {"name": "t", "version": "0"}}
    )
    params = {
        "turn_id": "t-long",
        "agent": {"id": AGENT, "workspace": str(workspace)},
        "session_id": "s1",
        "input": "run it",
    }
    running = asyncio.ensure_future(conn.turn(params))
    async with asyncio.timeout(60):
        while not (workspace / "started").exists():
            assert not running.done(), running.result()
            await asyncio.sleep(0.05)
    return conn, workspace, running


async def test_serve_killed_mid_command_leaves_nothing_running_once_a_new_serve_starts(
    real_codex: RealCodex, tmp_path: Path
) -> None:
    check = SchemaCheck()
    conn, workspace, running = await start_turn_running_the_shell(real_codex, tmp_path, check)
    serve_pid = conn.proc.pid
    children = owned_by(serve_pid)
    assert children, "no process carries the serve's marker"
    conn.proc.kill()
    await conn.proc.wait()
    running.cancel()
    # codex itself: the parent-death signal, at once.
    direct = [p for p in children if _ppid(p) in (serve_pid, None)]
    assert wait_until(lambda: not any(_running(p) for p in direct), 5), direct
    # The rest (the model's shell command): ended by the next serve before it answers anything.
    fresh = await PluginConnection.start(serve_argv(tmp_path / "config.json"), observe=check)
    try:
        await fresh.request(
            "initialize", {"protocol_version": "1", "host": {"name": "t", "version": "0"}}
        )
        assert wait_until(lambda: owned_by(serve_pid) == [], 5), owned_by(serve_pid)
    finally:
        assert await fresh.close() == 0
        await conn.close()
    assert not (workspace / "finished").exists()
    assert check.failures == [], check.failures


async def test_sighup_mid_command_ends_the_turn_like_sigterm_and_leaves_the_store_whole(
    real_codex: RealCodex, tmp_path: Path
) -> None:
    check = SchemaCheck()
    conn, workspace, running = await start_turn_running_the_shell(real_codex, tmp_path, check)
    serve_pid = conn.proc.pid
    conn.proc.send_signal(signal.SIGHUP)
    assert await asyncio.wait_for(conn.proc.wait(), 10) == 0
    outcome = await asyncio.wait_for(running, 10)
    assert outcome.terminal["type"] == "error" and outcome.terminal["code"] == "cancelled"
    assert wait_until(lambda: owned_by(serve_pid) == [], 5), owned_by(serve_pid)
    assert not (workspace / "finished").exists()
    store = json.loads((workspace / ".plexum-codex-session").read_text())
    assert store["threads"]["s1"]["thread_id"]
    assert [p.name for p in workspace.iterdir() if p.name.endswith(".tmp")] == []
    await conn.close()
    assert check.failures == [], check.failures


def _stat(pid: int) -> list[bytes] | None:
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            return f.read().rsplit(b")", 1)[1].split()
    except OSError:
        return None


def _running(pid: int) -> bool:
    fields = _stat(pid)
    return fields is not None and fields[0] not in (b"Z", b"X")


def _ppid(pid: int) -> int | None:
    fields = _stat(pid)
    return int(fields[1]) if fields is not None else None
