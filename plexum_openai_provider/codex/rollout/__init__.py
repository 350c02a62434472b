"""Codex rollout files: find a thread's file, read its tool calls, blank (consume) them.

Everything here is a pure function over paths and bytes (stdlib only); the callers own the
workspace lock and the remembered path/offset. Locking against a running codex is NOT done here.
"""

from __future__ import annotations

from plexum_openai_provider.codex.rollout.calls import CallParser, parse_tool_calls
from plexum_openai_provider.codex.rollout.locate import locate_rollout
from plexum_openai_provider.codex.rollout.reader import MirrorResult, read_tool_calls
from plexum_openai_provider.codex.rollout.rewrite import ConsumeResult, consume_rollout
from plexum_openai_provider.codex.rollout.splice import DEFAULT_MARKER

__all__ = [
    "DEFAULT_MARKER",
    "CallParser",
    "ConsumeResult",
    "MirrorResult",
    "consume_rollout",
    "locate_rollout",
    "parse_tool_calls",
    "read_tool_calls",
]
