"""Tool calls mirrored from the rollout with codex's call ids, and consume on a real rollout."""

from __future__ import annotations

import asyncio
import json
import subprocess
from pathlib import Path
from typing import Any

from plexum_openai_provider.consume import consume_blocks
from plexum_openai_provider.events import ToolCall, ToolResult
from plexum_openai_provider.sessions import SessionStore

from .conftest import ProviderOnFake, types

SHELL = {
    "type": "function_call",
    "name": "exec_command",
    "arguments": {"cmd": "echo HEAVY_PAYLOAD"},
    "call_id": "call_sh1",
}
TOOL_TURN = {"requests": [{"output": [SHELL]}, {"output": [{"type": "message", "text": "ok"}]}]}
PLAIN = {"requests": [{"output": [{"type": "message", "text": "plain"}]}]}


def rollout_of(fake: ProviderOnFake) -> Path:
    record = SessionStore(fake.workspace()).get("default")
    assert record is not None and record.rollout_path is not None
    return Path(record.rollout_path)


async def test_tool_calls_come_before_message_end_with_codex_call_ids(
    provider: ProviderOnFake,
) -> None:
    provider.scenario([TOOL_TURN, PLAIN])
    events = await provider.turn()
    assert types(events)[-3:] == ["tool_call", "tool_result", "message_end"]
    call, result = events[-3], events[-2]
    assert isinstance(call, ToolCall) and isinstance(result, ToolResult)
    assert call.block_id == result.block_id == "call_sh1"
    assert call.name == "exec_command" and json.loads(call.input) == {"cmd": "echo HEAVY_PAYLOAD"}
    assert "HEAVY_PAYLOAD" in result.output and result.is_error is False
    again = await provider.turn("next")
    assert "tool_call" not in types(again)  # only THIS turn's calls


async def test_consume_blanks_the_call_and_keeps_every_other_line(provider: ProviderOnFake) -> None:
    provider.scenario([TOOL_TURN])
    await provider.turn()
    path = rollout_of(provider)
    before = path.read_bytes().splitlines()
    result = await consume_blocks(
        provider.config, provider.workspace(), "default", ["call_sh1", "call_nope"]
    )
    assert result.consumed == {"call_sh1"} and result.unknown == {"call_nope"}
    after = path.read_bytes().splitlines()
    assert len(after) == len(before)
    changed = [i for i, (a, b) in enumerate(zip(before, after, strict=True)) if a != b]
    assert changed, "nothing was rewritten"
    for index in changed:
        line = json.loads(after[index])
        assert line["type"] == "response_item"
        assert line["payload"]["call_id"] == "call_sh1"
        assert b"HEAVY_PAYLOAD" not in after[index]
    payloads = [json.loads(after[i])["payload"] for i in changed]
    assert {"arguments": "{}"}.items() <= next(p for p in payloads if "arguments" in p).items()
    assert any(p.get("output") == "...(tool called)" for p in payloads)


async def test_consume_waits_for_a_running_turn_and_loses_no_line(provider: ProviderOnFake) -> None:
    slow = {**TOOL_TURN, "faults": {"line_delay_ms": 150}}
    provider.scenario([TOOL_TURN, slow])
    await provider.turn()
    turn = asyncio.create_task(provider.turn("second"))
    invocations = provider.fake.log_path
    while len(invocations.read_text().splitlines()) < 2:
        await asyncio.sleep(0.02)
    consumed = await consume_blocks(provider.config, provider.workspace(), "default", ["call_sh1"])
    events = await turn
    assert events[-1].type == "message_end"
    assert consumed.consumed == {"call_sh1"}
    lines = [json.loads(line) for line in rollout_of(provider).read_text().splitlines()]
    completes = [
        ln
        for ln in lines
        if ln["type"] == "event_msg" and ln["payload"].get("type") == "task_complete"
    ]
    assert len(completes) == 2  # the second turn's last line survived the rewrite


def run_cli(fake: ProviderOnFake, command: str, *args: str) -> subprocess.CompletedProcess[str]:
    return fake.cli(command, *args)


def test_block_ids_from_say_json_can_be_consumed_from_the_cli(provider: ProviderOnFake) -> None:
    provider.scenario([TOOL_TURN])
    said = run_cli(provider, "say", "--json", "--no-tools", "run it")
    assert said.returncode == 0, said.stderr
    events: list[dict[str, Any]] = [json.loads(line) for line in said.stdout.splitlines()]
    block_ids = [e["block_id"] for e in events if e["type"] == "tool_call"]
    assert block_ids == ["call_sh1"]
    ok = run_cli(provider, "consume", "--json", *block_ids)
    assert ok.returncode == 0, ok.stderr
    assert json.loads(ok.stdout) == {"consumed": ["call_sh1"], "unknown": []}
    again = run_cli(provider, "consume", "--json", "call_sh1", "call_other")
    assert again.returncode == 1
    assert json.loads(again.stdout) == {"consumed": ["call_sh1"], "unknown": ["call_other"]}


def test_consume_without_a_thread_says_so(provider: ProviderOnFake) -> None:
    result = run_cli(provider, "consume", "call_x")
    assert result.returncode == 1
    assert "has no codex thread" in result.stderr
