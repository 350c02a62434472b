"""A hostile or clumsy daemon on `serve` (the fault matrix's daemon rows): bad framing, bad
JSON-RPC shapes, lifecycle abuse, a daemon that stops reading or closes its end, `tools/call`
answered late or twice. Each ends with `held()`: every line serve wrote is valid against the
schema (the fixture checks each one), every started turn got one terminal event and one response,
and no file the project owns in the workspace is corrupt or half-written."""

from __future__ import annotations

import asyncio
import fcntl
import json
import os
import struct
import termios
import time
from pathlib import Path
from typing import Any

import pytest

from plexum_openai_provider.daemon.host import text_result
from plexum_openai_provider.errors import NoReply
from plexum_openai_provider.sessions import SessionStore

from ..protocol_schema import schema_problems
from .conftest import group_alive
from .serve_support import ServeWorld, initialized
from .test_serve import AGENT, ECHO_TOOL, calls_then_says, hangs, says, tool_call, turn_params


def held(world: ServeWorld, *workspaces: Path) -> None:
    """The invariants of every daemon row, over everything that crossed the pipe."""
    started = {
        m["id"]: m["params"]["turn_id"]
        for d, m in world.check.messages
        if d == "to_plugin" and m.get("method") == "turn"
    }
    answered: dict[str, list[dict[str, Any]]] = {}
    terminals: dict[str, int] = {}
    for direction, message in world.check.messages:
        if direction != "to_daemon":
            continue
        if message.get("method") == "turn/event":
            event = message["params"]["event"]
            if event["type"] in ("message_end", "error"):
                turn_id = message["params"]["turn_id"]
                terminals[turn_id] = terminals.get(turn_id, 0) + 1
        elif "method" not in message and message.get("id") in started:
            answered.setdefault(started[message["id"]], []).append(message)
    for turn_id in started.values():
        replies = answered.get(turn_id, [])
        assert len(replies) == 1, (turn_id, replies)
        if "result" in replies[0]:  # a started turn: one terminal event, then the response
            assert terminals.get(turn_id) == 1, (turn_id, terminals)
    for workspace in workspaces:
        SessionStore(workspace).load()  # parses (raises on a corrupt file)
        assert [p.name for p in workspace.iterdir() if p.name.endswith(".tmp")] == []


def request(request_id: Any, method: str, params: Any = None) -> bytes:
    message: dict[str, Any] = {"jsonrpc": "2.0", "id": request_id, "method": method}
    if params is not None:
        message["params"] = params
    return json.dumps(message).encode()


async def next_unsolicited(conn: Any) -> dict[str, Any]:
    answer: dict[str, Any] = await asyncio.wait_for(conn.unsolicited.get(), 30)
    return answer


async def test_bad_framing_is_read_line_by_line_and_every_request_answered(
    serve_world: ServeWorld,
) -> None:
    serve_world.fake.scenario([says("framed")])
    conn = await serve_world.connection()
    await initialized(conn)
    ws = serve_world.fake.workspace()
    cancel = {"turn_id": "nobody"}
    # One request written a byte at a time; two in one write; CRLF; blank and NUL-only lines.
    for byte in request(101, "cancel", cancel) + b"\n":
        await conn.send_raw(bytes([byte]))
    await conn.send_raw(request(102, "cancel", cancel) + b"\n" + request(103, "cancel", cancel))
    await conn.send_raw(b"\r\n\n   \n\x00\n")
    answers = [await next_unsolicited(conn) for _ in range(4)]
    assert [a["id"] for a in answers] == [101, 102, 103, None]
    assert [a.get("result", {}).get("status") for a in answers[:3]] == ["unknown"] * 3
    assert answers[3]["error"]["code"] == -32700  # the NUL line
    # A turn, then EOF right after a last request with no final newline: it is still answered.
    turn = {"jsonrpc": "2.0", "id": 104, "method": "turn", "params": turn_params(serve_world, "t1")}
    serve_world.check("to_plugin", turn, None)
    await conn.send_raw(json.dumps(turn).encode() + b"\n" + request(105, "cancel", cancel))
    assert await conn.close(timeout=30) == 0
    ids = [m.get("id") for m in conn.received if "method" not in m]
    assert 104 in ids and 105 in ids
    held(serve_world, ws)


async def test_bad_json_rpc_shapes_get_errors_and_responses_are_never_answered(
    serve_world: ServeWorld,
) -> None:
    call = tool_call(AGENT, "echo", {"text": "ping"}, "call_1")
    serve_world.fake.scenario([calls_then_says([call], "went on")])
    conn_box: list[Any] = []

    async def surrogate_answer(params: Any) -> Any:
        request_id = next(
            m["id"] for m in reversed(conn_box[0].received) if m.get("method") == "tools/call"
        )
        line = {"jsonrpc": "2.0", "id": request_id, "result": {
            "content": [{"type": "text", "text": "\ud800"}]}}  # fmt: skip
        await conn_box[0].send_raw(json.dumps(line).encode() + b"\n")
        raise NoReply

    conn = await serve_world.connection(on_tools_call=surrogate_answer)
    conn_box.append(conn)
    try:
        await initialized(conn)
        # Responses, however malformed: never answered (two such peers would loop forever).
        for line in (
            b'{"jsonrpc": "2.0", "id": null, "error": {"code": -32600, "message": "x"}}',
            b'{"jsonrpc": "2.0", "id": 1.5, "result": {}}',
            b'{"id": "plugin-9", "result": 1, "error": {}}',
        ):
            await conn.send_raw(line + b"\n")
        # A fractional request id is echoed; a lone surrogate in a tool's schema names the field.
        await conn.send_raw(b'{"jsonrpc": "2.0", "id": 2.5, "method": "cancel"}\n')
        fractional = await next_unsolicited(conn)
        assert fractional["id"] == 2.5 and fractional["error"]["code"] == -32600
        tool = {**ECHO_TOOL[0], "input_schema": {"type": "object", "title": "\udfff"}}
        bad = turn_params(serve_world, "t-bad", tools=[tool])
        await conn.send_raw(request(7, "turn", bad) + b"\n")
        refused = await next_unsolicited(conn)
        assert refused["error"]["code"] == -32602
        assert refused["error"]["data"]["field"] == "params.tools[0].input_schema.title"
        # A tools/call answer holding a lone surrogate: codex gets an error result, goes on.
        outcome = await conn.turn(turn_params(serve_world, "t-tool", tools=ECHO_TOOL))
        assert outcome.terminal["type"] == "message_end", outcome.events
        result = next(e for e in outcome.events if e["type"] == "tool_result")
        assert "lone surrogate" in json.dumps(result["output"])
        assert conn.unsolicited.empty()
    finally:
        assert await conn.close() == 0
    held(serve_world, serve_world.fake.workspace())


async def test_lifecycle_abuse_gets_clear_errors_and_never_a_second_answer(
    serve_world: ServeWorld,
) -> None:
    serve_world.fake.scenario([hangs()])
    conn = await serve_world.connection()
    ws = {"workspace": str(serve_world.fake.workspace()), "session_id": "s", "block_ids": []}
    await conn.send_raw(request("r1", "consume", ws) + b"\n")
    assert (await next_unsolicited(conn))["error"]["code"] == -32001  # initialize first
    await initialized(conn)
    await initialized(conn)  # again: harmless
    queue = conn.subscribe("t-run")
    running = asyncio.ensure_future(conn.turn(turn_params(serve_world, "t-run")))
    await asyncio.wait_for(queue.get(), 30)
    await conn.send_raw(request("r2", "turn", turn_params(serve_world, "t-run")) + b"\n")
    assert (await next_unsolicited(conn))["error"]["code"] == -32002  # its id is taken
    await conn.send_raw(request("r3", "shutdown") + request("r4", "shutdown") + b"\n")  # one line
    assert (await next_unsolicited(conn))["error"]["code"] == -32700
    # In one write, so all three are read before serve stops reading (after shutdown's answer).
    late_turn = request("r7", "turn", turn_params(serve_world, "t-late"))
    await conn.send_raw(
        request("r5", "shutdown") + b"\n" + request("r6", "shutdown") + b"\n" + late_turn + b"\n"
    )
    late = [await next_unsolicited(conn) for _ in range(3)]
    by_id = {a["id"]: a for a in late}
    assert by_id["r6"]["error"]["code"] == -32005 and by_id["r7"]["error"]["code"] == -32005
    assert by_id["r5"]["result"] == {"cancelled": ["t-run"]}
    assert (await asyncio.wait_for(running, 10)).terminal["code"] == "cancelled"
    assert await asyncio.wait_for(conn.proc.wait(), 10) == 0
    await conn.close()
    held(serve_world, serve_world.fake.workspace())


@pytest.mark.parametrize("how", ["late", "twice"])
async def test_a_tools_call_answered_late_or_twice_counts_once_and_the_turn_goes_on(
    serve_world: ServeWorld, how: str
) -> None:
    serve_world.write_config(tool_timeout_s=1)
    call = tool_call(AGENT, "echo", {"text": "ping"}, "call_1")
    serve_world.fake.scenario([calls_then_says([call], "carried on"), says("next")])
    conn_box: list[Any] = []
    late: list[asyncio.Future[None]] = []

    async def answer(params: Any) -> Any:
        conn = conn_box[0]
        request_id = next(
            m["id"] for m in reversed(conn.received) if m.get("method") == "tools/call"
        )
        line = json.dumps({"jsonrpc": "2.0", "id": request_id, "result": text_result("pong")})
        if how == "twice":
            await conn.send_raw(line.encode() + b"\n" + line.encode() + b"\n")
        else:  # after tool_timeout_s: ignored

            async def later() -> None:
                await asyncio.sleep(1.5)  # past tool_timeout_s=1: the point of this row
                await conn.send_raw(line.encode() + b"\n")

            late.append(asyncio.ensure_future(later()))
        raise NoReply

    conn = await serve_world.connection(on_tools_call=answer)
    conn_box.append(conn)
    try:
        await initialized(conn)
        outcome = await conn.turn(turn_params(serve_world, "t1", tools=ECHO_TOOL))
        for task in late:
            await asyncio.wait_for(task, 10)
        after = await conn.turn(turn_params(serve_world, "t2"))
        assert after.terminal["type"] == "message_end", after.events
    finally:
        assert await conn.close() == 0
    assert outcome.terminal["type"] == "message_end", outcome.events
    result = json.dumps(next(e for e in outcome.events if e["type"] == "tool_result")["output"])
    assert ("pong" in result) == (how == "twice"), result
    assert conn.unsolicited.empty()
    held(serve_world, serve_world.fake.workspace())


def _pipe_filled(fd: int) -> int:
    return int(struct.unpack("i", fcntl.ioctl(fd, termios.FIONREAD, b"\0\0\0\0"))[0])


def _big_then_hang() -> dict[str, Any]:
    """A 2 MiB message (one `text_delta` of 2 MiB for the daemon), then codex hangs."""
    big = {"type": "message", "text": "x" * (2 << 20)}
    never = {"type": "message", "text": "never seen"}
    return {"requests": [{"output": [big, never]}], "faults": {"hang_after_lines": 3}}


@pytest.mark.parametrize("how", ["stops_reading", "closes_its_end"])
async def test_a_daemon_that_stops_reading_or_closes_its_end_cannot_hold_serve_up(
    serve_world: ServeWorld, how: str
) -> None:
    serve_world.fake.scenario([_big_then_hang()])
    read_end, write_end = os.pipe()
    proc = await asyncio.create_subprocess_exec(
        *serve_world.argv(), stdin=asyncio.subprocess.PIPE, stdout=write_end
    )
    os.close(write_end)
    assert proc.stdin is not None
    init = {"protocol_version": "1", "host": {"name": "t", "version": "0"}}
    proc.stdin.write(request(1, "initialize", init) + b"\n")
    proc.stdin.write(request(2, "turn", turn_params(serve_world, "t-big")) + b"\n")
    await proc.stdin.drain()
    try:
        if how == "closes_its_end":
            async with asyncio.timeout(30):
                while not serve_world.fake.invocations():
                    await asyncio.sleep(0.02)
            os.close(read_end)
        else:  # serve is blocked writing the 2 MiB event into a full pipe nobody reads
            async with asyncio.timeout(30):
                # (a full pipe reports a little under its 64 KiB: pages are not filled evenly)
                while _pipe_filled(read_end) < 48 * 1024:
                    await asyncio.sleep(0.02)
        pgid = serve_world.fake.invocations()[0].pgid
        started = time.monotonic()
        proc.stdin.close()  # EOF: the way to say goodbye
        assert await asyncio.wait_for(proc.wait(), 20) == 0
        took = time.monotonic() - started
        assert took < 3.0 + 1.5, f"serve took {took:.2f}s to exit"
        assert not group_alive(pgid)
        if how == "stops_reading":
            written = b""
            while chunk := os.read(read_end, 1 << 20):
                written += chunk
            lines = written.split(b"\n")[:-1]  # an abandoned last line has no newline
            assert lines, "serve wrote nothing"
            for line in lines:
                message = json.loads(line)
                assert schema_problems("to_daemon", message, None) == [], message
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
        if how == "stops_reading":
            os.close(read_end)
    held(serve_world, serve_world.fake.workspace())
