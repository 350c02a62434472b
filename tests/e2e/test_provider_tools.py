"""The turn's tools, called by the REAL codex: registration → codex → mcp-host → socket →
warm MCP server → host callback → back to the model; both the classic `function_call` style
(gpt-5.5) and 0.169's default code mode (a JavaScript `exec` calling `tools.mcp__…`)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from fake_codex.testing.fakes import RealCodex
from plexum_openai_provider.bridge.names import namespace, server_name
from plexum_openai_provider.bridge.spec import ToolReply
from plexum_openai_provider.cli.builtin_tools import BUILTIN_TOOLS
from plexum_openai_provider.config import HostConfig
from plexum_openai_provider.events import Item, MessageEnd, ToolCall, ToolResult
from plexum_openai_provider.turn import TurnLimits, TurnRequest, run_turn

pytestmark = pytest.mark.e2e
LIMITS = TurnLimits(kill_grace_s=1.0, post_exit_drain_s=0.5)
AGENT = "agent-e2e"


def config_for(real: RealCodex, tmp: Path, mode: str) -> HostConfig:
    """The provider on the plugin's real codex; `global` mode writes its entry into the same
    config.toml that points codex at the fake server."""
    return HostConfig(
        binary=str(real.binary),
        codex_home=str(real.home),
        idle_timeout_s=30,
        turn_timeout_s=60,
        supported_models=("codex", "gpt"),
        model_args={"gpt": "gpt-5.5"},
        mcp_registration=mode,
        socket_dir=str(tmp / "sock"),
    )


calls: list[tuple[str, dict[str, Any]]] = []


async def host(name: str, arguments: dict[str, Any]) -> ToolReply:
    calls.append((name, arguments))
    return ToolReply.text(f"host says: {arguments.get('text')}")


@pytest.mark.parametrize(
    ("real_codex_version", "mode"),
    [("0.169.0", "per-turn"), ("0.169.0", "global"), ("0.135.0", "per-turn")],
)
async def test_classic_function_call_reaches_the_host_and_back(
    mode: str, real_codex: RealCodex, tmp_path: Path
) -> None:
    calls.clear()
    ns = namespace(server_name(AGENT))
    call = {
        "type": "function_call",
        "namespace": ns,
        "name": "echo",
        "arguments": {"text": "ping 42"},
        "call_id": "call_echo1",
    }
    replies = [{"output": [call]}, {"output": [{"type": "message", "text": "done"}]}]
    real_codex.write_scenario([{"requests": replies}])
    request = TurnRequest(
        prompt="use echo",
        workspace=tmp_path,
        model="gpt",
        agent_id=AGENT,
        tools=BUILTIN_TOOLS,
        call_tool=host,
    )
    events = await run_turn(config_for(real_codex, tmp_path, mode), request, LIMITS)
    second_body = json.dumps(real_codex.requests[1].body)
    assert isinstance(events[-1], MessageEnd), events[-1]
    assert calls == [("echo", {"text": "ping 42"})]
    assert "host says: ping 42" in second_body
    items = [e for e in events if isinstance(e, Item) and e.kind == "mcp_tool_call"]
    assert [i.phase for i in items] == ["started", "completed"]
    mirrored = [e for e in events if isinstance(e, ToolCall | ToolResult)]
    assert [type(e).__name__ for e in mirrored] == ["ToolCall", "ToolResult"]
    assert mirrored[0].block_id == "call_echo1" and mirrored[0].namespace == ns  # type: ignore[union-attr]
    assert "host says: ping 42" in json.dumps(mirrored[1].output)  # type: ignore[union-attr]


@pytest.mark.parametrize("real_codex_version", ["0.169.0"])
async def test_code_mode_exec_calls_the_host_from_javascript(
    real_codex: RealCodex, tmp_path: Path
) -> None:
    calls.clear()
    ns = namespace(server_name(AGENT))
    script = f'const r = await tools.{ns}__echo({{text: "from js"}});\ntext(JSON.stringify(r));'
    call = {
        "type": "custom_tool_call",
        "name": "exec",
        "namespace": "functions",
        "input": script,
        "call_id": "call_js1",
    }
    replies = [{"output": [call]}, {"output": [{"type": "message", "text": "done"}]}]
    real_codex.write_scenario([{"requests": replies}])
    request = TurnRequest(
        prompt="use echo from js",
        workspace=tmp_path,
        agent_id=AGENT,
        tools=BUILTIN_TOOLS,
        call_tool=host,
    )
    events = await run_turn(config_for(real_codex, tmp_path, "per-turn"), request, LIMITS)
    assert isinstance(events[-1], MessageEnd), events[-1]
    assert calls == [("echo", {"text": "from js"})]
    block = next(e for e in events if isinstance(e, ToolCall))
    assert block.block_id == "call_js1" and block.name == "exec"
    assert [c.get("tool") for c in block.inner_calls] == ["echo"]
