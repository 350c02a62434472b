"""A turn as the host asks for it (`TurnRequest`), and the mechanics it rarely changes."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..bridge.spec import ToolCallback, ToolSpec
from ..config import DEFAULT_MODEL


@dataclass(frozen=True)
class TurnLimits:
    """Mechanics a host rarely changes (tests shrink them)."""

    max_line_bytes: int = 64 * 1024 * 1024  # a 1 MiB command_execution line is normal
    kill_grace_s: float = 3.0  # SIGTERM -> SIGKILL
    post_exit_drain_s: float = 2.0  # stdout read after codex exits (a child may hold it open)


@dataclass(frozen=True)
class TurnRequest:
    """One turn. `tools` are offered to codex over MCP; codex's calls go to `call_tool`."""

    prompt: str
    workspace: Path
    session_id: str = "default"
    model: str = DEFAULT_MODEL
    agent_id: str = "cli"
    tools: tuple[ToolSpec, ...] = ()
    call_tool: ToolCallback | None = None
