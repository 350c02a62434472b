"""Codex rollout files: find a thread's file, mirror its tool calls, consume (blank) them.

Everything here is a pure function over paths and bytes (stdlib only); the runner owns the
per-thread lock and the remembered path/offset. Locking against a running codex is NOT done here.
"""

from __future__ import annotations

from plexum_openai_provider.rollout.calls import CallParser, parse_tool_calls
from plexum_openai_provider.rollout.consume import ConsumeResult, consume_rollout
from plexum_openai_provider.rollout.errors import RolloutChangedError, RolloutError
from plexum_openai_provider.rollout.locate import is_plain_thread_id, locate_rollout
from plexum_openai_provider.rollout.mirror import MirrorResult, read_tool_calls

__all__ = [
    "CallParser",
    "ConsumeResult",
    "MirrorResult",
    "RolloutChangedError",
    "RolloutError",
    "consume_rollout",
    "is_plain_thread_id",
    "locate_rollout",
    "parse_tool_calls",
    "read_tool_calls",
]
