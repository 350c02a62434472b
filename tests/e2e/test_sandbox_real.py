"""The agent's sandbox on the REAL codex, every pinned version, both backends: in
`workspace-write` a shell command writes in the workspace and gets "Read-only file system"
outside it (/tmp included), the turn's MCP tools still reach the host (codex starts `mcp-host`
outside the sandbox), the mirror reports the calls and consume blanks one; a later turn that
narrows to `read-only` cannot write even in the workspace. `message_end` carries the context
figures (tokens of the model's window) on both backends."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from fake_codex.testing.fakes import RealCodex
from plexum_openai_provider.bridge.names import namespace, server_name
from plexum_openai_provider.bridge.spec import ToolReply
from plexum_openai_provider.cli.builtin_tools import BUILTIN_TOOLS
from plexum_openai_provider.consume import consume_blocks
from plexum_openai_provider.events import MessageEnd, ToolCall, ToolResult
from plexum_openai_provider.sandbox import Sandbox
from plexum_openai_provider.turn import TurnLimits, TurnRequest, close_backends, run_turn

from .test_provider_turns import config_for

pytestmark = pytest.mark.e2e
LIMITS = TurnLimits(kill_grace_s=1.0, post_exit_drain_s=0.5)
AGENT = "agent-sbx"
PINNED = ("0.135.0", "0.150.1", "0.169.0", "0.171.0")


def shell(cmd: str, call_id: str) -> dict[str, Any]:
    return {
        "type": "function_call",
        "name": "exec_command",
        "arguments": {"cmd": cmd},
        "call_id": call_id,
    }


def message(text: str) -> dict[str, Any]:
    return {
        "output": [{"type": "message", "text": text}],
        "usage": {"input_tokens": 3000, "output_tokens": 40},
    }


@pytest.mark.parametrize("backend", ["exec", "app-server"])
@pytest.mark.parametrize("real_codex_version", PINNED)
async def test_workspace_write_confines_the_shell_and_keeps_tools_mirror_and_consume(
    backend: str, real_codex: RealCodex, tmp_path: Path
) -> None:
    ws, outside = tmp_path / "ws", tmp_path / "outside"
    ws.mkdir()
    outside.mkdir()
    echo = {
        "type": "function_call",
        "namespace": namespace(server_name(AGENT)),
        "name": "echo",
        "arguments": {"text": "ping 7"},
        "call_id": "call_echo",
    }
    write = f"echo PAYLOAD_77; echo in > {ws}/in.txt; echo out > {outside}/out.txt"
    real_codex.write_scenario(
        [
            {
                "requests": [
                    {"output": [shell(write, "call_sh")]},
                    {"output": [echo]},
                    message("ok"),
                ]
            },
            {
                "requests": [
                    {"output": [{**echo, "call_id": "call_echo_ro"}]},
                    {"output": [shell(f"echo ro > {ws}/ro.txt", "call_ro")]},
                    message("ro"),
                ]
            },
        ]
    )
    config = config_for(
        real_codex,
        supported_models=("gpt",),
        model_args={"gpt": "gpt-5.5"},
        socket_dir=str(tmp_path / "sock"),
        backend=backend,
        sandbox=Sandbox("workspace-write"),
    )
    calls: list[dict[str, Any]] = []

    async def host(name: str, arguments: dict[str, Any]) -> ToolReply:
        calls.append(arguments)
        return ToolReply.text("host says pong")

    def request(prompt: str, sandbox: str | None = None) -> TurnRequest:
        return TurnRequest(
            prompt=prompt,
            workspace=ws,
            model="gpt",
            agent_id=AGENT,
            tools=BUILTIN_TOOLS,
            call_tool=host,
            sandbox=sandbox,
        )

    try:
        first = await run_turn(config, request("write"), LIMITS)
        assert isinstance(first[-1], MessageEnd), first[-1]
        context = first[-1].context  # the figures of the turn's last request, either backend
        assert context is not None and context.tokens == 3040, context
        assert context.window is not None and context.window > 3040
        assert (ws / "in.txt").read_text() == "in\n"
        assert not (outside / "out.txt").exists()
        assert "Read-only file system" in json.dumps(real_codex.requests[1].body)
        assert calls == [{"text": "ping 7"}]
        assert "host says pong" in json.dumps(real_codex.requests[2].body)
        blocks = [e.block_id for e in first if isinstance(e, ToolCall)]
        assert blocks == ["call_sh", "call_echo"]
        assert any(isinstance(e, ToolResult) and "PAYLOAD_77" in e.output for e in first)

        result = await consume_blocks(config, ws, "default", ["call_sh"])
        assert result.consumed == {"call_sh"}
        second = await run_turn(config, request("read only now", "read-only"), LIMITS)
        assert isinstance(second[-1], MessageEnd), second[-1]
        assert second[-1].thread_id == first[-1].thread_id
        assert not (ws / "ro.txt").exists()
        assert calls == [{"text": "ping 7"}, {"text": "ping 7"}]  # the tool works in read-only too
        last = json.dumps(real_codex.requests[-1].body)
        assert "PAYLOAD_77" not in last and "...(tool called)" in last
    finally:
        await close_backends()
