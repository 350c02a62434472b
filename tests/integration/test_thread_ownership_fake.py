"""Thread ownership on the fake codex, per emulated version (the e2e twins run the real binaries):
a turn on a thread a foreign codex runs ends in `thread_busy` naming it, consume during that turn
is refused and loses none of its lines, and the warm server gives an idle thread back."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from plexum_openai_provider.codex.rollout import locate_rollout
from plexum_openai_provider.consume import consume_blocks
from plexum_openai_provider.errors import ConsumeError
from plexum_openai_provider.events import ErrorEvent, MessageEnd, WarningEvent
from plexum_openai_provider.ownership import writer_lock
from plexum_openai_provider.sessions import SessionStore
from plexum_openai_provider.turn import TurnRequest, close_backends, open_turn
from plexum_openai_provider.turn.app_server import pool

from .conftest import FAST_LIMITS, ProviderOnFake

VERSIONS = ("0.135.0", "0.150.1", "0.169.0", "0.171.0")
HELD = "foreign"  # the gate the foreign turn's model reply waits at
SHELL = {
    "type": "function_call",
    "name": "exec_command",
    "arguments": {"cmd": "echo PAYLOAD_F"},
    "call_id": "call_f",
}


def said(text: str, gate: str | None = None) -> dict[str, Any]:
    reply: dict[str, Any] = {"output": [{"type": "message", "text": text}]}
    if gate is not None:
        reply["gate"] = gate
    return {"requests": [reply]}


@contextlib.asynccontextmanager
async def foreign_turn(provider: ProviderOnFake, thread: str) -> AsyncIterator[Any]:
    """A `codex exec resume` this plugin did not start, mid-turn: its reply waits at the gate
    `HELD` (released by the body, at the latest when it ends)."""
    gate = provider.fake.gate(HELD)
    argv = [str(provider.fake.executable), "exec", "resume", "--json", "--skip-git-repo-check"]
    proc = await asyncio.create_subprocess_exec(
        *argv,
        "--",
        thread,
        "-",
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL,
        env=provider.fake.env,
        cwd=provider.workspace(),
    )
    assert proc.stdin is not None and proc.stdout is not None
    proc.stdin.write(b"foreign")
    proc.stdin.close()
    try:
        async with asyncio.timeout(30):
            while b"turn.started" not in (line := await proc.stdout.readline()):
                assert line, "the foreign codex ended before its turn started"
        await gate.reached(timeout=30)
        yield proc
    finally:
        gate.release()
        if proc.returncode is None:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(proc.communicate(), 30)
        if proc.returncode is None:
            proc.kill()
            await proc.wait()


@pytest.mark.parametrize("version", VERSIONS)
async def test_a_turn_on_a_thread_a_foreign_codex_runs_is_busy_and_names_it(
    provider: ProviderOnFake, version: str
) -> None:
    provider.scenario(
        [said("one"), said("foreign answer", gate=HELD), said("after")],
        codex_version=version,
    )
    first = await provider.turn("one")
    assert isinstance(first[-1], MessageEnd), first[-1]
    record = SessionStore(provider.workspace()).get("default")
    assert record is not None
    async with foreign_turn(provider, record.thread_id) as proc:
        busy = await provider.turn("meanwhile")
        last = busy[-1]
        assert isinstance(last, ErrorEvent) and last.code == "thread_busy", busy
        assert f"pid {proc.pid}" in last.message
        assert SessionStore(provider.workspace()).get("default") == record
        # The foreign turn goes on once this turn says it waits for it.
        request = TurnRequest(prompt="after", workspace=provider.workspace(), model="codex")
        waiting = provider.with_config(busy_wait_s=30)
        waited = []
        async with open_turn(waiting, request, FAST_LIMITS) as turn:
            async for event in turn:
                waited.append(event)
                if isinstance(event, WarningEvent) and "busy_wait_s" in event.message:
                    provider.fake.gate(HELD).release()
        assert any(isinstance(e, WarningEvent) and "busy_wait_s" in e.message for e in waited)
    assert isinstance(waited[-1], MessageEnd) and waited[-1].thread_id == record.thread_id


@pytest.mark.parametrize("version", VERSIONS)
async def test_consume_during_a_foreign_turn_is_refused_and_loses_no_line(
    provider: ProviderOnFake, version: str
) -> None:
    provider.scenario(
        [
            {"requests": [{"output": [SHELL]}, {"output": [{"type": "message", "text": "ran"}]}]},
            said("foreign answer", gate=HELD),
        ],
        codex_version=version,
    )
    first = await provider.turn("run it")
    assert isinstance(first[-1], MessageEnd), first[-1]
    ws = provider.workspace()
    record = SessionStore(ws).get("default")
    assert record is not None
    quick = provider.with_config(consume_wait_s=0.2)
    async with foreign_turn(provider, record.thread_id) as proc:
        with pytest.raises(ConsumeError) as refused:
            await consume_blocks(quick, ws, "default", ["call_f"])
        assert f"pid {proc.pid}" in str(refused.value)
        # Let go half a second into the wait below (consume reports no "waiting" to act on).
        asyncio.get_running_loop().call_later(0.5, provider.fake.gate(HELD).release)
        result = await consume_blocks(
            provider.with_config(consume_wait_s=30), ws, "default", ["call_f"]
        )
    assert result.consumed == frozenset({"call_f"})
    path = Path(str(SessionStore(ws).get("default").rollout_path))  # type: ignore[union-attr]
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    assert "foreign answer" in json.dumps(lines)


@pytest.mark.parametrize("version", VERSIONS)
async def test_the_warm_server_gives_an_idle_thread_back_and_frees_the_lock(
    provider: ProviderOnFake, version: str
) -> None:
    provider.scenario([said("one"), said("two")], codex_version=version)
    config = provider.with_config(backend="app-server", idle_unload_s=0.1)
    try:
        first = await provider.turn("one", config=config)
        assert isinstance(first[-1], MessageEnd), first[-1]
        thread = first[-1].thread_id
        warm = pool.find(config)
        assert warm is not None and warm.keeper is not None
        async with asyncio.timeout(20):  # the whole give-back (archive + unarchive) has ended
            while warm.keeper.given_back < 1:
                await asyncio.sleep(0.02)
        assert warm.keeper.given_back == 1 and not warm.is_loaded(thread)
        home = Path(str(config.codex_home))
        assert writer_lock.is_held(home, thread) is False
        # ≥ 0.169 unloads with thread/unsubscribe, older versions with archive + unarchive:
        # either way the rollout is back in sessions/, not left archived.
        rollout = locate_rollout(home, thread)
        assert rollout is not None and "archived_sessions" not in str(rollout)
        second = await provider.turn("two", config=config)
        assert isinstance(second[-1], MessageEnd) and second[-1].thread_id == thread
    finally:
        await close_backends()
