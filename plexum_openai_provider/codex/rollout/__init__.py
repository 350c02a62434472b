"""Codex rollout files: find a thread's file, read its tool calls, blank (consume) them.

Everything here is a pure function over paths and bytes (stdlib only); the callers own the
workspace lock and the remembered path/offset. Locking against a running codex is NOT done here.
Names resolve lazily (PEP 562): `config` needs only `splice.DEFAULT_MARKER` and a turn only the
reader, so importing one submodule must not load the rewriter and the rest.
"""

from __future__ import annotations

import importlib

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (mypy knows the name)
if TYPE_CHECKING:
    from typing import Any

    from plexum_openai_provider.codex.rollout.calls import CallParser, parse_tool_calls
    from plexum_openai_provider.codex.rollout.context import ContextFill, last_context
    from plexum_openai_provider.codex.rollout.locate import locate_rollout
    from plexum_openai_provider.codex.rollout.reader import MirrorResult, read_tool_calls
    from plexum_openai_provider.codex.rollout.rewrite import ConsumeResult, consume_rollout
    from plexum_openai_provider.codex.rollout.splice import DEFAULT_MARKER

_HOMES = {
    "CallParser": "calls",
    "parse_tool_calls": "calls",
    "ContextFill": "context",
    "last_context": "context",
    "locate_rollout": "locate",
    "MirrorResult": "reader",
    "read_tool_calls": "reader",
    "ConsumeResult": "rewrite",
    "consume_rollout": "rewrite",
    "DEFAULT_MARKER": "splice",
}

__all__ = [
    "DEFAULT_MARKER",
    "CallParser",
    "ConsumeResult",
    "ContextFill",
    "MirrorResult",
    "consume_rollout",
    "last_context",
    "locate_rollout",
    "parse_tool_calls",
    "read_tool_calls",
]


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{home}"), name)
    globals()[name] = value  # later lookups skip this function
    return value
