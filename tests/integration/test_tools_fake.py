"""The turn's tools through the whole chain on the fake codex: registration → codex → mcp-host →
socket → plugin → host and back; global registration kept right; agents kept apart."""

from __future__ import annotations

import asyncio
import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from plexum_openai_provider.bridge.names import namespace, server_name
from plexum_openai_provider.bridge.spec import ToolReply
from plexum_openai_provider.cli.builtin_tools import BUILTIN_TOOLS
from plexum_openai_provider.cli.say import default_agent_id
from plexum_openai_provider.consume import consume_blocks
from plexum_openai_provider.events import ErrorEvent, Item, MessageEnd, ToolCall
from plexum_openai_provider.turn import TurnRequest, run_turn

from .conftest import FAST_LIMITS, ProviderOnFake


def echo_call(agent: str, text: str, call_id: str = "call_e1") -> dict[str, Any]:
    return {
        "type": "function_call",
        "namespace": namespace(server_name(agent)),
        "name": "echo",
        "arguments": {"text": text},
        "call_id": call_id,
    }


def tool_turn(agent: str, text: str) -> dict[str, Any]:
    return {
        "requests": [
            {"output": [echo_call(agent, text)]},
            {"output": [{"type": "message", "text": "done"}]},
        ]
    }


@pytest.mark.parametrize("mode", ["per-turn", "global"])
def test_say_calls_the_builtin_echo_end_to_end(provider: ProviderOnFake, mode: str) -> None:
    agent = default_agent_id(provider.workspace())  # say's agent when --agent is not given
    provider.scenario([tool_turn(agent, "ping 42")], codex_version="0.135.0")
    config = {"mcp_registration": mode, "socket_dir": str(provider.root / "sock")}
    result = provider.cli("say", "--json", "call echo", config=config)
    assert result.returncode == 0, result.stderr
    events = [json.loads(line) for line in result.stdout.splitlines()]
    items = [e for e in events if e["type"] == "item" and e["kind"] == "mcp_tool_call"]
    assert [i["phase"] for i in items] == ["started", "completed"]
    assert items[-1]["detail"]["result"]["content"][0]["text"] == "ping 42"
    assert items[-1]["detail"]["status"] == "completed"
    calls = [e for e in events if e["type"] in ("tool_call", "tool_result")]
    assert [e["block_id"] for e in calls] == ["call_e1", "call_e1"]
    assert events[-1]["type"] == "message_end"


def mcp_get(provider: ProviderOnFake, name: str) -> dict[str, Any]:
    out = subprocess.run(
        [str(provider.fake.executable), "mcp", "get", name, "--json"],
        capture_output=True,
        text=True,
        timeout=30,
        env=provider.fake.env,
    )
    assert out.returncode == 0, out.stderr
    return dict(json.loads(out.stdout))


async def test_global_registration_is_idempotent_and_repairs_a_stale_entry(
    provider: ProviderOnFake,
) -> None:
    provider.scenario([{"requests": [{"output": [{"type": "message", "text": "x"}]}]}] * 3)
    home = Path(str(provider.config.codex_home))
    config = provider.with_config(
        mcp_registration="global", socket_dir=str(provider.root / "sockA")
    )
    request = TurnRequest(
        prompt="hi",
        workspace=provider.workspace(),
        agent_id="a1",
        tools=BUILTIN_TOOLS,
        call_tool=host_echo,
    )
    assert isinstance((await run_turn(config, request, FAST_LIMITS))[-1], MessageEnd)
    entry = mcp_get(provider, server_name("a1"))
    assert entry["transport"]["env"]["PLEXUM_MCP_AGENT_ID"] == "a1"
    first_toml = (home / "config.toml").read_bytes()
    assert isinstance((await run_turn(config, request, FAST_LIMITS))[-1], MessageEnd)
    assert (home / "config.toml").read_bytes() == first_toml
    moved = provider.with_config(mcp_registration="global", socket_dir=str(provider.root / "sockB"))
    assert isinstance((await run_turn(moved, request, FAST_LIMITS))[-1], MessageEnd)
    socket = mcp_get(provider, server_name("a1"))["transport"]["env"]["PLEXUM_MCP_SOCKET"]
    assert socket.startswith(str(provider.root / "sockB"))


async def host_echo(name: str, arguments: dict[str, Any]) -> ToolReply:
    return ToolReply.text(str(arguments.get("text")))


async def test_an_agent_cannot_reach_another_agents_tools(provider: ProviderOnFake) -> None:
    """Global mode: A's codex starts B's mcp-host while B's turn runs, and is refused."""
    b_called: list[dict[str, Any]] = []
    release_b = asyncio.Event()

    async def host_b(name: str, arguments: dict[str, Any]) -> ToolReply:
        b_called.append(arguments)
        if arguments.get("text") == "from B":
            await asyncio.wait_for(release_b.wait(), 30)  # keep B's turn running
        return ToolReply.text("B's secret")

    provider.scenario(
        [
            tool_turn("agent-b", "from B"),
            {
                "requests": [
                    {"output": [echo_call("agent-b", "from A", "call_steal")]},
                    {"output": [{"type": "message", "text": "A done"}]},
                ]
            },
        ],
        codex_version="0.135.0",
    )
    base = provider.with_config(mcp_registration="global", socket_dir=str(provider.root / "sock"))
    b_request = TurnRequest(
        prompt="b",
        workspace=provider.workspace("wb"),
        agent_id="agent-b",
        tools=BUILTIN_TOOLS,
        call_tool=host_b,
    )
    b_turn = asyncio.create_task(run_turn(base, b_request, FAST_LIMITS))
    while not b_called:
        await asyncio.sleep(0.02)
    a_request = TurnRequest(
        prompt="a",
        workspace=provider.workspace("wa"),
        agent_id="agent-a",
        tools=BUILTIN_TOOLS,
        call_tool=host_echo,
    )
    a_events = await run_turn(base, a_request, FAST_LIMITS)
    release_b.set()
    b_events = await b_turn
    assert isinstance(a_events[-1], MessageEnd) and isinstance(b_events[-1], MessageEnd)
    assert b_called == [{"text": "from B"}]  # A's call never reached B's host
    assert not [e for e in a_events if isinstance(e, Item) and e.kind == "mcp_tool_call"]
    assert "B's secret" not in json.dumps([e.to_json() for e in a_events])


SHELL = {
    "type": "function_call",
    "name": "exec_command",
    "arguments": {"cmd": "echo HEAVY_PAYLOAD_7"},
    "call_id": "call_heavy",
}
RESUME_SEES_MARKER = {
    "expect_history_excludes": ["HEAVY_PAYLOAD_7"],
    "expect_history_contains": ["...(tool called)"],
    "requests": [{"output": [{"type": "message", "text": "resumed"}]}],
}
FIRST = {"requests": [{"output": [SHELL]}, {"output": [{"type": "message", "text": "ran"}]}]}


async def test_after_consume_a_resumed_codex_sees_the_marker_not_the_payload(
    provider: ProviderOnFake,
) -> None:
    provider.scenario([FIRST, RESUME_SEES_MARKER])
    first = await provider.turn("run it")
    assert [e.block_id for e in first if isinstance(e, ToolCall)] == ["call_heavy"]
    result = await consume_blocks(provider.config, provider.workspace(), "default", ["call_heavy"])
    assert result.consumed == {"call_heavy"}
    second = await provider.turn("again")
    assert isinstance(second[-1], MessageEnd), second[-1]


async def test_without_consume_the_history_check_fails(provider: ProviderOnFake) -> None:
    provider.scenario([FIRST, RESUME_SEES_MARKER])
    await provider.turn("run it")
    second = await provider.turn("again")
    end = second[-1]
    assert isinstance(end, ErrorEvent) and end.code == "exit"
    assert "expect_history_contains" in end.message and "(tool called)" in end.message
