"""The reverse request `approval/request`, fail-closed: the daemon's `approve` or
`approve_for_session` passes; an error, an unknown or missing decision, or no answer in time
is `decline`."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from plexum_openai_provider.config import HostConfig
from plexum_openai_provider.door.controls import approval_callback
from plexum_openai_provider.door.params import TurnParams
from plexum_openai_provider.jsonrpc.messages import Response
from plexum_openai_provider.turn.approval import ApprovalRequest

TURN = TurnParams("t-1", "ada", Path("/w"), "s1", "codex", "hi", ())


class Asker:
    def __init__(self, response: Response | None) -> None:
        self.response = response
        self.sent: list[tuple[str, dict[str, Any], float]] = []

    async def ask(
        self, method: str, params: Mapping[str, Any], timeout_s: float
    ) -> Response | None:
        self.sent.append((method, dict(params), timeout_s))
        return self.response


@pytest.mark.parametrize(
    ("response", "decision"),
    [
        (Response("p-1", result={"decision": "approve"}), "approve"),
        (Response("p-1", result={"decision": "approve_for_session"}), "approve_for_session"),
        (Response("p-1", result={"decision": "sure"}), "decline"),
        (Response("p-1", result={}), "decline"),
        (Response("p-1", error={"code": -1, "message": "x"}, is_error=True), "decline"),
        (None, "decline"),  # no answer within approval_timeout_s
    ],
)
async def test_only_an_explicit_approval_passes(response: Response | None, decision: str) -> None:
    asker = Asker(response)
    approve = approval_callback(asker, HostConfig(approval_timeout_s=7), TURN)
    assert await approve(ApprovalRequest("command", "why", "ls /", "/w")) == decision
    method, params, timeout = asker.sent[0]
    assert (method, timeout) == ("approval/request", 7)
    assert params == {
        "turn_id": "t-1",
        "agent_id": "ada",
        "kind": "command",
        "reason": "why",
        "command": "ls /",
        "cwd": "/w",
        "for_session": False,
    }
