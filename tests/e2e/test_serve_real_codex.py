"""The REAL codex driven by the reference host through `serve`: a multi-turn session with MCP tool
calls served by the host's `tools/call`, consume chosen from the host's own records, and the next
request to the model carrying the marker instead of the payload. Every message crossing the pipe
is checked against docs/protocol.schema.json."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from fake_codex.testing.fakes import RealCodex
from plexum_openai_provider.bridge.names import namespace, server_name
from plexum_openai_provider.daemon.host import ReferenceHost

from ..protocol_schema import SchemaCheck

pytestmark = pytest.mark.e2e
AGENT = "agent-serve"
MARKER = "...(tool called)"


def call(name: str, arguments: dict[str, Any], call_id: str) -> dict[str, Any]:
    return {
        "type": "function_call",
        "namespace": namespace(server_name(AGENT)),
        "name": name,
        "arguments": arguments,
        "call_id": call_id,
    }


def message(text: str) -> dict[str, Any]:
    return {"output": [{"type": "message", "text": text}]}


@pytest.mark.parametrize("real_codex_version", ["0.135.0", "0.169.0"])
async def test_the_reference_host_runs_a_session_with_tools_and_consume_on_the_real_codex(
    real_codex: RealCodex, tmp_path: Path
) -> None:
    tools = {
        "output": [
            call("echo", {"text": "a small note"}, "call_note"),
            call("read_report", {"rows": 80}, "call_report"),
        ]
    }
    real_codex.write_scenario(
        [
            {"requests": [message("hello from the real codex")]},
            {"requests": [tools, message("I read the report")]},
            {"requests": [message("the report is gone from my context")]},
        ]
    )
    workspace = tmp_path / "ws"
    workspace.mkdir()
    check = SchemaCheck()
    config = tmp_path / "config.json"
    config.write_text(
        json.dumps(
            {
                "binary": str(real_codex.binary),
                "codex_home": str(real_codex.home),
                "extra_args": real_codex.config_args,
                "supported_models": ["gpt"],
                "model_args": {"gpt": "gpt-5.5"},
                "socket_dir": str(tmp_path / "sock"),
                "idle_timeout_s": 30,
                "turn_timeout_s": 90,
            }
        )
    )
    async with ReferenceHost.start(
        tmp_path / "host-data", config_path=config, observe=check
    ) as host:
        first = await host.turn(AGENT, workspace, "s1", "say hello", model="gpt")
        assert first.terminal["type"] == "message_end", first.events
        second = await host.turn(AGENT, workspace, "s1", "read the report", model="gpt")
        assert second.terminal["type"] == "message_end", second.events
        assert second.terminal["thread_id"] == first.terminal["thread_id"]
        # Both calls come in one model response; codex runs them in parallel, so they may reach
        # the host in either order.
        assert sorted(c["name"] for c in host.tool_calls) == ["echo", "read_report"]
        blocks = {b["id"]: b for b in host.blocks(AGENT, "s1") if b["kind"] == "tool"}
        assert set(blocks) == {"call_note", "call_report"}
        assert "report row 0080" in json.dumps(blocks["call_report"]["output"])
        result = await host.consume(AGENT, workspace, "s1", lambda b: b["output_bytes"] > 1000)
        assert result == {"consumed": ["call_report"], "unknown": []}
        third = await host.turn(AGENT, workspace, "s1", "what do you remember?", model="gpt")
        assert third.terminal["type"] == "message_end", third.events
        assert third.terminal["thread_id"] == first.terminal["thread_id"]
    bodies = [json.dumps(r.body) for r in real_codex.requests]
    assert check.failures == [], "\n".join(check.failures)
    assert check.count("to_plugin") > 0 and check.count("to_daemon") > 0
    assert len(bodies) == 4
    # Before consume the model was sent the report; after it, the marker and not the report.
    assert "report row 0080" in bodies[2]
    assert "report row 0080" not in bodies[3] and "report row 0001" not in bodies[3]
    assert MARKER in bodies[3]
    assert "a small note" in bodies[3]
