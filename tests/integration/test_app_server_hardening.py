"""The warm backend under cancellation and faults (issue "Hardening II"), on the fake codex behind
a stand-in that drops, refuses or pads one chosen request (`app_server_stand_in.py`): a multi-step
exchange finishes or rolls back whatever cancels it, a cancel stops the work it reports stopped,
one agent's trouble never ends another's turn, and every request has a deadline."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from plexum_openai_provider.config import HostConfig
from plexum_openai_provider.consume import consume_blocks
from plexum_openai_provider.errors import ConsumeError, RemoteError
from plexum_openai_provider.events import CanonicalEvent, ErrorEvent, MessageEnd
from plexum_openai_provider.sessions import SessionStore, acquire_workspace_lock
from plexum_openai_provider.turn import TurnRequest, close_backends, open_turn, run_turn
from plexum_openai_provider.turn.app_server import pool

from .app_server_stand_in import seen, stand_in
from .conftest import FAST_LIMITS, ProviderOnFake
from .serve_support import ServeWorld, initialized

STEP_S = 1.0  # the own deadline of a request outside a turn's clock, shrunk for the tests


@pytest.fixture
async def fake(
    provider: ProviderOnFake, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[ProviderOnFake]:
    monkeypatch.setattr(pool, "REQUEST_TIMEOUT_S", STEP_S)
    provider.config = provider.with_config(backend="app-server")
    yield provider
    await close_backends()


def said(text: str, **checks: Any) -> dict[str, Any]:
    message = {"type": "message", "text": text}
    return {"requests": [{"output": [message], "usage": {"input_tokens": 4, "output_tokens": 1}}]}


def shell_then(text: str, cmd: str = "echo HEAVY", call_id: str = "call_sh") -> dict[str, Any]:
    shell = {"type": "function_call", "name": "exec_command", "arguments": {"cmd": cmd}}
    return {
        "requests": [
            {"output": [{**shell, "call_id": call_id}]},
            {"output": [{"type": "message", "text": text}]},
        ]
    }


def slow(text: str = "slow", delay_ms: int = 30000) -> dict[str, Any]:
    return {"requests": [{"output": [{"type": "message", "text": text}], "delay_ms": delay_ms}]}


def behind(fake: ProviderOnFake, rules: dict[str, str], **kw: Any) -> tuple[HostConfig, Path]:
    """The config whose app-server is the stand-in over the fake, and the stand-in's folder."""
    folder = fake.root / "stand-in"
    script = stand_in(folder, str(fake.config.binary), rules, **kw)
    return fake.with_config(binary=str(script)), folder


async def until(condition: Any, timeout: float = 10.0) -> None:
    async with asyncio.timeout(timeout):
        while not condition():
            await asyncio.sleep(0.02)


async def collect(turn: Any) -> list[CanonicalEvent]:
    return [event async for event in turn]


async def cancelled_when(
    config: HostConfig, request: TurnRequest, condition: Any
) -> list[CanonicalEvent]:
    """Run the turn, cancel it once `condition()` holds, and return its events."""
    async with open_turn(config, request, FAST_LIMITS) as turn:
        events = asyncio.create_task(collect(turn))
        await until(condition)
        turn.cancel()
        return await asyncio.wait_for(events, 10)


def turn_is_running(fake: ProviderOnFake, workspace: Path) -> bool:
    """The session's rollout shows a turn started (codex is waiting for the model)."""
    record = SessionStore(workspace).get("default")
    if record is None:
        return False
    home = Path(str(fake.config.codex_home))
    pattern = f"sessions/*/*/*/*{record.thread_id}.jsonl"
    return any('"task_started"' in p.read_text() for p in home.glob(pattern))


def warm(config: HostConfig) -> pool.AppServer:
    server = pool.find(config)
    assert server is not None
    return server


def archived(fake: ProviderOnFake) -> list[Path]:
    return list(Path(str(fake.config.codex_home)).glob("archived_sessions/*.jsonl"))


# -- 1: archive → unarchive finishes or rolls back whatever cancels it ------------------------


async def test_a_cancel_while_the_reload_waits_for_archive_leaves_the_thread_usable(
    fake: ProviderOnFake,
) -> None:
    fake.scenario([said("first"), {**said("third"), "expect_history_contains": ["first"]}])
    config, folder = behind(fake, {"thread/archive": "drop_reply"})
    ws = fake.workspace()
    first = await fake.turn("one", workspace=ws, config=config)
    assert isinstance(first[-1], MessageEnd), first[-1]
    # Its own codex options make the turn reload the thread: archive (reply lost), then cancel.
    request = TurnRequest(prompt="two", workspace=ws, codex_options={"model_verbosity": "low"})
    second = await cancelled_when(config, request, lambda: "thread/archive" in seen(folder))
    assert second[-1] == ErrorEvent("cancelled", "the turn was cancelled")
    third = await fake.turn("three", workspace=ws, config=config)
    assert isinstance(third[-1], MessageEnd), third[-1]
    assert third[-1].thread_id == first[-1].thread_id  # type: ignore[union-attr]
    assert archived(fake) == []


async def test_consume_with_the_server_killed_between_archive_and_unarchive_recovers_the_thread(
    fake: ProviderOnFake,
) -> None:
    fake.scenario(
        [
            shell_then("ran"),
            {
                **said("after"),
                "expect_history_contains": ["ran"],
                "expect_history_excludes": ["HEAVY"],
            },
        ]
    )
    config, folder = behind(fake, {"thread/archive": "drop_reply"})
    ws = fake.workspace()
    first = await fake.turn("one", workspace=ws, config=config)
    assert isinstance(first[-1], MessageEnd), first[-1]
    server = warm(config)
    consume = asyncio.ensure_future(consume_blocks(config, ws, "default", ["call_sh"]))
    await until(lambda: "thread/archive" in seen(folder) and archived(fake))
    os.killpg(server.pid, signal.SIGKILL)
    result = await asyncio.wait_for(consume, 10)
    assert result.consumed == {"call_sh"}
    assert archived(fake) == []
    after = await fake.turn("two", workspace=ws, config=config)
    assert isinstance(after[-1], MessageEnd), after[-1]
    assert after[-1].thread_id == first[-1].thread_id  # type: ignore[union-attr]


async def test_a_consume_whose_unarchive_goes_unanswered_says_the_thread_is_left_archived(
    fake: ProviderOnFake,
) -> None:
    fake.scenario([shell_then("ran"), {**said("after"), "expect_history_contains": ["ran"]}])
    rules = {"thread/archive": "drop_reply", "thread/unarchive": "drop"}
    config, _ = behind(fake, rules)
    ws = fake.workspace()
    first = await fake.turn("one", workspace=ws, config=config)
    assert isinstance(first[-1], MessageEnd), first[-1]
    with pytest.raises(ConsumeError) as refused:
        await asyncio.wait_for(consume_blocks(config, ws, "default", ["call_sh"]), 10)
    assert "left archived" in str(refused.value) and "unchanged" not in str(refused.value)
    assert len(archived(fake)) == 1
    # The next turn unarchives it (this unarchive is answered) and continues the same thread.
    after = await fake.turn("two", workspace=ws, config=config)
    assert isinstance(after[-1], MessageEnd), after[-1]
    assert after[-1].thread_id == first[-1].thread_id  # type: ignore[union-attr]
    assert archived(fake) == []


# -- 2: a cancel during thread/resume leaves the thread marked ---------------------------------


async def test_a_cancel_during_resume_still_makes_consume_unload_the_thread_codex_loaded(
    fake: ProviderOnFake,
) -> None:
    fake.scenario(
        [
            shell_then("ran"),
            {
                **said("after"),
                "expect_history_contains": ["ran"],
                "expect_history_excludes": ["HEAVY"],
            },
        ]
    )
    config, folder = behind(fake, {"thread/resume": "drop_reply"})
    ws = fake.workspace()
    first = await fake.turn("one", workspace=ws, config=config)
    assert isinstance(first[-1], MessageEnd), first[-1]
    thread_id = first[-1].thread_id
    old = warm(config)
    os.killpg(old.pid, signal.SIGKILL)
    await old.proc.wait()
    # The next turn resumes in a new process; codex loads the thread, its reply never comes.
    request = TurnRequest(prompt="two", workspace=ws)
    second = await cancelled_when(config, request, lambda: "thread/resume" in seen(folder))
    assert second[-1] == ErrorEvent("cancelled", "the turn was cancelled")
    assert thread_id in warm(config).loaded
    result = await consume_blocks(config, ws, "default", ["call_sh"])
    assert result.consumed == {"call_sh"}
    after = await fake.turn("three", workspace=ws, config=config)
    assert isinstance(after[-1], MessageEnd), after[-1]  # the fake checked the history


# -- 3: a cancel during turn/start stops the turn it reports stopped ---------------------------


async def test_a_cancel_during_turn_start_interrupts_the_turn_codex_started(
    fake: ProviderOnFake,
) -> None:
    fake.scenario([slow(), said("next")])
    config, folder = behind(fake, {"turn/start": "drop_reply"})
    ws = fake.workspace()
    request = TurnRequest(prompt="one", workspace=ws)
    # Cancelled once codex works on the turn (the model is asked) while its id is still unknown.
    first = await cancelled_when(
        config, request, lambda: "turn/start" in seen(folder) and turn_is_running(fake, ws)
    )
    assert first[-1] == ErrorEvent("cancelled", "the turn was cancelled")
    pid = warm(config).pid
    # Had the first turn run on, codex would refuse this one ("a turn is already running").
    second = await fake.turn("two", workspace=ws, config=config)
    assert isinstance(second[-1], MessageEnd), second[-1]
    assert warm(config).pid == pid


# -- 7: one agent's failed interrupt does not end the others' turns ---------------------------


@pytest.mark.parametrize("fault", ["error", "drop"])
async def test_a_failed_interrupt_stops_only_its_own_thread(
    fake: ProviderOnFake, fault: str
) -> None:
    # b's reply waits at a gate until a's cancel is over: b's turn runs meanwhile.
    b_held = {"requests": [{"output": [{"type": "message", "text": "b's answer"}], "gate": "b"}]}
    fake.scenario([slow(), b_held, said("a again")])
    config, folder = behind(fake, {"turn/interrupt": fault})
    ws_a, ws_b = fake.workspace("a"), fake.workspace("b")
    async with open_turn(config, TurnRequest(prompt="a", workspace=ws_a), FAST_LIMITS) as a:
        a_events = asyncio.create_task(collect(a))
        await until(lambda: turn_is_running(fake, ws_a))
        b_events = asyncio.create_task(fake.turn("b", workspace=ws_b, config=config))
        await until(lambda: turn_is_running(fake, ws_b))
        pid = warm(config).pid
        a.cancel()
        assert (await asyncio.wait_for(a_events, 10))[-1].code == "cancelled"  # type: ignore[union-attr]
    assert not b_events.done()  # b's turn still runs, held at its gate
    fake.fake.gate("b").release()
    b_end = (await asyncio.wait_for(b_events, 10))[-1]
    assert isinstance(b_end, MessageEnd), b_end
    assert seen(folder) == ["turn/interrupt"] and warm(config).pid == pid
    again = await fake.turn("a2", workspace=ws_a, config=config)
    assert isinstance(again[-1], MessageEnd), again[-1]


# -- 5: every request has a deadline; shutdown cancels consumes like turns -------------------


def serve_turn(world: ServeWorld, turn_id: str, ws: Path) -> dict[str, Any]:
    return {
        "turn_id": turn_id,
        "agent": {"id": "agent-a", "workspace": str(ws)},
        "session_id": "s1",
        "model": "codex",
        "input": "hi",
        "tools": [],
    }


@pytest.mark.parametrize("waits_for", ["thread/archive", "the workspace lock"])
async def test_serve_exits_within_the_kill_grace_while_a_consume_waits(
    serve_world: ServeWorld, waits_for: str
) -> None:
    fake = serve_world.fake
    fake.scenario([shell_then("ran")])
    script = stand_in(fake.root / "stand-in", str(fake.config.binary), {"thread/archive": "drop"})
    serve_world.write_config(backend="app-server", binary=str(script), consume_wait_s=60)
    ws = fake.workspace()
    conn = await serve_world.connection()
    await initialized(conn)
    done = await conn.request("turn", serve_turn(serve_world, "t1", ws))
    assert done["event"]["type"] == "message_end", done
    lock = await acquire_workspace_lock(ws) if waits_for == "the workspace lock" else None
    params = {"workspace": str(ws), "session_id": "s1", "block_ids": ["call_sh"]}
    consume = asyncio.ensure_future(conn.request("consume", params))
    try:
        if lock is None:
            await until(lambda: "thread/archive" in seen(fake.root / "stand-in"))
        # Answered after the consume was read: the consume is under way (it waits) by then.
        assert (await conn.request("cancel", {"turn_id": "none"}))["status"] == "unknown"
        started = time.monotonic()
        assert await conn.close(timeout=30) == 0
        took = time.monotonic() - started
    finally:
        if lock is not None:
            os.close(lock)
    kill_grace = 3.0  # TurnLimits' default
    assert took < kill_grace + 1.0, f"serve took {took:.2f}s to exit after EOF"
    with pytest.raises(RemoteError, match="shutting down"):
        await asyncio.wait_for(consume, 1)


# -- 6: a resume reply over the line limit does not hang the resume --------------------------


async def test_a_resume_reply_over_the_line_limit_still_resumes_the_thread(
    fake: ProviderOnFake, monkeypatch: pytest.MonkeyPatch
) -> None:
    from plexum_openai_provider.turn.app_server import rpc_client

    monkeypatch.setattr(rpc_client, "MAX_LINE_BYTES", 8000)
    fake.scenario([said("first"), {**said("second"), "expect_history_contains": ["first"]}])
    config, folder = behind(fake, {"thread/resume": "pad"}, pad_bytes=10_000)
    config = replace(config, idle_timeout_s=5)
    ws = fake.workspace()
    first = await fake.turn("one", workspace=ws, config=config)
    old = warm(config)
    os.killpg(old.pid, signal.SIGKILL)
    await old.proc.wait()
    started = time.monotonic()
    second = await fake.turn("two", workspace=ws, config=config)
    assert isinstance(second[-1], MessageEnd), second[-1]
    assert second[-1].thread_id == first[-1].thread_id  # type: ignore[union-attr]
    assert seen(folder) == ["thread/resume"] and time.monotonic() - started < 3


# -- 8: `cancelling` only while a cancel can still end the turn --------------------------------


@pytest.mark.parametrize("backend", ["app-server", "exec"])
async def test_a_cancel_after_codex_finished_the_turn_says_so_and_the_turn_keeps_its_end(
    fake: ProviderOnFake, backend: str
) -> None:
    from plexum_openai_provider.events import ToolCall

    fake.scenario([shell_then("ran"), slow()])
    config = fake.with_config(backend=backend)
    request = TurnRequest(prompt="one", workspace=fake.workspace())
    answers: list[bool] = []
    async with open_turn(config, request, FAST_LIMITS) as turn:
        events = []
        async for event in turn:
            events.append(event)
            if isinstance(event, ToolCall):  # mirrored from the rollout: codex is done
                answers.append(turn.cancel())
    assert answers == [False]  # too late to cancel: the door answers `finished`
    assert isinstance(events[-1], MessageEnd), events[-1]
    # ... and a cancel that comes in time still ends the turn as `cancelled`.
    ws = fake.workspace("b")
    async with open_turn(config, TurnRequest(prompt="b", workspace=ws), FAST_LIMITS) as turn:
        task = asyncio.create_task(collect(turn))
        await until(lambda: turn_is_running(fake, ws))
        assert turn.cancel() is True
        assert (await asyncio.wait_for(task, 10))[-1].code == "cancelled"  # type: ignore[union-attr]


# -- 4: an agent's tools answer only the turn they were offered to ------------------------------

ATTACK = """python3 -c '
import json, socket, sys
init = {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {"protocolVersion":
    "2025-06-18", "capabilities": {}, "clientInfo": {"name": "b", "version": "0"}}}
call = {"jsonrpc": "2.0", "id": 2, "method": "tools/call",
    "params": {"name": "echo", "arguments": {"text": "from b"}}}
got = b""
try:
    s = socket.socket(socket.AF_UNIX)
    s.settimeout(5)
    s.connect(sys.argv[1])
    for m in (init, {"jsonrpc": "2.0", "method": "notifications/initialized"}, call):
        s.sendall(json.dumps(m).encode() + b"\\n")
    while got.count(b"\\n") < 2:
        chunk = s.recv(65536)
        if not chunk:
            break
        got += chunk
    print(got.decode() or "closed")
except OSError as exc:
    print(got.decode(), "refused:", type(exc).__name__)
' {socket} > attack.txt"""


@pytest.mark.parametrize("backend", ["app-server", "exec"])
async def test_another_agents_shell_cannot_call_this_agents_tools(
    fake: ProviderOnFake, backend: str
) -> None:
    from plexum_openai_provider.bridge.socket_path import stable_socket_path
    from plexum_openai_provider.bridge.spec import ToolReply
    from plexum_openai_provider.cli.builtin_tools import BUILTIN_TOOLS

    calls: list[dict[str, Any]] = []

    async def host_of_a(name: str, arguments: dict[str, Any]) -> ToolReply:
        calls.append(arguments)
        return ToolReply.text("a's secret")

    config = fake.with_config(backend=backend, socket_dir=str(fake.root / "sock"))
    socket_a = stable_socket_path("a", socket_dir=fake.root / "sock")
    attack = ATTACK.replace("{socket}", str(socket_a))
    fake.scenario([slow(), shell_then("tried", cmd=attack)])
    ws_a, ws_b = fake.workspace("a"), fake.workspace("b")
    request_a = TurnRequest(
        prompt="a", workspace=ws_a, agent_id="a", tools=BUILTIN_TOOLS, call_tool=host_of_a
    )
    async with open_turn(config, request_a, FAST_LIMITS) as turn_a:
        a_events = asyncio.create_task(collect(turn_a))
        await until(lambda: turn_is_running(fake, ws_a) and socket_a.exists())
        request_b = TurnRequest(prompt="b", workspace=ws_b, agent_id="b")
        b_end = (await run_turn(config, request_b, FAST_LIMITS))[-1]
        turn_a.cancel()
        await asyncio.wait_for(a_events, 10)
    assert isinstance(b_end, MessageEnd), b_end
    tried = (ws_b / "attack.txt").read_text()
    assert calls == [], tried  # the host never heard from b
    assert "a's secret" not in tried
    refused = ("serves only the running turn of agent 'a'", "closed", "refused:")
    assert any(r in tried for r in refused), tried
