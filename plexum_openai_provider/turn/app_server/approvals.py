"""codex app-server's approval requests → the turn's `approve` callback → a reply codex accepts.

`ApprovalRouter` is the server's: `RpcClient` hands it every request codex makes of us; an
approval of a thread that a turn serves goes to that turn's handler, in a task of its own; every
other approval is declined at once. Whatever happens to the handler — an exception, a deadline, a
cancel (`stop(thread_id)` when the turn ends or is cancelled) — the reply is a valid `decline`
body, never a JSON-RPC error codex might read otherwise.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from ..approval import ApprovalRequest

log = logging.getLogger(__name__)

# Every pinned version's stable schema (v2), and the v1 names older clients were sent.
KINDS = {
    "item/commandExecution/requestApproval": "command",
    "item/fileChange/requestApproval": "file_change",
    "execCommandApproval": "command",
    "applyPatchApproval": "file_change",
}
_V1 = ("execCommandApproval", "applyPatchApproval")
Handler = Callable[[str, dict[str, Any]], Awaitable[dict[str, Any]]]
Reply = Callable[[Any, dict[str, Any]], None]


def decline_body(method: str) -> dict[str, Any]:
    return {"decision": "denied" if method in _V1 else "decline"}


def approve_body(method: str, params: dict[str, Any], decision: str) -> dict[str, Any]:
    """codex's body for `approve` / `approve_for_session` (the latter only where codex offers
    it in `availableDecisions`, else a plain approve); anything else declines."""
    if decision not in ("approve", "approve_for_session"):
        return decline_body(method)
    if method in _V1:
        session = decision == "approve_for_session"
        return {"decision": "approved_for_session" if session else "approved"}
    return {
        "decision": "acceptForSession"
        if for_session(params) and decision.endswith("session")
        else "accept"
    }


def for_session(params: dict[str, Any]) -> bool:
    offered = params.get("availableDecisions")
    return isinstance(offered, list) and "acceptForSession" in offered


def approval_request(method: str, params: dict[str, Any]) -> ApprovalRequest:
    kind = KINDS[method]

    def text(key: str) -> str | None:
        value = params.get(key)
        if isinstance(value, list):
            value = " ".join(str(v) for v in value)
        return value if isinstance(value, str) else None

    if kind == "command":
        return ApprovalRequest(
            "command", text("reason"), text("command"), text("cwd"), None, for_session(params)
        )
    return ApprovalRequest(
        "file_change",
        text("reason"),
        changes=params.get("changes", params.get("fileChanges")),
        for_session=for_session(params),
    )


class ApprovalRouter:
    def __init__(self, reply: Reply) -> None:
        self._reply = reply
        self._handlers: dict[str, Handler] = {}
        self._pending: dict[str, set[asyncio.Task[None]]] = {}

    def handle(self, message: dict[str, Any]) -> bool:
        """A request codex made of us: True when it is an approval (answered here)."""
        method = message.get("method")
        if method not in KINDS:
            return False
        params = message.get("params")
        params = params if isinstance(params, dict) else {}
        thread_id = params.get("threadId", params.get("conversationId"))
        handler = self._handlers.get(thread_id) if isinstance(thread_id, str) else None
        if handler is None or not isinstance(thread_id, str):
            log.info("declining %s for a thread no turn serves", method)
            self._reply(message["id"], decline_body(method))
            return True
        task = asyncio.ensure_future(self._answer(message["id"], method, params, handler))
        self._pending.setdefault(thread_id, set()).add(task)
        task.add_done_callback(self._pending[thread_id].discard)
        return True

    async def _answer(
        self, request_id: Any, method: str, params: dict[str, Any], handler: Handler
    ) -> None:
        body = decline_body(method)
        try:
            body = await handler(method, params)
        except asyncio.CancelledError:
            log.info("approval %s cancelled: declined", method)
        except Exception:
            log.exception("approval handler failed: declined")
        finally:
            self._reply(request_id, body)

    def serve(self, thread_id: str, handler: Handler) -> None:
        self._handlers[thread_id] = handler

    def stop(self, thread_id: str) -> None:
        """The thread's turn is over (or being cancelled): waiting approvals are declined."""
        self._handlers.pop(thread_id, None)
        for task in list(self._pending.get(thread_id, ())):
            task.cancel()
