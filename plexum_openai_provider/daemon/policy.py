"""The reference host's policies: when to consume (context pressure), what to approve.

`over_fraction(terminal, fraction)` reads a turn's `message_end` `context` and says whether the
thread's context is at least that full — the reference host consumes the session's tool blocks
then (`ReferenceHost.turn(consume_over=0.7)`: "consume when over 70 %").
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


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
