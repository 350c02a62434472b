"""`serve` through a real subprocess on the fake codex: initialize, turns and their events,
concurrency, cancel, consume, reverse `tools/call`, shutdown and EOF. Every message crossing the
pipe is validated against docs/protocol.schema.json by the `serve_world` fixture."""

from __future__ import annotations

import asyncio
import json
import re
import signal
import time
from pathlib import Path
from typing import Any

import pytest

from plexum_openai_provider.bridge.names import namespace, server_name
from plexum_openai_provider.daemon.host import DEMO_TOOLS, HostTool, text_result
from plexum_openai_provider.errors import NoReply, RemoteError

from .conftest import group_alive
from .serve_support import ServeWorld, initialized

AGENT = "agent-a"
ECHO_TOOL = [t.spec() for t in DEMO_TOOLS if t.name == "echo"]


def tool_call(agent: str, name: str, arguments: dict[str, Any], call_id: str) -> dict[str, Any]:
    return {
        "type": "function_call",
        "namespace": namespace(server_name(agent)),
        "name": name,
        "arguments": arguments,
        "call_id": call_id,
    }


def calls_then_says(calls: list[dict[str, Any]], text: str = "done") -> dict[str, Any]:
    return {"requests": [{"output": calls}, {"output": [{"type": "message", "text": text}]}]}


def says(text: str) -> dict[str, Any]:
    return {"requests": [{"output": [{"type": "message", "text": text}]}]}


def hangs(**faults: Any) -> dict[str, Any]:
    """A turn whose codex shows one reasoning event, then hangs until it is killed."""
    reasoning = {"type": "reasoning", "summary": ["thinking forever"]}
    message = {"type": "message", "text": "never seen"}
    # thread.started, turn.started, the reasoning item: then nothing.
    return {
        "requests": [{"output": [reasoning, message]}],
        "faults": {"hang_after_lines": 3, **faults},
    }


def turn_params(world: ServeWorld, turn_id: str, text: str = "hi", **over: Any) -> dict[str, Any]:
    params: dict[str, Any] = {
        "turn_id": turn_id,
        "agent": {"id": AGENT, "workspace": str(world.fake.workspace())},
        "session_id": "s1",
        "model": "codex",
        "input": text,
        "tools": [],
    }
    params.update(over)
    return params


async def sent(world: ServeWorld, turn_id: str) -> None:
    """Until the `turn` request of `turn_id` has been written to the plugin (bounded)."""
    async with asyncio.timeout(10):
        while not any(
            d == "to_plugin" and m.get("params", {}).get("turn_id") == turn_id
            for d, m in world.check.messages
        ):
            await asyncio.sleep(0.005)


def without_thread_ids(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Events with what differs between two runs masked: thread ids, the shell's chunk ids and
    timings."""
    text = json.dumps(events)
    text = re.sub(r"Chunk ID: \w+", "Chunk ID: <id>", text)
    text = re.sub(r"Wall time: [0-9.]+ seconds", "Wall time: <t>", text)
    for event in events:
        if event["type"] == "message_end":
            text = text.replace(event["thread_id"], "<thread>")
    out: list[dict[str, Any]] = json.loads(text)
    return out


async def test_initialize_reports_the_version_the_models_and_the_capabilities(
    serve_world: ServeWorld,
) -> None:
    serve_world.write_config(supported_models=["codex", "gpt"], model_args={"gpt": "gpt-5.5"})
    conn = await serve_world.connection()
    try:
        result = await initialized(conn)
    finally:
        assert await conn.close() == 0
    assert result["protocol_version"] == "1"
    assert result["plugin"]["name"] == "plexum-openai-provider"
    assert result["models"] == [
        {"id": "codex", "passes_model": False, "model_arg": None},
        {"id": "gpt", "passes_model": True, "model_arg": "gpt-5.5"},
    ]
    assert result["capabilities"] == {
        "tools": True,
        "consume": True,
        "cancel": True,
        "per_turn_usage": True,
        "backend": "exec",
        "steer": False,
        "fork": True,
        "approvals": False,
        "context": True,
        "sandbox": True,
    }


async def test_an_unsupported_protocol_version_is_an_error_naming_both_versions(
    serve_world: ServeWorld,
) -> None:
    conn = await serve_world.connection()
    try:
        with pytest.raises(RemoteError) as caught:
            await conn.request(
                "initialize", {"protocol_version": "7", "host": {"name": "d", "version": "0"}}
            )
        assert caught.value.code == -32000
        assert "'7'" in caught.value.message and "'1'" in caught.value.message
        assert caught.value.data == {"requested": "7", "supported": ["1"]}
        # Not fatal: the right version still works afterwards.
        assert (await initialized(conn))["protocol_version"] == "1"
    finally:
        assert await conn.close() == 0


async def test_a_turn_streams_exactly_the_events_say_json_prints_then_answers(
    serve_world: ServeWorld,
) -> None:
    shell = {
        "type": "function_call",
        "name": "exec_command",
        "arguments": {"cmd": "echo from-the-shell"},
        "call_id": "call_sh",
    }
    turn = {
        "requests": [
            {
                "output": [{"type": "reasoning", "summary": ["thinking it over"]}, shell],
                "usage": {"input_tokens": 50, "output_tokens": 7},
            },
            {"output": [{"type": "message", "text": "all done"}], "usage": {"input_tokens": 9}},
        ]
    }
    serve_world.fake.scenario([turn, turn])
    say = serve_world.fake.cli("say", "--json", "--no-tools", "--session", "s0", "go")
    assert say.returncode == 0, say.stderr
    printed = [json.loads(line) for line in say.stdout.splitlines()]

    conn = await serve_world.connection()
    try:
        await initialized(conn)
        outcome = await conn.turn(turn_params(serve_world, "t1", "go"))
    finally:
        assert await conn.close() == 0
    assert without_thread_ids(outcome.events) == without_thread_ids(printed)
    assert [e["type"] for e in outcome.events][-3:] == ["tool_call", "tool_result", "message_end"]
    assert outcome.seqs == list(range(len(outcome.events)))
    assert outcome.terminal == outcome.events[-1]
    # The response comes after the turn's last notification.
    kinds = [
        "response" if "result" in m else "note"
        for m in conn.received
        if m.get("method") == "turn/event" or ("result" in m and "event" in m["result"])
    ]
    assert kinds == ["note"] * len(outcome.events) + ["response"]


GATE = (
    "mkdir -p ../gate && mktemp ../gate/m.XXXXXX >/dev/null && "
    "for i in $(seq 300); do [ $(ls ../gate | wc -l) -ge 2 ] && echo together && exit 0; "
    "sleep 0.05; done; echo alone; exit 1"
)


def gate_turn() -> dict[str, Any]:
    call = {"type": "function_call", "name": "exec_command", "arguments": {"cmd": GATE}}
    return calls_then_says([{**call, "call_id": "call_gate"}])


async def test_turns_of_different_agents_run_at_the_same_time(serve_world: ServeWorld) -> None:
    # Each turn's shell command waits (up to 15 s) until the other turn's command has started:
    # it prints `together` only if both turns are running at once.
    serve_world.fake.scenario([gate_turn(), gate_turn()])
    conn = await serve_world.connection()
    try:
        await initialized(conn)
        outcomes = await asyncio.gather(
            *(
                conn.turn(
                    turn_params(
                        serve_world,
                        f"turn-{name}",
                        agent={"id": name, "workspace": str(serve_world.fake.workspace(name))},
                    )
                )
                for name in ("a", "b")
            )
        )
    finally:
        assert await conn.close() == 0
    for outcome in outcomes:
        assert outcome.terminal["type"] == "message_end", outcome.events
        result = next(e for e in outcome.events if e["type"] == "tool_result")
        assert "together" in json.dumps(result["output"])


async def test_turns_on_one_workspace_run_one_after_the_other(serve_world: ServeWorld) -> None:
    short_gate = GATE.replace("seq 300", "seq 30")  # alone, a command gives up after ~1.5 s
    call = {"type": "function_call", "name": "exec_command", "arguments": {"cmd": short_gate}}
    turn = calls_then_says([{**call, "call_id": "call_gate"}])
    serve_world.fake.scenario([turn, turn])
    shared = serve_world.fake.workspace("shared")
    conn = await serve_world.connection()
    try:
        await initialized(conn)
        outcomes = await asyncio.gather(
            *(
                conn.turn(
                    turn_params(
                        serve_world,
                        f"turn-{name}",
                        agent={"id": name, "workspace": str(shared)},
                        session_id=f"session-{name}",
                    )
                )
                for name in ("a", "b")
            )
        )
    finally:
        assert await conn.close() == 0
    outputs = [
        json.dumps(next(e for e in o.events if e["type"] == "tool_result")["output"])
        for o in outcomes
    ]
    # Both commands ran in the same folder: the first alone, the second after it (2 markers).
    assert sorted("alone" if "alone" in o else "together" for o in outputs) == [
        "alone",
        "together",
    ], outputs
    order = [
        m["params"]["turn_id"] if "method" in m else m["result"]["turn_id"]
        for m in conn.received
        if m.get("method") == "turn/event" or "event" in m.get("result", {})
    ]
    first = order[0]
    assert order == [first] * order.count(first) + [o for o in order if o != first]


async def test_cancel_ends_the_turn_and_unknown_or_finished_turns_are_answered(
    serve_world: ServeWorld,
) -> None:
    serve_world.fake.scenario([hangs(), says("after the cancel")])
    conn = await serve_world.connection()
    try:
        await initialized(conn)
        queue = conn.subscribe("t-hang")
        running = asyncio.ensure_future(conn.turn(turn_params(serve_world, "t-hang")))
        await asyncio.wait_for(queue.get(), 30)  # codex is running (it printed one line)
        assert await conn.request("cancel", {"turn_id": "t-hang"}) == {
            "turn_id": "t-hang",
            "status": "cancelling",
        }
        outcome = await asyncio.wait_for(running, 30)
        assert outcome.terminal["type"] == "error" and outcome.terminal["code"] == "cancelled"
        pgid = serve_world.fake.invocations()[0].pgid
        assert not group_alive(pgid)
        assert await conn.request("cancel", {"turn_id": "t-hang"}) == {
            "turn_id": "t-hang",
            "status": "finished",
        }
        assert await conn.request("cancel", {"turn_id": "t-nope"}) == {
            "turn_id": "t-nope",
            "status": "unknown",
        }
        after = await conn.turn(turn_params(serve_world, "t-next", "again"))
        assert after.events[0] == {"type": "text_delta", "text": "after the cancel"}
    finally:
        assert await conn.close() == 0


async def test_the_reference_host_consumes_blocks_from_its_records_and_the_model_sees_the_marker(
    serve_world: ServeWorld,
) -> None:
    heavy = tool_call(AGENT, "read_report", {"rows": 50}, "call_report")
    light = tool_call(AGENT, "echo", {"text": "keep me"}, "call_echo")
    serve_world.fake.scenario(
        [
            calls_then_says([light, heavy], "read it"),
            {
                "expect_history_excludes": ["report row 0042"],
                "expect_history_contains": ["...(tool called)", "keep me"],
                **says("the report is gone from my context"),
            },
        ]
    )
    workspace = serve_world.fake.workspace()
    async with serve_world.host() as host:
        first = await host.turn(AGENT, workspace, "s1", "read the report")
        assert first.terminal["type"] == "message_end", first.events
        assert [c["name"] for c in host.tool_calls] == ["echo", "read_report"]
        assert all(
            c["turn_id"] == first.turn_id and c["agent_id"] == AGENT for c in host.tool_calls
        )
        blocks = {b["id"]: b for b in host.blocks(AGENT, "s1") if b["kind"] == "tool"}
        assert set(blocks) == {"call_echo", "call_report"}
        assert "report row 0042" in json.dumps(blocks["call_report"]["output"])
        result = await host.consume(AGENT, workspace, "s1", lambda b: b["output_bytes"] > 1000)
        assert result == {"consumed": ["call_report"], "unknown": []}
        records = {b["id"]: b for b in host.blocks(AGENT, "s1") if b["kind"] == "tool"}
        assert records["call_report"]["consumed"] and not records["call_echo"]["consumed"]
        second = await host.turn(AGENT, workspace, "s1", "what do you remember?")
        assert second.terminal["type"] == "message_end", second.events
    sent = json.dumps(serve_world.fake.invocations()[-1].extra["model_input"])
    assert "...(tool called)" in sent and "report row 0042" not in sent and "keep me" in sent


async def test_consume_of_a_session_without_a_thread_is_an_error_not_a_crash(
    serve_world: ServeWorld,
) -> None:
    conn = await serve_world.connection()
    try:
        await initialized(conn)
        with pytest.raises(RemoteError) as caught:
            await conn.request(
                "consume",
                {
                    "workspace": str(serve_world.fake.workspace()),
                    "session_id": "nobody",
                    "block_ids": ["call_x"],
                },
            )
        assert caught.value.code == -32006 and "no codex thread" in caught.value.message
        assert (await conn.request("cancel", {"turn_id": "x"}))["status"] == "unknown"
    finally:
        assert await conn.close() == 0


def slow_tool(release: asyncio.Event) -> HostTool:
    async def handler(arguments: Any) -> Any:
        await release.wait()
        return text_result("too late")

    return HostTool("echo", "slow", {"type": "object"}, handler)


async def failing(arguments: Any) -> Any:
    raise RemoteError(-32050, "the tool's database is down")


@pytest.mark.parametrize("behaviour", ["slow", "failing", "garbage", "ok"])
async def test_a_tools_call_answered_badly_gives_codex_an_error_result_and_the_turn_goes_on(
    serve_world: ServeWorld, behaviour: str
) -> None:
    serve_world.write_config(tool_timeout_s=1)
    call = tool_call(AGENT, "echo", {"text": "ping"}, "call_1")
    serve_world.fake.scenario([calls_then_says([call], "carried on")])
    release = asyncio.Event()
    garbage_sent: list[bytes] = []
    conn_box: list[Any] = []

    async def answer(params: Any) -> Any:
        assert params == {
            "turn_id": "t1",
            "agent_id": AGENT,
            "name": "echo",
            "arguments": {"text": "ping"},
        }
        if behaviour == "slow":
            await release.wait()
            return text_result("too late")
        if behaviour == "failing":
            await failing(params)
        if behaviour == "garbage":
            # Not a CallToolResult: written raw, since the schema (rightly) rejects it.
            request_id = next(
                m["id"] for m in reversed(conn_box[0].received) if m.get("method") == "tools/call"
            )
            line = {"jsonrpc": "2.0", "id": request_id, "result": {"content": "not a list"}}
            garbage_sent.append(json.dumps(line).encode())
            await conn_box[0].send_raw(garbage_sent[-1] + b"\n")
            raise NoReply  # the raw line was the answer
        return text_result("pong")

    conn = await serve_world.connection(on_tools_call=answer)
    conn_box.append(conn)
    try:
        await initialized(conn)
        outcome = await conn.turn(turn_params(serve_world, "t1", tools=ECHO_TOOL))
    finally:
        release.set()
        assert await conn.close() == 0
    assert outcome.terminal["type"] == "message_end", outcome.events
    result = next(e for e in outcome.events if e["type"] == "tool_result")
    text = json.dumps(result["output"])
    expected = {
        "slow": "did not answer tools/call for 'echo' within tool_timeout_s=1s",
        "failing": "the tool's database is down (JSON-RPC error -32050)",
        "garbage": "invalid CallToolResult: `content` is not an array",
        "ok": "pong",
    }[behaviour]
    assert expected in text, text
    assert outcome.events[-2]["type"] == "text_delta" or "carried on" in json.dumps(outcome.events)
    if behaviour == "garbage":
        from ..protocol_schema import schema_problems

        assert schema_problems("to_plugin", json.loads(garbage_sent[0]), "tools/call")


async def test_shutdown_cancels_running_turns_reaps_codex_then_answers(
    serve_world: ServeWorld,
) -> None:
    serve_world.fake.scenario([hangs()])
    conn = await serve_world.connection()
    await initialized(conn)
    queue = conn.subscribe("t-hang")
    running = asyncio.ensure_future(conn.turn(turn_params(serve_world, "t-hang")))
    await asyncio.wait_for(queue.get(), 30)
    pgid = serve_world.fake.invocations()[0].pgid
    assert await asyncio.wait_for(conn.request("shutdown"), 30) == {"cancelled": ["t-hang"]}
    outcome = await running
    assert outcome.terminal["code"] == "cancelled"
    assert not group_alive(pgid)
    # The turn's response came before the shutdown's.
    answers = [m["result"] for m in conn.received if "result" in m]
    assert "event" in answers[-2] and answers[-1] == {"cancelled": ["t-hang"]}
    assert await asyncio.wait_for(conn.proc.wait(), 10) == 0
    await conn.close()


@pytest.mark.parametrize("ignore_sigterm", [False, True])
async def test_eof_mid_turn_stops_codex_and_exits_0_within_the_kill_grace(
    serve_world: ServeWorld, ignore_sigterm: bool
) -> None:
    faults: dict[str, Any] = {"grandchild": True}
    if ignore_sigterm:
        faults["ignore_sigterm"] = True
    serve_world.fake.scenario([hangs(**faults)])
    conn = await serve_world.connection()
    await initialized(conn)
    queue = conn.subscribe("t-hang")
    running = asyncio.ensure_future(conn.turn(turn_params(serve_world, "t-hang")))
    await asyncio.wait_for(queue.get(), 30)
    record = serve_world.fake.invocations()[0]
    started = time.monotonic()
    assert await conn.close(timeout=20) == 0
    took = time.monotonic() - started
    kill_grace = 3.0  # TurnLimits' default
    assert took < kill_grace + 1.0, f"serve took {took:.2f}s to exit after EOF"
    assert not group_alive(record.pgid)
    running.cancel()


async def test_serve_refuses_an_invalid_config_before_any_protocol_message(
    serve_world: ServeWorld, tmp_path: Path
) -> None:
    serve_world.config_path.write_text('{"tool_timeout_s": Infinity}')
    proc = await asyncio.create_subprocess_exec(
        *serve_world.argv(),
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), 30)
    assert proc.returncode == 2 and out == b""
    assert b"tool_timeout_s" in err and b"finite" in err


async def test_a_socket_dir_too_long_for_a_unix_socket_ends_the_turn_with_an_mcp_error(
    serve_world: ServeWorld,
) -> None:
    serve_world.write_config(socket_dir=str(serve_world.fake.root / ("d" * 90)))
    conn = await serve_world.connection()
    try:
        await initialized(conn)
        outcome = await conn.turn(turn_params(serve_world, "t1", tools=ECHO_TOOL))
    finally:
        assert await conn.close() == 0
    assert outcome.terminal["type"] == "error" and outcome.terminal["code"] == "mcp"
    assert "socket_dir" in outcome.terminal["message"]
    assert "too long" in outcome.terminal["message"]


async def test_a_turn_waiting_behind_another_turn_of_its_agent_can_be_cancelled(
    serve_world: ServeWorld,
) -> None:
    serve_world.fake.scenario([hangs()])
    conn = await serve_world.connection()
    try:
        await initialized(conn)
        queue = conn.subscribe("t-first")
        first = asyncio.ensure_future(conn.turn(turn_params(serve_world, "t-first")))
        await asyncio.wait_for(queue.get(), 30)
        # Same agent, another workspace: it waits for the agent's running turn.
        other = {"id": AGENT, "workspace": str(serve_world.fake.workspace("other"))}
        second = asyncio.ensure_future(conn.turn(turn_params(serve_world, "t-second", agent=other)))
        await sent(serve_world, "t-second")
        cancel = await conn.request("cancel", {"turn_id": "t-second"})
        assert cancel == {"turn_id": "t-second", "status": "cancelling"}
        waited = await asyncio.wait_for(second, 30)
        assert waited.events == [waited.terminal]
        assert waited.terminal["code"] == "cancelled"
        assert "another turn of the same agent" in waited.terminal["message"]
        assert not first.done()
        await conn.request("cancel", {"turn_id": "t-first"})
        assert (await asyncio.wait_for(first, 30)).terminal["code"] == "cancelled"
        assert len(serve_world.fake.invocations()) == 1  # the second turn never started codex
    finally:
        assert await conn.close() == 0


async def test_sigterm_mid_turn_stops_codex_and_exits_0(serve_world: ServeWorld) -> None:
    serve_world.fake.scenario([hangs(grandchild=True)])
    conn = await serve_world.connection()
    await initialized(conn)
    queue = conn.subscribe("t-hang")
    running = asyncio.ensure_future(conn.turn(turn_params(serve_world, "t-hang")))
    await asyncio.wait_for(queue.get(), 30)
    record = serve_world.fake.invocations()[0]
    conn.proc.terminate()
    assert await asyncio.wait_for(conn.proc.wait(), 10) == 0
    assert not group_alive(record.pgid)
    # The daemon still heard how the turn ended.
    outcome = await asyncio.wait_for(running, 10)
    assert outcome.terminal["code"] == "cancelled"
    await conn.close()


async def test_the_reference_host_keeps_a_tool_output_holding_unicode_line_separators(
    serve_world: ServeWorld,
) -> None:
    # U+2028/U+2029/U+0085 are line breaks to str.splitlines(), not to JSON Lines.
    text = "a\u2028b\u2029c\x85d"
    call = tool_call(AGENT, "echo", {"text": text}, "call_ls")
    serve_world.fake.scenario([calls_then_says([call], "echoed")])
    workspace = serve_world.fake.workspace()
    async with serve_world.host() as host:
        outcome = await host.turn(AGENT, workspace, "s1", "echo it")
        assert outcome.terminal["type"] == "message_end", outcome.events
        tool = [b for b in host.blocks(AGENT, "s1") if b["kind"] == "tool"]
        assert [b["id"] for b in tool] == ["call_ls"]
        assert text in json.dumps(tool[0]["output"], ensure_ascii=False)
        result = await host.consume(AGENT, workspace, "s1")
        assert result == {"consumed": ["call_ls"], "unknown": []}
        assert [b["consumed"] for b in host.blocks(AGENT, "s1") if b["kind"] == "tool"] == [True]


@pytest.mark.parametrize("sig", [signal.SIGHUP, signal.SIGINT], ids=["SIGHUP", "SIGINT"])
async def test_sighup_or_sigint_mid_turn_is_handled_like_sigterm(
    serve_world: ServeWorld, sig: signal.Signals
) -> None:
    serve_world.fake.scenario([hangs(grandchild=True)])
    conn = await serve_world.connection()
    await initialized(conn)
    queue = conn.subscribe("t-hup")
    running = asyncio.ensure_future(conn.turn(turn_params(serve_world, "t-hup")))
    await asyncio.wait_for(queue.get(), 30)
    record = serve_world.fake.invocations()[0]
    conn.proc.send_signal(sig)  # SIGHUP: the daemon's terminal went away
    assert await asyncio.wait_for(conn.proc.wait(), 10) == 0
    assert not group_alive(record.pgid)
    outcome = await asyncio.wait_for(running, 10)
    assert outcome.terminal["code"] == "cancelled"
    workspace = serve_world.fake.workspace()
    assert list(workspace.glob(".*.tmp")) == []
    assert "thread_id" in (workspace / ".plexum-codex-session").read_text()
    await conn.close()
