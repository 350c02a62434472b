"""The daemon's controls through `serve` on the fake codex (every message schema-checked):
context pressure in `message_end` and the reference host's "consume when over" policy."""

from __future__ import annotations

import json
from typing import Any

from .serve_support import ServeWorld
from .test_serve import AGENT, tool_call


def heavy_turn(input_tokens: int) -> dict[str, Any]:
    report = tool_call(AGENT, "read_report", {"rows": 50}, "call_report")
    done = {"type": "message", "text": "read it"}
    usage = {"input_tokens": input_tokens, "output_tokens": 10}
    return {"requests": [{"output": [report]}, {"output": [done], "usage": usage}]}


async def test_the_reference_host_consumes_when_the_context_is_over_its_fraction(
    serve_world: ServeWorld,
) -> None:
    light_says = {"requests": [{"output": [{"type": "message", "text": "ok"}]}]}
    serve_world.fake.scenario([heavy_turn(1000), heavy_turn(200_000), light_says])
    serve_world.write_config(context_warning_fraction=0.75)
    workspace = serve_world.fake.workspace()
    async with serve_world.host() as host:
        calm = await host.turn(AGENT, workspace, "s1", "read", consume_over=0.7)
        assert calm.terminal["context"]["tokens"] == 1010
        assert not any(b.get("consumed") for b in host.blocks(AGENT, "s1"))
        full = await host.turn(AGENT, workspace, "s1", "read again", consume_over=0.7)
        context = full.terminal["context"]
        assert context["fraction"] >= 0.7 and context["tokens"] == 200_010
        warnings = [e for e in full.events if e["type"] == "warning"]
        assert any("context is 77% full" in w["message"] for w in warnings)
        tools = [b for b in host.blocks(AGENT, "s1") if b["kind"] == "tool"]
        assert tools and all(b["consumed"] for b in tools)
        await host.turn(AGENT, workspace, "s1", "go on")
    sent = json.dumps(serve_world.fake.invocations()[-1].extra["model_input"])
    assert "report row 0042" not in sent and "...(tool called)" in sent
