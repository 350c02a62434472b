"""The warm backend's multi-step exchanges on the REAL codex (every pinned version) behind the
stand-in that drops one reply (tests/integration/app_server_stand_in.py), so the race window of a
request's round trip is wide: a cancel while `thread/archive` waits leaves the thread usable
(Hardening II #1), a cancel during `thread/resume` still lets consume unload what codex loaded
(#2), a cancel during `turn/start` interrupts the turn codex started (#3)."""

# ruff: noqa: F811  (the shared fixtures are parameters of the tests below)

from __future__ import annotations

import asyncio
import json
import os
import signal
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from fake_codex.responses.server import ResponsesServer
from plexum_openai_provider.config import HostConfig
from plexum_openai_provider.consume import consume_blocks
from plexum_openai_provider.events import CanonicalEvent, ErrorEvent, MessageEnd
from plexum_openai_provider.sessions import SessionStore
from plexum_openai_provider.turn import TurnRequest, open_turn, run_turn
from plexum_openai_provider.turn.app_server import pool

from ..integration.app_server_stand_in import seen, stand_in

# The fixtures `version` (every pinned version) and `home` are test_app_server's own.
from .test_app_server import (  # noqa: F401
    LIMITS,
    config_for,
    home,
    require_codex,
    streamed,
    version,
)

pytestmark = pytest.mark.e2e
SHELL = {
    "type": "function_call",
    "name": "exec_command",
    "arguments": {"cmd": "echo HEAVY_E2E_77"},
    "call_id": "call_heavy",
}


@pytest.fixture(autouse=True)
def short_steps(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pool, "REQUEST_TIMEOUT_S", 2.0, raising=False)


def behind(
    config: HostConfig, version: str, tmp: Path, rules: dict[str, str]
) -> tuple[HostConfig, Path]:
    folder = tmp / "stand-in"
    script = stand_in(folder, str(require_codex(version)), rules)
    return replace(config, binary=str(script)), folder


async def until(condition: Any, timeout: float = 20.0) -> None:
    async with asyncio.timeout(timeout):
        while not condition():
            await asyncio.sleep(0.02)


async def cancelled_when(
    config: HostConfig, request: TurnRequest, condition: Any
) -> list[CanonicalEvent]:
    async with open_turn(config, request, LIMITS) as turn:
        events = asyncio.create_task(_collect(turn))
        await until(condition)
        turn.cancel()
        return await asyncio.wait_for(events, 20)


async def _collect(turn: Any) -> list[CanonicalEvent]:
    return [event async for event in turn]


def rollout_of(codex_home: Path, workspace: Path) -> Path | None:
    record = SessionStore(workspace).get("default")
    if record is None:
        return None
    found = list(codex_home.glob(f"sessions/*/*/*/*{record.thread_id}.jsonl"))
    return found[0] if found else None


async def test_a_cancel_while_archive_waits_leaves_the_thread_usable(
    version: str, home: Path, tmp_path: Path
) -> None:
    replies = [streamed("the first answer"), streamed("the third answer")]
    async with ResponsesServer(replies) as server:
        config, folder = behind(
            config_for(version, home, server, tmp_path),
            version,
            tmp_path,
            {"thread/archive": "drop_reply"},
        )
        first = await run_turn(config, TurnRequest(prompt="one", workspace=tmp_path), LIMITS)
        assert isinstance(first[-1], MessageEnd), first[-1]
        reload = TurnRequest(
            prompt="two", workspace=tmp_path, codex_options={"model_verbosity": "low"}
        )
        second = await cancelled_when(config, reload, lambda: "thread/archive" in seen(folder))
        assert second[-1] == ErrorEvent("cancelled", "the turn was cancelled")
        third = await run_turn(config, TurnRequest(prompt="three", workspace=tmp_path), LIMITS)
        last_body = json.dumps(server.model_requests[-1].body)
    assert isinstance(third[-1], MessageEnd), third[-1]
    assert third[-1].thread_id == first[-1].thread_id
    assert "the first answer" in last_body
    assert list(home.glob("archived_sessions/*.jsonl")) == []


async def test_a_cancel_during_resume_still_lets_consume_unload_the_thread(
    version: str, home: Path, tmp_path: Path
) -> None:
    replies = [{"output": [SHELL]}, streamed("ran it"), streamed("after")]
    async with ResponsesServer(replies) as server:
        config, folder = behind(
            config_for(version, home, server, tmp_path),
            version,
            tmp_path,
            {"thread/resume": "drop_reply"},
        )
        first = await run_turn(config, TurnRequest(prompt="run", workspace=tmp_path), LIMITS)
        assert isinstance(first[-1], MessageEnd), first[-1]
        thread_id = first[-1].thread_id
        old = pool.find(config)
        assert old is not None
        os.killpg(old.pid, signal.SIGKILL)
        await old.proc.wait()
        request = TurnRequest(prompt="two", workspace=tmp_path)
        second = await cancelled_when(config, request, lambda: "thread/resume" in seen(folder))
        assert second[-1] == ErrorEvent("cancelled", "the turn was cancelled")
        warm = pool.find(config)
        assert warm is not None and thread_id in warm.loaded
        result = await consume_blocks(config, tmp_path, "default", ["call_heavy"])
        assert result.consumed == {"call_heavy"}
        third = await run_turn(config, TurnRequest(prompt="three", workspace=tmp_path), LIMITS)
        last_body = json.dumps(server.model_requests[-1].body)
    assert isinstance(third[-1], MessageEnd), third[-1]
    assert "HEAVY_E2E_77" not in last_body and "ran it" in last_body


async def test_a_cancel_during_turn_start_interrupts_the_turn_codex_started(
    version: str, home: Path, tmp_path: Path
) -> None:
    slow = {"output": [{"type": "message", "text": "slow"}], "delay_ms": 30000}
    async with ResponsesServer([slow, streamed("after")]) as server:
        config, folder = behind(
            config_for(version, home, server, tmp_path),
            version,
            tmp_path,
            {"turn/start": "drop_reply"},
        )
        request = TurnRequest(prompt="one", workspace=tmp_path)
        first = await cancelled_when(
            config,
            request,
            lambda: "turn/start" in seen(folder) and len(server.model_requests) >= 1,
        )
        assert first[-1] == ErrorEvent("cancelled", "the turn was cancelled")
        # Interrupted, not left running: codex recorded the abort before the cancel returned.
        rollout = rollout_of(home, tmp_path)
        assert rollout is not None and '"turn_aborted"' in rollout.read_text()
        after = await run_turn(config, TurnRequest(prompt="two", workspace=tmp_path), LIMITS)
    assert isinstance(after[-1], MessageEnd), after[-1]
