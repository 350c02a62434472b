"""What codex's automatic compaction decides and keeps (measured on the real 0.135.0, 0.150.1,
0.169.0 and 0.171.0 with a small `model_auto_compact_token_limit`, docs/scenarios.md).

`due`: the LAST model response's tokens (input + output, not the thread's sum) reached the limit;
codex then asks the model for a summary before the next request (mid-turn, after tool calls) or
before a new turn's user message. `replacement_history`: the history that survives — the user
messages (0.150+ also the developer context), then the summary as a user message; tool calls
and their outputs are compacted away. Pure.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from fake_codex.core.events import Totals

SUMMARY_PREFIX = (
    "Another language model started to solve this problem and produced a summary of its "
    "thinking process. You also have access to the state of the tools that were used by that "
    "language model. Use this to build on the work that has already been done and avoid "
    "duplicating work. Here is the summary produced by the other language model, use the "
    "information in this summary to assist with your own analysis:"
)


def due(last: Totals, limit: int | None) -> bool:
    """Whether codex compacts before its next request. (codex 0.150 also counts an estimate of
    the items added since that response: keep a scenario's usage far from the limit.)"""
    return limit is not None and last.input_tokens + last.output_tokens >= limit


def summary_message(summary: str) -> tuple[str, dict[str, Any]]:
    """The `compacted` line's `message` and the user message that carries it."""
    text = f"{SUMMARY_PREFIX}\n{summary}"
    return text, {
        "type": "message",
        "role": "user",
        "content": [{"type": "input_text", "text": text}],
    }


def _is_environment(item: dict[str, Any]) -> bool:
    content = item.get("content")
    first = content[0] if isinstance(content, list) and content else None
    text = first.get("text", "") if isinstance(first, dict) else ""
    return isinstance(text, str) and text.startswith("<environment_context>")


def replacement_history(
    items: Sequence[Any], summary: dict[str, Any], family: int
) -> list[dict[str, Any]]:
    kept: list[dict[str, Any]] = []
    for item in items:
        if not isinstance(item, dict):
            continue
        kind, role = item.get("type"), item.get("role")
        if kind == "message" and role == "user":
            if family >= 150 or not _is_environment(item):
                kept.append(item)
        elif family >= 150 and (
            (kind == "message" and role == "developer") or kind == "additional_tools"
        ):
            kept.append(item)
    return [*kept, summary]
