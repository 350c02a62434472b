"""The daemon's controls through `serve` on the fake codex (every message schema-checked):
context pressure in `message_end` and the reference host's "consume when over" policy; `steer`
on exec answered `steer_unsupported` (the daemon queues it), an unknown turn `not_running`; fork's
refusals; on the fake app-server: approvals (one runs, one declined; none asked of a daemon that
did not declare the capability, and codex is declined), a steer taken by the running turn, fork."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from fake_codex.core.versions import CONTEXT_WINDOW
from plexum_openai_provider.daemon.policy import approve_commands
from plexum_openai_provider.errors import RemoteError

from .serve_support import ServeWorld, initialized
from .test_serve import AGENT, hangs, sent, tool_call, turn_params


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


async def test_steer_on_exec_says_unsupported_so_the_daemon_can_queue_it(
    serve_world: ServeWorld,
) -> None:
    serve_world.fake.scenario([hangs()])
    conn = await serve_world.connection()
    try:
        capabilities = (await initialized(conn))["capabilities"]
        assert capabilities["backend"] == "exec" and capabilities["steer"] is False
        assert capabilities["context"] is True and capabilities["sandbox"] is True
        running = asyncio.create_task(conn.turn(turn_params(serve_world, "t-run")))
        await sent(serve_world, "t-run")
        with pytest.raises(RemoteError) as caught:
            await conn.request("steer", {"turn_id": "t-run", "input": "more"})
        assert caught.value.code == -32007
        assert caught.value.data == {"reason": "steer_unsupported", "turn_id": "t-run"}
        with pytest.raises(RemoteError) as unknown:
            await conn.request("steer", {"turn_id": "t-nope", "input": "more"})
        assert unknown.value.data == {"reason": "not_running", "turn_id": "t-nope"}
        with pytest.raises(RemoteError) as empty:
            await conn.request("steer", {"turn_id": "t-run", "input": "  "})
        assert empty.value.code == -32602 and "params.input" in empty.value.message
        await conn.request("cancel", {"turn_id": "t-run"})
        outcome = await asyncio.wait_for(running, 30)
        assert outcome.terminal["code"] == "cancelled"
    finally:
        assert await conn.close() == 0


async def test_fork_refuses_what_it_cannot_do_and_names_the_reason(serve_world: ServeWorld) -> None:
    serve_world.fake.scenario([{"requests": [{"output": [{"type": "message", "text": "hi"}]}]}])
    workspace = str(serve_world.fake.workspace())
    conn = await serve_world.connection()

    def fork(session: str, new: str) -> dict[str, Any]:
        agent = {"id": AGENT, "workspace": workspace}
        return {"agent": agent, "session_id": session, "new_session_id": new}

    try:
        assert (await initialized(conn))["capabilities"]["fork"] is True
        with pytest.raises(RemoteError) as none:
            await conn.request("fork", fork("s1", "s2"))
        assert none.value.code == -32007 and none.value.data == {"reason": "fork_failed"}
        assert "has no codex thread" in none.value.message
        await conn.turn(turn_params(serve_world, "t-1"))
        with pytest.raises(RemoteError) as taken:
            await conn.request("fork", fork("s1", "s1"))
        assert "must differ" in taken.value.message
    finally:
        assert await conn.close() == 0


def escalated(path: str, call_id: str) -> dict[str, Any]:
    arguments = {
        "cmd": f"touch {path}",
        "sandbox_permissions": "require_escalated",
        "justification": "outside",
    }
    call = {"type": "function_call", "name": "exec_command", "arguments": arguments}
    return {"output": [{**call, "call_id": call_id}]}


async def test_on_the_fake_app_server_approvals_steer_and_fork_reach_codex(
    serve_world: ServeWorld,
) -> None:
    outside = serve_world.fake.root / "outside"
    outside.mkdir()
    said = {"output": [{"type": "message", "text": "done"}]}
    serve_world.fake.scenario(
        [
            {
                "requests": [
                    escalated(f"{outside}/yes", "call_yes"),
                    escalated(f"{outside}/no", "call_no"),
                    said,
                ]
            },
            {"requests": [said]},
        ]
    )
    serve_world.write_config(
        backend="app-server", sandbox="workspace-write", approvals="daemon", approval_timeout_s=5
    )
    workspace = serve_world.fake.workspace()
    async with serve_world.host(approval_policy=approve_commands("yes")) as host:
        assert host.initialize_result["capabilities"]["approvals"] is True
        first = await host.turn(AGENT, workspace, "s1", "write", tools=False)
        assert first.terminal["type"] == "message_end", first.events
        assert first.terminal["context"]["window"] == CONTEXT_WINDOW
        assert [a["decision"] for a in host.approvals] == ["approve", "decline"]
        assert (outside / "yes").exists() and not (outside / "no").exists()
        agent = {"id": AGENT, "workspace": str(workspace)}
        fork = await host.conn.request(
            "fork", {"agent": agent, "session_id": "s1", "new_session_id": "s2"}
        )
        assert fork["forked_from"]["thread_id"] == first.terminal["thread_id"]
        second = await host.turn(AGENT, workspace, "s2", "go on", tools=False)
        assert second.terminal["thread_id"] == fork["thread_id"]
        with pytest.raises(RemoteError) as late:
            await host.conn.request("steer", {"turn_id": second.turn_id, "input": "x"})
        assert late.value.data == {"reason": "not_running", "turn_id": second.turn_id}


async def test_on_the_fake_app_server_a_steer_reaches_the_running_turn(
    serve_world: ServeWorld,
) -> None:
    held = {"output": [{"type": "message", "text": "working"}], "gate": "mid-turn"}
    serve_world.fake.scenario([{"requests": [held]}])
    serve_world.write_config(backend="app-server")
    conn = await serve_world.connection()
    try:
        assert (await initialized(conn))["capabilities"]["steer"] is True
        running = asyncio.create_task(conn.turn(turn_params(serve_world, "t-steer")))
        gate = serve_world.fake.fake.gate("mid-turn")
        await gate.reached(timeout=20)
        answer = await conn.request("steer", {"turn_id": "t-steer", "input": "and this too"})
        assert answer == {"turn_id": "t-steer", "status": "steered"}
        gate.release()
        outcome = await asyncio.wait_for(running, 30)
        assert outcome.terminal["type"] == "message_end", outcome.events
    finally:
        assert await conn.close() == 0


async def test_a_daemon_that_did_not_declare_approvals_gets_none_and_codex_is_declined(
    serve_world: ServeWorld,
) -> None:
    outside = serve_world.fake.root / "outside"
    outside.mkdir()
    said = {"output": [{"type": "message", "text": "done"}]}
    serve_world.fake.scenario([{"requests": [escalated(f"{outside}/x", "call_x"), said]}])
    serve_world.write_config(backend="app-server", sandbox="workspace-write", approvals="daemon")
    async with serve_world.host() as host:  # no approval policy: no capability declared
        outcome = await host.turn(AGENT, serve_world.fake.workspace(), "s1", "go", tools=False)
        assert outcome.terminal["type"] == "message_end", outcome.events
    assert not (outside / "x").exists()
    assert not any(
        d == "to_daemon" and m.get("method") == "approval/request"
        for d, m in serve_world.check.messages
    )
    declined = [
        e for e in outcome.events if e["type"] == "item" and e["detail"].get("status") == "declined"
    ]
    assert len(declined) == 1
