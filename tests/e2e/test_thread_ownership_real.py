"""Thread ownership on the REAL codex, every pinned version (issue 18's "done when"): consume during
a foreign codex turn loses no line of it; an exec turn while a warm app-server holds the thread
gets `thread_busy` naming it, and succeeds once the idle unload gave the thread back; a warm thread
another process advanced is reloaded before its next turn, so no conversation forks."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
from collections.abc import AsyncIterator, Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from conformance.installs import VERSIONS, CodexNotInstalledError, binary
from fake_codex.responses.server import ResponsesServer
from fake_codex.testing.real_env import codex_env, provider_args, resume_argv
from plexum_openai_provider.codex.rollout import locate_rollout
from plexum_openai_provider.config import HostConfig
from plexum_openai_provider.consume import consume_blocks
from plexum_openai_provider.errors import ConsumeError
from plexum_openai_provider.events import ErrorEvent, MessageEnd, WarningEvent
from plexum_openai_provider.sessions import SessionStore
from plexum_openai_provider.turn import (
    TurnLimits,
    TurnRequest,
    close_backends,
    open_turn,
    run_turn,
)

pytestmark = pytest.mark.e2e
LIMITS = TurnLimits(kill_grace_s=1.0, post_exit_drain_s=0.5)
SESSION = "s-own"
HELD = "foreign"  # the gate the foreign turn's model reply waits at
SHELL = {
    "type": "function_call",
    "name": "exec_command",
    "arguments": {"cmd": "echo PAYLOAD_OWN"},
    "call_id": "call_own",
}


def message(text: str, gate: str | None = None) -> dict[str, Any]:
    reply: dict[str, Any] = {"output": [{"type": "message", "text": text}]}
    if gate is not None:
        reply["gate"] = gate
    return reply


def require_codex(version: str) -> Path:
    try:
        return binary(version)
    except CodexNotInstalledError as exc:
        pytest.fail(str(exc), pytrace=False)


@pytest.fixture(params=VERSIONS)
def version(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
async def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Path]:
    path = tmp_path / "codex-home"
    path.mkdir()
    for key in list(os.environ):
        if key not in ("PATH", "LANG", "TZ", "TMPDIR"):
            monkeypatch.delenv(key)
    for key, value in codex_env(path).items():
        monkeypatch.setenv(key, value)
    yield path
    await close_backends()


def config_for(version: str, home: Path, server: ResponsesServer, **keys: Any) -> HostConfig:
    return HostConfig(
        binary=str(require_codex(version)),
        codex_home=str(home),
        idle_timeout_s=30,
        turn_timeout_s=60,
        extra_args=tuple(provider_args(server.base_url, version)),
        supported_models=("codex", "gpt"),
        model_args={"gpt": "gpt-5.5"},
        **keys,
    )


async def turn(
    config: HostConfig,
    workspace: Path,
    prompt: str,
    on_waiting: Callable[[], None] | None = None,
) -> list[Any]:
    """The turn's events; `on_waiting` is called when it says it waits for the thread."""
    request = TurnRequest(prompt=prompt, workspace=workspace, session_id=SESSION, model="gpt")
    if on_waiting is None:
        return await run_turn(config, request, LIMITS)
    events: list[Any] = []
    async with open_turn(config, request, LIMITS) as running:
        async for event in running:
            events.append(event)
            if isinstance(event, WarningEvent) and "busy_wait_s" in event.message:
                on_waiting()
    return events


@contextlib.asynccontextmanager
async def foreign_turn(
    version: str, home: Path, server: ResponsesServer, thread: str, workspace: Path
) -> AsyncIterator[asyncio.subprocess.Process]:
    """A `codex exec resume` the plugin did not start, held mid-turn: its model reply waits at
    the gate `HELD` (released by the body, at the latest when it ends)."""
    argv = resume_argv(require_codex(version), server.base_url, version, thread, model="gpt-5.5")
    proc = await asyncio.create_subprocess_exec(
        *argv,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL,
        env=codex_env(home),
        cwd=workspace,
    )
    assert proc.stdin is not None and proc.stdout is not None
    proc.stdin.write(b"foreign turn")
    proc.stdin.close()
    try:
        async with asyncio.timeout(30):
            while b"turn.started" not in (line := await proc.stdout.readline()):
                assert line, "the foreign codex ended before its turn started"
        await server.gate(HELD).reached(timeout=30)
        yield proc
    finally:
        server.gate(HELD).release()
        if proc.returncode is None:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(proc.communicate(), 60)
        if proc.returncode is None:
            proc.kill()
            await proc.wait()


async def test_consume_during_a_foreign_turn_is_refused_naming_it_and_loses_no_line(
    version: str, home: Path, tmp_path: Path
) -> None:
    workspace = tmp_path / "ws"
    workspace.mkdir()
    scenario = {
        "schema_version": 1,
        "turns": [
            {"requests": [{"output": [SHELL]}, message("ran it")]},
            {"requests": [message("the foreign answer", gate=HELD)]},
        ],
    }
    async with ResponsesServer(scenario=scenario) as server:
        config = config_for(version, home, server, consume_wait_s=0.3)
        events = await turn(config, workspace, "run the shell")
        assert isinstance(events[-1], MessageEnd), events[-1]
        record = SessionStore(workspace).get(SESSION)
        assert record is not None
        async with foreign_turn(version, home, server, record.thread_id, workspace) as proc:
            with pytest.raises(ConsumeError) as refused:
                await consume_blocks(config, workspace, SESSION, ["call_own"])
            assert f"pid {proc.pid}" in str(refused.value)
            assert "left unchanged" in str(refused.value)
            # Waiting long enough, consume goes through once the foreign turn has ended (let go
            # half a second into the wait: consume reports no "waiting" to act on).
            waiting = replace(config, consume_wait_s=60)
            asyncio.get_running_loop().call_later(0.5, server.gate(HELD).release)
            result = await consume_blocks(waiting, workspace, SESSION, ["call_own"])
        assert result.consumed == frozenset({"call_own"})
        assert proc.returncode == 0
    rollout = locate_rollout(home, record.thread_id)
    assert rollout is not None
    text = rollout.read_text()
    assert "the foreign answer" in text  # the foreign turn's last lines are all there
    outputs = [
        item["payload"]
        for item in map(json.loads, text.splitlines())  # nothing torn: every line parses
        if item.get("type") == "response_item"
        and item.get("payload", {}).get("type") == "function_call_output"
    ]
    assert [o["call_id"] for o in outputs] == ["call_own"]
    assert "PAYLOAD_OWN" not in json.dumps(outputs)  # what the model is sent is blanked


@pytest.mark.parametrize("backend", ["exec", "app-server"])
async def test_a_turn_on_a_thread_a_foreign_codex_runs_is_busy_then_waits_for_it(
    version: str, home: Path, tmp_path: Path, backend: str
) -> None:
    workspace = tmp_path / "ws"
    workspace.mkdir()
    scenario = {
        "schema_version": 1,
        "turns": [
            {"requests": [message("one")]},
            {"requests": [message("the foreign answer", gate=HELD)]},
            {"requests": [message("after the wait")]},
        ],
    }
    async with ResponsesServer(scenario=scenario) as server:
        config = config_for(version, home, server, backend=backend)
        first = await turn(config, workspace, "one")
        assert isinstance(first[-1], MessageEnd), first[-1]
        record = SessionStore(workspace).get(SESSION)
        assert record is not None
        if backend == "app-server":
            await close_backends()  # the thread is not loaded here: the foreign codex gets it
        async with foreign_turn(version, home, server, record.thread_id, workspace) as proc:
            busy = await turn(config, workspace, "while it runs")
            last = busy[-1]
            assert isinstance(last, ErrorEvent) and last.code == "thread_busy", busy
            assert f"pid {proc.pid}" in last.message and record.thread_id in last.message
            assert SessionStore(workspace).get(SESSION) == record  # nothing changed, no new thread
            # The foreign turn goes on once this turn says it waits for it.
            waiting = replace(config, busy_wait_s=60)
            waited = await turn(waiting, workspace, "after the wait", server.gate(HELD).release)
        assert proc.returncode == 0
        assert [e.code for e in waited if isinstance(e, ErrorEvent)] == []
        assert any("busy_wait_s" in getattr(e, "message", "") for e in waited)
        end = waited[-1]
        assert isinstance(end, MessageEnd) and end.thread_id == record.thread_id
        assert server.remaining == 0 and not server.unserved


# A warm turn, a turn by a codex the plugin did not start, then a warm turn that must see it
# (the thread was resumed from disk, or reloaded): no fork.
FOREIGN_BETWEEN_WARM_TURNS = {
    "schema_version": 1,
    "turns": [
        {"requests": [message("one")]},
        {"requests": [message("the foreign answer")]},
        {"requests": [message("warm again")], "expect_history_contains": ["the foreign answer"]},
    ],
}


async def foreign_exec(
    version: str, home: Path, server: ResponsesServer, thread: str, workspace: Path
) -> int | None:
    """A whole `codex exec resume` turn the plugin did not start; its exit code."""
    argv = resume_argv(require_codex(version), server.base_url, version, thread, model="gpt-5.5")
    foreign = await asyncio.create_subprocess_exec(
        *argv,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
        env=codex_env(home),
        cwd=workspace,
    )
    await asyncio.wait_for(foreign.communicate(b"a turn from elsewhere"), 60)
    return foreign.returncode


async def until(predicate: Any, timeout: float = 20.0) -> None:
    """Poll a condition (bounded): the give-back runs on the server's own task."""
    async with asyncio.timeout(timeout):
        while not predicate():
            await asyncio.sleep(0.02)


async def test_an_idle_warm_thread_is_given_back_and_the_next_turn_sees_what_others_added(
    version: str, home: Path, tmp_path: Path
) -> None:
    from plexum_openai_provider.ownership import writer_lock
    from plexum_openai_provider.turn.app_server import pool

    workspace = tmp_path / "ws"
    workspace.mkdir()
    scenario = FOREIGN_BETWEEN_WARM_TURNS
    async with ResponsesServer(scenario=scenario) as server:
        config = config_for(version, home, server, backend="app-server", idle_unload_s=0.3)
        first = await turn(config, workspace, "one")
        assert isinstance(first[-1], MessageEnd), first[-1]
        thread = first[-1].thread_id
        warm = pool.find(config)
        assert warm is not None and warm.keeper is not None
        await until(lambda: warm.keeper is not None and warm.keeper.given_back == 1)
        assert not warm.is_loaded(thread)
        assert writer_lock.is_held(home, thread) is False  # codex's lock is free (or never was)
        assert await foreign_exec(version, home, server, thread, workspace) == 0
        again = await turn(config, workspace, "again")
        assert isinstance(again[-1], MessageEnd) and again[-1].thread_id == thread
        assert warm.pid == pool.find(config).pid  # type: ignore[union-attr]  # the same process
        assert server.history_mismatches == [] and not server.unserved


async def test_beyond_max_loaded_threads_the_least_recently_used_is_given_back(
    version: str, home: Path, tmp_path: Path
) -> None:
    from plexum_openai_provider.turn.app_server import pool

    scenario = {"schema_version": 1, "turns": [{"requests": [message(f"m{i}")]} for i in range(2)]}
    async with ResponsesServer(scenario=scenario) as server:
        config = config_for(version, home, server, backend="app-server", max_loaded_threads=1)
        threads = []
        for name in ("a", "b"):
            workspace = tmp_path / name
            workspace.mkdir()
            events = await turn(config, workspace, name)
            assert isinstance(events[-1], MessageEnd), events[-1]
            threads.append(events[-1].thread_id)
        warm = pool.find(config)
        assert warm is not None
        await until(lambda: not warm.is_loaded(threads[0]))
        assert warm.is_loaded(threads[1])


async def test_on_0135_a_loaded_thread_another_codex_advanced_is_reloaded_before_the_turn(
    home: Path, tmp_path: Path
) -> None:
    """0.135 takes no lock: another codex can append to a thread loaded here; no fork follows."""
    version = "0.135.0"
    workspace = tmp_path / "ws"
    workspace.mkdir()
    scenario = FOREIGN_BETWEEN_WARM_TURNS
    async with ResponsesServer(scenario=scenario) as server:
        config = config_for(version, home, server, backend="app-server", idle_unload_s=3600)
        first = await turn(config, workspace, "one")
        assert isinstance(first[-1], MessageEnd), first[-1]
        thread = first[-1].thread_id
        assert await foreign_exec(version, home, server, thread, workspace) == 0  # not stopped
        again = await turn(config, workspace, "again")
        assert isinstance(again[-1], MessageEnd) and again[-1].thread_id == thread
        assert server.history_mismatches == [] and not server.unserved


async def test_an_exec_turn_while_the_warm_server_holds_the_thread_is_busy_until_given_back(
    version: str, home: Path, tmp_path: Path
) -> None:
    """`say` (exec) beside `serve` (app-server) on one session: busy, naming the server; after
    the idle unload it goes through, and the warm server's next turn sees it (no fork)."""
    from plexum_openai_provider.turn.app_server import pool

    workspace = tmp_path / "ws"
    workspace.mkdir()
    scenario = {
        "schema_version": 1,
        "turns": [
            {"requests": [message("warm one")]},
            {"requests": [message("said by exec")]},
            {"requests": [message("warm two")], "expect_history_contains": ["said by exec"]},
        ],
    }
    async with ResponsesServer(scenario=scenario) as server:
        serve = config_for(version, home, server, backend="app-server", idle_unload_s=3600)
        say = config_for(version, home, server, backend="exec")
        first = await turn(serve, workspace, "one")
        assert isinstance(first[-1], MessageEnd), first[-1]
        warm = pool.find(serve)
        assert warm is not None
        busy = await turn(say, workspace, "from say")
        last = busy[-1]
        assert isinstance(last, ErrorEvent) and last.code == "thread_busy", busy
        assert f"pid {warm.pid}" in last.message and "app-server" in last.message
        assert "idle_unload_s" in last.message
        # The operator lowers the idle time: the server gives the thread back.
        assert warm.keeper is not None
        warm.keeper.configure(idle_s=0.2, max_loaded=32)
        keeper = warm.keeper
        await until(lambda: keeper.given_back == 1)  # the whole give-back has ended
        assert not warm.is_loaded(first[-1].thread_id)
        said = await turn(say, workspace, "from say")
        assert isinstance(said[-1], MessageEnd), said[-1]
        assert said[-1].thread_id == first[-1].thread_id
        again = await turn(serve, workspace, "two")
        assert isinstance(again[-1], MessageEnd), again[-1]
        assert server.history_mismatches == [] and not server.unserved
