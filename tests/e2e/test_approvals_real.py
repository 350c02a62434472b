"""Approvals routed to the daemon, fail-closed, on the REAL codex app-server (every pinned
version) through `serve` and the reference host: in `workspace-write` with `approvals: "daemon"`
the model asks to write outside the workspace four times — the host approves one (it runs),
declines one, never answers one (declined at `approval_timeout_s`), and one arrives as the turn
is cancelled (declined). Every message crossing the pipe is checked against the schema."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from fake_codex.testing.fakes import RealCodex
from plexum_openai_provider.daemon.host import ReferenceHost

from ..protocol_schema import SchemaCheck

pytestmark = pytest.mark.e2e
AGENT = "agent-approvals"
PINNED = ("0.135.0", "0.150.1", "0.169.0", "0.171.0")


def escalated(path: Path, call_id: str) -> dict[str, Any]:
    arguments = {
        "cmd": f"touch {path}",
        "sandbox_permissions": "require_escalated",
        "justification": f"write {path.name} outside the workspace",
    }
    call = {"type": "function_call", "name": "exec_command", "arguments": arguments}
    return {"output": [{**call, "call_id": call_id}]}


def message(text: str) -> dict[str, Any]:
    return {"output": [{"type": "message", "text": text}]}


@pytest.mark.parametrize("real_codex_version", PINNED)
async def test_the_daemon_approves_one_and_every_other_approval_is_declined(
    real_codex: RealCodex, tmp_path: Path
) -> None:
    workspace, outside = tmp_path / "ws", tmp_path / "outside"
    workspace.mkdir()
    outside.mkdir()
    real_codex.write_scenario(
        [
            {
                "requests": [
                    escalated(outside / "approved", "call_yes"),
                    escalated(outside / "declined", "call_no"),
                    escalated(outside / "unanswered", "call_silent"),
                    message("three asked"),
                ]
            },
            {"requests": [escalated(outside / "cancelled", "call_cancel"), message("never")]},
        ]
    )
    config = tmp_path / "config.json"
    config.write_text(
        json.dumps(
            {
                "binary": str(real_codex.binary),
                "codex_home": str(real_codex.home),
                "supported_models": ["gpt"],
                "model_args": {"gpt": "gpt-5.5"},
                "idle_timeout_s": 30,
                "turn_timeout_s": 90,
                "backend": "app-server",
                "sandbox": "workspace-write",
                "approvals": "daemon",
                "approval_timeout_s": 2,
            }
        )
    )
    asked_to_cancel = asyncio.Event()

    async def policy(request: Mapping[str, Any]) -> str:
        command = str(request.get("command"))
        if "approved" in command:
            return "approve"
        if "unanswered" in command or "cancelled" in command:
            asked_to_cancel.set()
            await asyncio.Event().wait()  # never answers
        return "decline"

    check = SchemaCheck()
    async with ReferenceHost.start(
        tmp_path / "host-data", config_path=config, observe=check, approval_policy=policy
    ) as host:
        assert host.initialize_result["capabilities"]["approvals"] is True
        first = await host.turn(AGENT, workspace, "s1", "write outside", model="gpt", tools=False)
        assert first.terminal["type"] == "message_end", first.events
        asked = [a["command"] for a in host.approvals]
        assert len(asked) == 2 and "approved" in asked[0] and "declined" in asked[1]
        assert [a["decision"] for a in host.approvals] == ["approve", "decline"]
        assert all(a["kind"] == "command" and a["cwd"] == str(workspace) for a in host.approvals)
        assert "write approved outside" in str(host.approvals[0]["reason"])
        assert (outside / "approved").exists()
        assert not (outside / "declined").exists() and not (outside / "unanswered").exists()

        asked_to_cancel.clear()
        turn_id = "cancel-me"
        running = asyncio.create_task(
            host.turn(AGENT, workspace, "s1", "again", model="gpt", tools=False, turn_id=turn_id)
        )
        await asyncio.wait_for(asked_to_cancel.wait(), 30)
        await host.conn.request("cancel", {"turn_id": turn_id})
        cancelled = await asyncio.wait_for(running, 30)
        assert cancelled.terminal == {
            "type": "error",
            "code": "cancelled",
            "message": "the turn was cancelled",
        }
        assert not (outside / "cancelled").exists()
    # What codex got for each: the declined ones show as declined command items.
    statuses = {
        e["detail"].get("command", "").split()[-1].rstrip("'"): e["detail"].get("status")
        for e in first.events
        if e["type"] == "item" and e["phase"] == "completed" and e["kind"] == "command_execution"
    }
    assert statuses[str(outside / "declined")] == "declined"
    assert statuses[str(outside / "unanswered")] == "declined"
    assert check.failures == [], check.failures
