"""codex's approval requests, fail-closed: only the handler's explicit approval approves; no
handler, an exception, a cancel (`stop`) or an unknown answer each reply a valid decline body."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from plexum_openai_provider.turn.app_server.approvals import (
    ApprovalRouter,
    approval_request,
    approve_body,
)

CMD = "item/commandExecution/requestApproval"


def ask(thread: str = "t1", request_id: int = 1, **params: Any) -> dict[str, Any]:
    body = {"threadId": thread, "command": "touch /x", "cwd": "/w", "reason": "why", **params}
    return {"id": request_id, "method": CMD, "params": body}


async def answered(router: ApprovalRouter, replies: list[Any], count: int) -> None:
    async with asyncio.timeout(5):
        while len(replies) < count:
            await asyncio.sleep(0)


async def test_only_an_explicit_approval_approves() -> None:
    replies: list[tuple[Any, dict[str, Any]]] = []
    router = ApprovalRouter(lambda i, body: replies.append((i, body)))
    assert router.handle({"id": 9, "method": "item/tool/call", "params": {}}) is False
    assert router.handle(ask(request_id=1))  # no turn serves t1: declined at once
    assert replies == [(1, {"decision": "decline"})]

    async def yes(method: str, params: dict[str, Any]) -> dict[str, Any]:
        return approve_body(method, params, "approve")

    async def boom(method: str, params: dict[str, Any]) -> dict[str, Any]:
        raise RuntimeError("host bug")

    router.serve("t1", yes)
    router.handle(ask(request_id=2))
    router.serve("t2", boom)
    router.handle(ask("t2", request_id=3))
    await answered(router, replies, 3)
    assert dict(replies) == {
        1: {"decision": "decline"},
        2: {"decision": "accept"},
        3: {"decision": "decline"},
    }


async def test_a_turn_that_stops_declines_what_it_was_still_asked() -> None:
    replies: list[tuple[Any, dict[str, Any]]] = []
    router = ApprovalRouter(lambda i, body: replies.append((i, body)))

    async def forever(method: str, params: dict[str, Any]) -> dict[str, Any]:
        await asyncio.Event().wait()
        raise AssertionError("unreachable")

    router.serve("t1", forever)
    router.handle(ask(request_id=7))
    router.handle({"id": 8, "method": "applyPatchApproval", "params": {"conversationId": "t1"}})
    await asyncio.sleep(0)
    router.stop("t1")
    await answered(router, replies, 2)
    assert dict(replies) == {7: {"decision": "decline"}, 8: {"decision": "denied"}}


@pytest.mark.parametrize(
    ("decision", "offered", "body"),
    [
        ("approve", None, {"decision": "accept"}),
        ("approve_for_session", ["accept", "acceptForSession"], {"decision": "acceptForSession"}),
        ("approve_for_session", ["accept", "cancel"], {"decision": "accept"}),
        ("yes please", None, {"decision": "decline"}),
        ("decline", None, {"decision": "decline"}),
    ],
)
def test_the_daemons_decision_becomes_codexs_body(
    decision: str, offered: list[str] | None, body: dict[str, str]
) -> None:
    params = {} if offered is None else {"availableDecisions": offered}
    assert approve_body(CMD, params, decision) == body


def test_the_request_the_daemon_sees() -> None:
    request = approval_request(CMD, ask(availableDecisions=["acceptForSession"])["params"])
    assert request.to_json() == {
        "kind": "command",
        "reason": "why",
        "command": "touch /x",
        "cwd": "/w",
        "for_session": True,
    }
    patch = approval_request("item/fileChange/requestApproval", {"changes": [{"path": "/a"}]})
    assert patch.to_json() == {
        "kind": "file_change",
        "reason": None,
        "changes": [{"path": "/a"}],
        "for_session": False,
    }
