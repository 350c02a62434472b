"""The provider's own turns against the REAL codex and the fake Responses server (the seed's
manual E2E, automated): a turn, a resumed turn, prompts that look like flags, a cancel that
leaves no codex behind — also when codex is started through the npm node launcher."""

from __future__ import annotations

import asyncio
import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from fake_codex.testing.fakes import RealCodex
from plexum_openai_provider.config import HostConfig
from plexum_openai_provider.consume import consume_blocks
from plexum_openai_provider.events import ErrorEvent, MessageEnd, TextDelta, ToolCall
from plexum_openai_provider.turn import TurnLimits, TurnRequest, open_turn, run_turn

pytestmark = pytest.mark.e2e
LIMITS = TurnLimits(kill_grace_s=1.0, post_exit_drain_s=0.5)


def reply(text: str, tokens: int = 12) -> dict[str, Any]:
    return {
        "output": [{"type": "message", "text": text}],
        "usage": {"input_tokens": tokens, "output_tokens": 3},
    }


def last_user_text(body: dict[str, Any]) -> str:
    for item in reversed(body["input"]):
        if item.get("role") == "user":
            return "".join(part.get("text", "") for part in item["content"])
    raise AssertionError("no user message in the request")


def config_for(real: RealCodex, binary: Path | None = None, **overrides: Any) -> HostConfig:
    """The provider on the plugin's real codex (its CODEX_HOME points codex at the server)."""
    return HostConfig(
        binary=str(binary or real.binary),
        codex_home=str(real.home),
        idle_timeout_s=30,
        turn_timeout_s=60,
        **overrides,
    )


async def test_turn_then_resume_on_the_real_codex(real_codex: RealCodex, tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    ws.mkdir()
    real_codex.write_scenario(
        [{"requests": [reply("first answer")]}, {"requests": [reply("second answer")]}]
    )
    config = config_for(real_codex)
    first = await run_turn(config, TurnRequest(prompt="--help", workspace=ws), LIMITS)
    second = await run_turn(config, TurnRequest(prompt="-m x", workspace=ws), LIMITS)
    assert first[0] == TextDelta("first answer") and second[0] == TextDelta("second answer")
    end1, end2 = first[-1], second[-1]
    assert isinstance(end1, MessageEnd) and isinstance(end2, MessageEnd)
    assert end1.thread_id == end2.thread_id
    assert end1.usage.input_tokens == 12 and end2.usage.input_tokens == 12
    assert end2.thread_usage.input_tokens == 24
    bodies = [r.body for r in real_codex.requests]
    assert [last_user_text(b) for b in bodies] == ["--help", "-m x"]


async def test_a_failed_request_ends_the_turn_with_one_error(
    real_codex: RealCodex, tmp_path: Path
) -> None:
    unauthorized = {"http_status": 401, "body": {"error": {"message": "Incorrect API key"}}}
    real_codex.write_scenario([{"requests": [unauthorized]}])
    events = await run_turn(
        config_for(real_codex), TurnRequest(prompt="hi", workspace=tmp_path), LIMITS
    )
    end = events[-1]
    assert isinstance(end, ErrorEvent) and end.code == "auth"
    assert "codex login" in end.message
    assert [e.type for e in events].count("error") == 1


def codex_processes(home: Path) -> set[int]:
    """Live codex processes on this test's CODEX_HOME (the machine may run other codexes)."""
    found = set()
    marker = f"CODEX_HOME={home}".encode() + b"\0"
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                cmdline = (entry / "cmdline").read_bytes()
                environ = (entry / "environ").read_bytes() + b"\0"
            except OSError:
                continue
            if b".codex-cache" in cmdline and marker in environ:
                found.add(int(entry.name))
    return found


@pytest.mark.parametrize("real_codex_version", ["0.169.0"])
@pytest.mark.parametrize("launcher", ["native", "node"])
async def test_cancel_mid_turn_leaves_no_codex_process(
    launcher: str, real_codex: RealCodex, tmp_path: Path
) -> None:
    native = real_codex.binary
    binary = native
    if launcher == "node":
        binary = Path(str(native).split("/node_modules/")[0]) / "node_modules/.bin/codex"
        assert binary.exists(), binary
    held = {"output": [{"type": "message", "text": "held"}], "gate": "model"}
    real_codex.write_scenario([{"requests": [held]}])
    gate = real_codex.gate("model")
    before = codex_processes(real_codex.home)
    request = TurnRequest(prompt="hi", workspace=tmp_path)
    async with open_turn(config_for(real_codex, binary), request, LIMITS) as turn:
        events = asyncio.create_task(_collect(turn))
        await gate.reached(timeout=20)  # codex is streaming the reply, the model holds
        turn.cancel()
        result = await asyncio.wait_for(events, 20)
    gate.release()
    assert result[-1] == ErrorEvent("cancelled", "the turn was cancelled")
    deadline = asyncio.get_running_loop().time() + 5
    while (
        codex_processes(real_codex.home) - before and asyncio.get_running_loop().time() < deadline
    ):
        await asyncio.sleep(0.05)
    assert codex_processes(real_codex.home) - before == set()


async def _collect(turn: Any) -> list[Any]:
    return [event async for event in turn]


async def test_consume_then_resume_sends_the_marker_not_the_payload(
    real_codex: RealCodex, tmp_path: Path
) -> None:
    shell = {
        "type": "function_call",
        "name": "exec_command",
        "arguments": {"cmd": "echo HEAVY_PAYLOAD_42"},
        "call_id": "call_heavy",
    }
    real_codex.write_scenario(
        [{"requests": [{"output": [shell]}, reply("ran it")]}, {"requests": [reply("resumed")]}]
    )
    config = config_for(real_codex)
    config = replace(config, supported_models=("gpt",), model_args={"gpt": "gpt-5.5"})
    first = await run_turn(
        config, TurnRequest(prompt="run", workspace=tmp_path, model="gpt"), LIMITS
    )
    calls = [e for e in first if isinstance(e, ToolCall)]
    assert [c.block_id for c in calls] == ["call_heavy"]
    result = await consume_blocks(config, tmp_path, "default", ["call_heavy"])
    assert result.consumed == {"call_heavy"}
    second = await run_turn(
        config, TurnRequest(prompt="again", workspace=tmp_path, model="gpt"), LIMITS
    )
    assert isinstance(second[-1], MessageEnd), second[-1]
    last_body = json.dumps(real_codex.requests[-1].body)
    assert "HEAVY_PAYLOAD_42" not in last_body
    assert "...(tool called)" in last_body
