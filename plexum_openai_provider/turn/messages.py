"""What a user is told when a turn stops early or codex cannot run: what happened, what to do."""

from __future__ import annotations

from ..config import HostConfig
from ..events import ErrorEvent


def stop_event(config: HostConfig, code: str, *, waiting_for_lock: bool = False) -> ErrorEvent:
    """The terminal event of a turn stopped by the host (`cancelled`) or by a time limit."""
    where = " while waiting for another turn on this workspace" if waiting_for_lock else ""
    if code == "cancelled":
        return ErrorEvent("cancelled", f"the turn was cancelled{where}")
    if code == "timeout":
        return ErrorEvent(
            "timeout",
            f"the turn ran longer than turn_timeout_s={config.turn_timeout_s:g}s{where}; codex "
            "was stopped. Raise `turn_timeout_s` in config.json for longer turns.",
        )
    return ErrorEvent(
        "idle_timeout",
        f"codex printed nothing for idle_timeout_s={config.idle_timeout_s:g}s while no command "
        "or tool call was running (a dead network makes codex retry forever); it was stopped. "
        "Raise `idle_timeout_s` in config.json if this is expected.",
    )


def binary_help(config: HostConfig, exc: OSError) -> str:
    reason = "is not executable" if isinstance(exc, PermissionError) else "was not found"
    return (
        f"the codex binary {config.binary!r} {reason}. Set `binary` in "
        f"{config.source or 'config.json'} to the absolute path of codex (`command -v codex` in "
        "your shell). A daemon under systemd does not inherit your shell's PATH, so a bare "
        "`codex` that works in a terminal is often missing there."
    )


def spawn_failed(config: HostConfig, exc: OSError, what: str = "codex") -> ErrorEvent:
    """The terminal event of a codex that could not be started (both backends)."""
    if isinstance(exc, FileNotFoundError | PermissionError | NotADirectoryError):
        return ErrorEvent("binary_not_found", binary_help(config, exc))
    return ErrorEvent("spawn", f"could not start {what} ({config.binary}): {exc}")


def stderr_tail_text(tail: str) -> str:
    if not tail:
        return " codex wrote nothing on stderr."
    lines = tail.splitlines()[-20:]
    return " Last lines of codex's stderr:\n" + "\n".join(lines)
