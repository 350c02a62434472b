"""`demo`'s last part: approvals routed to the daemon, fail-closed.

A second `serve` on the same throwaway world, configured for the app-server backend with
`sandbox: "workspace-write"` and `approvals: "daemon"`; the reference host declares the
capability and answers with a policy (approve a write named "approved-by…", decline the rest).
The fake codex's model asks twice to write outside the workspace: one write runs, one does not.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..daemon.host import ReferenceHost
from ..daemon.policy import approve_commands
from ..errors import DemoFailed

if TYPE_CHECKING:
    from .demo import Show

PROMPT = "Write a summary next to the workspace, and one in the parent folder."


async def approvals_phase(
    root: Path, config: Path, env: Mapping[str, str], show: Show, agent: str, log: int
) -> None:
    workspace = root / "workspace"
    body = json.loads(config.read_text(encoding="utf-8"))
    body.update(backend="app-server", sandbox="workspace-write", approvals="daemon")
    approvals_config = root / "config-approvals.json"
    approvals_config.write_text(json.dumps(body), encoding="utf-8")
    show.heading("approvals: sandbox workspace-write, codex asks the daemon (app-server backend)")
    policy = approve_commands("approved-by")

    async def answer(request: Mapping[str, Any]) -> str:
        decision = await policy(request)
        show.line("asked", f"{request.get('command')} ({request.get('reason')}) -> {decision}")
        show.record({"approval": {**request, "decision": decision}})
        return decision

    async with ReferenceHost.start(
        root / "host-data",
        config_path=approvals_config,
        env=env,
        stderr=log,
        approval_policy=answer,
    ) as host:
        show.line("you", PROMPT)
        outcome = await host.turn(
            agent, workspace, "demo-approvals", PROMPT, tools=False, turn_id="demo-turn-4"
        )
        for event in outcome.events:
            if event["type"] == "text_delta":
                show.line("codex", event["text"])
        if outcome.terminal.get("type") != "message_end":
            raise DemoFailed(f"the approvals turn ended in {outcome.terminal}")
        decisions = [a["decision"] for a in host.approvals]
    approved, declined = root / "approved-by-the-host", root / "declined-by-the-host"
    if decisions != ["approve", "decline"] or not approved.exists() or declined.exists():
        raise DemoFailed(
            f"approvals went {decisions}; approved file {approved.exists()}, declined file "
            f"{declined.exists()}"
        )
    show.line("proof", f"{approved.name} was written; {declined.name} was not")
