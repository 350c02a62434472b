"""The `app-server` backend on the fake codex: deltas, the warm process serving the next turn,
resume, cancel and timeouts (interrupt), the server dying mid-turn or between turns, a tool call
through MCP mirrored with codex's call id, consume while the thread is loaded, and `say`."""

from __future__ import annotations

import asyncio
import json
import os
import signal
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from plexum_openai_provider.bridge.names import namespace, server_name
from plexum_openai_provider.bridge.spec import ToolReply
from plexum_openai_provider.cli.builtin_tools import BUILTIN_TOOLS
from plexum_openai_provider.config import HostConfig
from plexum_openai_provider.consume import consume_blocks
from plexum_openai_provider.events import (
    CanonicalEvent,
    ErrorEvent,
    MessageEnd,
    TextDelta,
    ToolCall,
    ToolResult,
)
from plexum_openai_provider.turn import TurnRequest, close_backends, open_turn, run_turn
from plexum_openai_provider.turn.app_server import pool as appserver

from .conftest import FAST_LIMITS, ProviderOnFake


@pytest.fixture
async def fake(provider: ProviderOnFake) -> AsyncIterator[ProviderOnFake]:
    provider.config = provider.with_config(backend="app-server")
    yield provider
    await close_backends()


def said(text: str, deltas: list[str] | None = None) -> dict[str, Any]:
    message: dict[str, Any] = {"type": "message", "text": text}
    if deltas is not None:
        message["deltas"] = deltas
    return {"requests": [{"output": [message], "usage": {"input_tokens": 4, "output_tokens": 1}}]}


def slow(text: str = "slow") -> dict[str, Any]:
    return {"requests": [{"output": [{"type": "message", "text": text}], "delay_ms": 30000}]}


def held(text: str = "held") -> dict[str, Any]:
    """A turn whose reply waits at the gate `model` until the test releases it."""
    return {"requests": [{"output": [{"type": "message", "text": text}], "gate": "model"}]}


def warm(config: HostConfig) -> appserver.AppServer:
    server = appserver.find(config)
    assert server is not None
    return server


async def test_text_streams_as_deltas_and_the_warm_process_serves_the_next_turn(
    fake: ProviderOnFake,
) -> None:
    fake.scenario([said("hello world", ["hel", "lo ", "world"]), said("again")])
    first = await fake.turn("one")
    pid = warm(fake.config).pid
    second = await fake.turn("two")
    assert first[:3] == [TextDelta("hel"), TextDelta("lo "), TextDelta("world")]
    assert second[0] == TextDelta("again")  # no deltas from the model: the message arrives whole
    end1, end2 = first[-1], second[-1]
    assert isinstance(end1, MessageEnd) and isinstance(end2, MessageEnd)
    assert end1.thread_id == end2.thread_id
    assert (end1.usage.input_tokens, end2.usage.input_tokens, end2.thread_usage.input_tokens) == (
        4,
        4,
        8,
    )
    assert warm(fake.config).pid == pid


async def test_a_new_session_gets_a_new_thread_in_the_same_process(fake: ProviderOnFake) -> None:
    fake.scenario([said("a"), said("b")])
    first = await fake.turn("one", session="s1")
    second = await fake.turn("two", session="s2")
    assert first[-1].thread_id != second[-1].thread_id  # type: ignore[union-attr]
    assert len(warm(fake.config).loaded) == 2


async def test_the_server_dying_between_turns_costs_nothing_but_a_restart(
    fake: ProviderOnFake,
) -> None:
    fake.scenario([said("first"), {**said("second"), "expect_history_contains": ["first"]}])
    first = await fake.turn("one")
    old = warm(fake.config)
    os.killpg(old.pid, signal.SIGKILL)
    await old.proc.wait()
    second = await fake.turn("two")
    assert isinstance(second[-1], MessageEnd), second[-1]
    assert second[-1].thread_id == first[-1].thread_id  # type: ignore[union-attr]
    assert warm(fake.config).pid != old.pid


async def test_a_crash_mid_turn_ends_that_turn_with_a_clear_error_and_the_next_turn_works(
    fake: ProviderOnFake,
) -> None:
    fake.scenario([held(), said("after the crash")])
    ws = fake.workspace()
    request = TurnRequest(prompt="hi", workspace=ws)
    async with open_turn(fake.config, request, FAST_LIMITS) as turn:
        events = asyncio.create_task(collect(turn))
        await fake.fake.gate("model").reached(timeout=10)
        os.killpg(warm(fake.config).pid, signal.SIGKILL)
        crashed = await asyncio.wait_for(events, 10)
    end = crashed[-1]
    assert isinstance(end, ErrorEvent) and end.code == "exit", end
    assert "app-server" in end.message and "next turn starts a new one" in end.message
    assert [e.type for e in crashed].count("error") == 1
    after = await fake.turn("again")
    assert after[0] == TextDelta("after the crash") and isinstance(after[-1], MessageEnd)


async def test_cancel_interrupts_the_turn_and_keeps_the_process(fake: ProviderOnFake) -> None:
    fake.scenario([held(), said("next")])
    ws = fake.workspace()
    gate = fake.fake.gate("model")
    async with open_turn(fake.config, TurnRequest(prompt="hi", workspace=ws), FAST_LIMITS) as turn:
        events = asyncio.create_task(collect(turn))
        await gate.reached(timeout=10)
        pid = warm(fake.config).pid
        turn.cancel()
        result = await asyncio.wait_for(events, 10)
    gate.release()  # the interrupted turn's worker ends; its output is dropped
    assert result[-1] == ErrorEvent("cancelled", "the turn was cancelled")
    after = await fake.turn("again")
    assert isinstance(after[-1], MessageEnd) and warm(fake.config).pid == pid


async def test_an_idle_turn_times_out_and_the_next_turn_works(fake: ProviderOnFake) -> None:
    fake.scenario([slow(), said("next")])
    config = fake.with_config(idle_timeout_s=0.5)
    events = await fake.turn("hi", config=config)
    end = events[-1]
    assert isinstance(end, ErrorEvent) and end.code == "idle_timeout", end
    after = await fake.turn("again", config=config)
    assert isinstance(after[-1], MessageEnd), after[-1]


async def host(name: str, arguments: dict[str, Any]) -> ToolReply:
    return ToolReply.text(f"host says: {arguments.get('text')}")


async def test_a_tool_call_is_mirrored_and_consume_while_loaded_reaches_the_next_turn(
    fake: ProviderOnFake,
) -> None:
    agent = "agent-1"
    call = {
        "type": "function_call",
        "namespace": namespace(server_name(agent)),
        "name": "echo",
        "arguments": {"text": "HEAVY_PAYLOAD"},
        "call_id": "call_e1",
    }
    fake.scenario(
        [
            {"requests": [{"output": [call]}, {"output": [{"type": "message", "text": "done"}]}]},
            {
                **said("resumed"),
                "expect_history_excludes": ["HEAVY_PAYLOAD"],
                "expect_history_contains": ["...(tool called)"],
            },
        ],
        codex_version="0.169.0",
    )
    config = fake.with_config(socket_dir=str(fake.root / "sock"))
    ws = fake.workspace()
    request = TurnRequest(
        prompt="use echo", workspace=ws, agent_id=agent, tools=BUILTIN_TOOLS, call_tool=host
    )
    first = await run_turn(config, request, FAST_LIMITS)
    assert isinstance(first[-1], MessageEnd), first[-1]
    mirrored = [e for e in first if isinstance(e, ToolCall | ToolResult)]
    assert [(type(e).__name__, e.block_id) for e in mirrored] == [
        ("ToolCall", "call_e1"),
        ("ToolResult", "call_e1"),
    ]
    assert "host says: HEAVY_PAYLOAD" in json.dumps(mirrored[1].output)  # type: ignore[union-attr]
    assert first[-1].thread_id in warm(config).loaded
    result = await consume_blocks(config, ws, "default", ["call_e1"])
    assert result.consumed == {"call_e1"}
    second = await run_turn(config, TurnRequest(prompt="again", workspace=ws), FAST_LIMITS)
    assert isinstance(second[-1], MessageEnd), second[-1]  # the fake checked the history


async def test_a_session_whose_thread_is_gone_continues_on_a_new_thread(
    fake: ProviderOnFake,
) -> None:
    fake.scenario([said("first"), said("fresh")])
    first = await fake.turn("one")
    old = warm(fake.config)
    os.killpg(old.pid, signal.SIGKILL)
    await old.proc.wait()
    for path in Path(str(fake.config.codex_home)).glob("sessions/*/*/*/*.jsonl"):
        path.unlink()
    second = await fake.turn("two")
    assert [e.type for e in second] == ["warning", "text_delta", "message_end"]
    assert second[-1].thread_id != first[-1].thread_id  # type: ignore[union-attr]


def test_say_with_the_app_server_backend_streams_and_leaves_no_process(
    provider: ProviderOnFake,
) -> None:
    provider.scenario([said("streamed text", ["streamed ", "text"])])
    result = provider.cli("say", "--json", "--no-tools", "hi", config={"backend": "app-server"})
    assert result.returncode == 0, result.stderr
    events = [json.loads(line) for line in result.stdout.splitlines()]
    assert [e["text"] for e in events if e["type"] == "text_delta"] == ["streamed ", "text"]
    invocations = provider.invocations()
    assert [i.argv[1] for i in invocations] == ["app-server"]
    assert invocations[0].exit_code == 0  # EOF from the plugin: it exited by itself


async def collect(turn: Any) -> list[CanonicalEvent]:
    return [event async for event in turn]


async def test_a_required_mcp_server_that_fails_ends_the_turn_with_an_mcp_error(
    fake: ProviderOnFake, monkeypatch: pytest.MonkeyPatch
) -> None:
    from plexum_openai_provider.bridge import registration

    broken = str(fake.root / "no-such-python")
    monkeypatch.setattr(registration, "turn_plugin_command", lambda: [broken, "-m", "x"])
    fake.scenario([said("never")])
    config = fake.with_config(socket_dir=str(fake.root / "sock"))
    request = TurnRequest(
        prompt="hi", workspace=fake.workspace(), tools=BUILTIN_TOOLS, call_tool=host
    )
    events = await run_turn(config, request, FAST_LIMITS)
    end = events[-1]
    assert isinstance(end, ErrorEvent) and end.code == "mcp", end
    assert "required MCP servers failed to initialize" in end.message
    assert [e.type for e in events].count("error") == 1


HUNG_SERVER = r"""#!{python}
import json, sys, uuid
for raw in sys.stdin:
    msg = json.loads(raw)
    if "id" not in msg:
        continue
    method, rid = msg["method"], msg["id"]
    if method == "initialize":
        result = {{"userAgent": "hung/0", "codexHome": "", "platformFamily": "unix",
                  "platformOs": "linux"}}
    elif method == "thread/start":
        result = {{"thread": {{"id": str(uuid.uuid4()), "path": ""}}}}
    elif method == "turn/start":
        result = {{"turn": {{"id": "turn-1", "status": "inProgress", "items": [], "error": None}}}}
    else:
        continue  # turn/interrupt: never answered, nothing more is ever said
    sys.stdout.write(json.dumps({{"id": rid, "result": result}}) + "\n")
    sys.stdout.flush()
"""


async def test_a_hung_server_times_out_is_ended_and_the_next_turn_starts_a_new_one(
    fake: ProviderOnFake,
) -> None:
    import sys

    script = fake.root / "hung-codex"
    script.write_text(HUNG_SERVER.format(python=sys.executable))
    script.chmod(0o755)
    config = fake.with_config(binary=str(script), idle_timeout_s=0.5)
    events = await fake.turn("hi", config=config)
    end = events[-1]
    assert isinstance(end, ErrorEvent) and end.code == "idle_timeout", end
    hung = appserver.find(config)
    assert hung is None  # it never answered turn/interrupt: ended, not kept
    # The next turn gets a new process, which hangs on `thread/resume`: also ended, not kept.
    again = await fake.turn("again", config=config)
    assert isinstance(again[-1], ErrorEvent) and again[-1].code == "idle_timeout", again[-1]
    assert appserver.find(config) is None


async def test_retry_notices_do_not_keep_an_idle_turn_alive(fake: ProviderOnFake) -> None:
    failing = {"http_status": 500, "body": "down", "delay_ms": 400}
    fake.scenario([{"requests": [failing] * 6}, said("next")])
    config = fake.with_config(idle_timeout_s=1.0)
    events = await fake.turn("hi", config=config)
    assert [e.type for e in events].count("warning") >= 2  # the retry notices reached the host
    end = events[-1]
    assert isinstance(end, ErrorEvent) and end.code == "idle_timeout", end


async def test_consume_from_another_process_refuses_a_thread_loaded_in_the_warm_server(
    fake: ProviderOnFake,
) -> None:
    shell = {
        "type": "function_call",
        "name": "exec_command",
        "arguments": {"cmd": "echo HEAVY"},
        "call_id": "call_sh",
    }
    fake.scenario(
        [{"requests": [{"output": [shell]}, {"output": [{"type": "message", "text": "ran"}]}]}]
    )
    ws = fake.workspace()
    first = await fake.turn("run", workspace=ws)
    assert isinstance(first[-1], MessageEnd), first[-1]
    rollout = next(Path(str(fake.config.codex_home)).glob("sessions/*/*/*/*.jsonl"))
    before = rollout.read_bytes()
    other = await asyncio.to_thread(
        fake.cli, "consume", "call_sh", config={"backend": "app-server"}, workspace=ws
    )
    assert other.returncode == 1
    assert "loaded in the warm codex app-server of another plugin process" in other.stderr
    assert rollout.read_bytes() == before
    # This process's own consume unloads the thread first and goes ahead.
    result = await consume_blocks(fake.config, ws, "default", ["call_sh"])
    assert result.consumed == {"call_sh"}
