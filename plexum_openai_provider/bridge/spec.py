"""What a turn offers codex as tools, in plain types (no `mcp` import, so the turn stays light).

`ToolSpec` is one dynamic tool as the model sees it; the host answers a call with a `ToolReply` or
a plain string through a `ToolCallback`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class ToolSpec:
    """One dynamic tool of the turn, as the model will see it."""

    name: str
    description: str
    input_schema: Mapping[str, Any] = field(
        default_factory=lambda: {"type": "object", "properties": {}}
    )


@dataclass(frozen=True)
class ToolReply:
    """What the host returns for a call: MCP content blocks (plain JSON) and optional structure."""

    content: tuple[Mapping[str, Any], ...]
    structured_content: Mapping[str, Any] | None = None
    is_error: bool = False

    @classmethod
    def text(cls, text: str, *, is_error: bool = False) -> ToolReply:
        return cls(content=({"type": "text", "text": text},), is_error=is_error)


ToolCallback = Callable[[str, dict[str, Any]], Awaitable[ToolReply | str]]
PeerCheck = Callable[[int], bool]
