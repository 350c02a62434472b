"""A turn as the host asks for it (`TurnRequest`), and the mechanics it rarely changes."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from ..config import DEFAULT_MODEL

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (mypy knows the name)
if TYPE_CHECKING:  # annotations only: a cold `say` builds a request before it starts codex
    from typing import Any

    from ..bridge.spec import ToolCallback, ToolSpec
    from .approval import Approve


@dataclass(frozen=True)
class TurnLimits:
    """Mechanics a host rarely changes (tests shrink them)."""

    max_line_bytes: int = 64 * 1024 * 1024  # a 1 MiB command_execution line is normal
    # SIGTERM -> SIGKILL; also how long stdout is still read after the post-exit SIGKILL
    kill_grace_s: float = 3.0
    post_exit_drain_s: float = 2.0  # stdout read after codex exits (a child may hold it open)


@dataclass(frozen=True)
class TurnRequest:
    """One turn. `tools` are offered to codex over MCP; codex's calls go to `call_tool`.

    Optional inputs (absent = a plain text turn): `images` (file paths, or the bytes of a PNG,
    JPEG, GIF or WebP), `output_schema` (a JSON Schema object: the final message is then JSON,
    reported as a `structured_output` event), `reasoning_effort` (none, minimal, low, medium,
    high, xhigh) and `codex_options` (allow-listed per-turn `-c` settings, see
    `turn.inputs.CODEX_OPTIONS`). Each applies to this turn only.
    """

    prompt: str
    workspace: Path
    session_id: str = "default"
    model: str = DEFAULT_MODEL
    agent_id: str = "cli"
    tools: tuple[ToolSpec, ...] = ()
    call_tool: ToolCallback | None = None
    images: tuple[Path | str | bytes, ...] = ()
    output_schema: Mapping[str, Any] | None = None
    reasoning_effort: str | None = None
    codex_options: Mapping[str, str] | None = None
    # A sandbox mode narrower than the agent's (config `sandbox`), for this turn only; a wider
    # one ends the turn with `error{config}` before codex starts.
    sandbox: str | None = None
    # Where codex's approval requests go (sandboxed modes, `approvals: "daemon"`, app-server):
    # returns `approve`, `approve_for_session` or `decline`; None declines every one.
    approve: Approve | None = None


def prompt_problem(prompt: str) -> str | None:
    """Why `prompt` cannot be given to codex, or None. Checked before anything starts.

    codex reads UTF-8 from stdin; a prompt with undecodable bytes (a `str` holding lone
    surrogates, as Python makes of non-UTF-8 argv or stdin) is refused rather than altered, so
    the model never sees text the user did not write.
    """
    if not prompt.strip():
        return "the prompt is empty; codex needs some text to answer"
    try:
        prompt.encode("utf-8")
    except UnicodeEncodeError as exc:
        return (
            f"the prompt is not valid UTF-8 (an undecodable byte at character {exc.start}); "
            "codex reads UTF-8 text. Convert it first, e.g. `iconv -f latin1 -t utf-8`."
        )
    return None
