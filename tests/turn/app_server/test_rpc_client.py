"""The JSON-RPC client over a child's stdio: replies matched by id, notifications routed by
thread, garbage and over-long lines skipped without losing what follows, a request from the server
refused, and every waiter woken when the child's stdout closes."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import AsyncIterator

import pytest

from plexum_openai_provider.errors import RemoteError, ReplyTooLong, ServerGone
from plexum_openai_provider.turn.app_server.rpc_client import CLOSED, RpcClient

# A scripted server: for each request line, the lines it answers with ({id} = the request's id).
SCRIPT = r"""
import json, sys
for raw in sys.stdin:
    msg = json.loads(raw)
    if "id" not in msg:
        continue
    rid, method = msg["id"], msg["method"]
    out = []
    if method == "chatty":
        out.append("this is not json")
        out.append(json.dumps({"method": "item/agentMessage/delta",
                               "params": {"threadId": "t1", "delta": "a"}}))
        out.append("x" * 5000)
        out.append(json.dumps({"method": "item/agentMessage/delta",
                               "params": {"threadId": "t2", "delta": "b"}}))
        out.append(json.dumps({"id": 99, "method": "item/commandExecution/requestApproval",
                               "params": {}}))
        out.append(json.dumps({"id": rid, "result": {"ok": True}}))
    elif method == "fail":
        out.append(json.dumps({"id": rid, "error": {"code": -32600, "message": "nope"}}))
    elif method == "huge":
        out.append(json.dumps({"id": rid, "result": {"history": "h" * 5000}}))
        out.append(json.dumps({"id": 77, "result": {"history": "h" * 5000}}))
    elif method == "die":
        sys.exit(3)
    elif method == "echo-approval-reply":
        out.append(json.dumps({"id": rid, "result": {"seen": LAST}}))
    for line in out:
        sys.stdout.write(line + "\n")
    sys.stdout.flush()
    if method == "chatty":
        LAST = json.loads(sys.stdin.readline())  # our answer to the approval request
"""


@pytest.fixture
async def client() -> AsyncIterator[RpcClient]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        SCRIPT,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
    )
    rpc = RpcClient(proc, max_line_bytes=1000)
    rpc.start()
    yield rpc
    await rpc.aclose()
    if proc.returncode is None:
        proc.kill()
    await proc.wait()


async def test_garbage_and_long_lines_are_skipped_and_notifications_reach_their_thread(
    client: RpcClient,
) -> None:
    t1, t2 = client.subscribe("t1"), client.subscribe("t2")
    result = await asyncio.wait_for(client.request("chatty", {}), 10)
    assert result == {"ok": True}
    assert t1.get_nowait() == ("item/agentMessage/delta", {"threadId": "t1", "delta": "a"})
    assert t2.get_nowait() == ("item/agentMessage/delta", {"threadId": "t2", "delta": "b"})
    # The server's own request was refused, not left hanging.
    seen = await asyncio.wait_for(client.request("echo-approval-reply", {}), 10)
    assert seen["seen"]["id"] == 99 and seen["seen"]["error"]["code"] == -32601


async def test_an_error_reply_raises_rpc_error_with_codes_message(client: RpcClient) -> None:
    with pytest.raises(RemoteError) as info:
        await asyncio.wait_for(client.request("fail", {}), 10)
    assert (info.value.code, info.value.message) == (-32600, "nope")


async def test_the_child_exiting_wakes_the_pending_request_and_every_queue(
    client: RpcClient,
) -> None:
    queue = client.subscribe("t1")
    with pytest.raises(ServerGone):
        await asyncio.wait_for(client.request("die", {}), 10)
    assert await asyncio.wait_for(queue.get(), 10) is CLOSED
    assert client.subscribe("t9").get_nowait() is CLOSED
    with pytest.raises(ServerGone):
        await client.request("anything", {})


async def test_a_reply_over_the_line_limit_fails_its_request_at_once(client: RpcClient) -> None:
    with pytest.raises(ReplyTooLong, match="over the line limit"):
        await asyncio.wait_for(client.request("huge", {}), 5)
    # The client goes on: the next request is answered as usual.
    with pytest.raises(RemoteError, match="nope"):
        await asyncio.wait_for(client.request("fail", {}), 5)
