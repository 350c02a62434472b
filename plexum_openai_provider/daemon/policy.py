"""The reference host's policies: when to consume (context pressure), what to approve.

`over_fraction(terminal, fraction)` reads a turn's `message_end` `context` and says whether the
thread's context is at least that full — the reference host consumes the session's tool blocks
then (`ReferenceHost.turn(consume_over=0.7)`: "consume when over 70 %"). An `ApprovalPolicy`
answers `approval/request` (`ReferenceHost.start(approval_policy=...)`): `approve_commands(...)`
approves a command whose text holds one of the given words and declines everything else.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any

# `approval/request` params → `approve`, `approve_for_session` or `decline`.
ApprovalPolicy = Callable[[Mapping[str, Any]], Awaitable[str]]


def context_fraction(terminal: Mapping[str, Any]) -> float | None:
    """How full the thread's context is after the turn (`message_end.context.fraction`), or None
    when the turn failed or codex reported no window."""
    if terminal.get("type") != "message_end":
        return None
    context = terminal.get("context")
    fraction = context.get("fraction") if isinstance(context, dict) else None
    return float(fraction) if isinstance(fraction, int | float) else None


def over_fraction(terminal: Mapping[str, Any], fraction: float) -> bool:
    full = context_fraction(terminal)
    return full is not None and full >= fraction


def approve_commands(*words: str) -> ApprovalPolicy:
    """Approve a command that contains one of `words`; decline file changes and the rest."""

    async def policy(request: Mapping[str, Any]) -> str:
        command = request.get("command")
        if request.get("kind") == "command" and isinstance(command, str):
            return "approve" if any(word in command for word in words) else "decline"
        return "decline"

    return policy
