"""An approval codex asks for while a turn runs, as the daemon sees it, and the answers it may give.

A turn with a sandbox and `approvals: "daemon"` (app-server backend) hands codex's
`requestApproval` requests to the host's `TurnRequest.approve`. Fail-closed: anything but an
explicit `approve` / `approve_for_session` in time — an error, no answer, a turn being cancelled,
a host that gave no callback — is `decline`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Literal

Decision = Literal["approve", "approve_for_session", "decline"]
DECISIONS: tuple[str, ...] = ("approve", "approve_for_session", "decline")


@dataclass(frozen=True)
class ApprovalRequest:
    """`kind` `command` (with `command`, `cwd`) or `file_change` (with `changes`); `reason` is
    codex's (the model's justification), `for_session` whether codex offers "for this session"."""

    kind: Literal["command", "file_change"]
    reason: str | None = None
    command: str | None = None
    cwd: str | None = None
    changes: Any = None
    for_session: bool = False

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"kind": self.kind, "reason": self.reason}
        if self.kind == "command":
            out.update(command=self.command, cwd=self.cwd)
        else:
            out["changes"] = self.changes
        out["for_session"] = self.for_session
        return out


Approve = Callable[[ApprovalRequest], Awaitable[str]]
