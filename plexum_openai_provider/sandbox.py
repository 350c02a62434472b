"""What codex's shell may touch in a turn: the agent's sandbox, narrowed (never widened) per turn.

`Sandbox` is one agent's setting from config.json (`sandbox`, `network_access`, `writable_roots`,
`approvals`, optionally per agent under `agents`); `narrowed(mode)` applies a turn's own mode.
It speaks both backends: `exec_args()` for `codex exec`, `thread_mode()` / `turn_policy()` /
`approval_policy()` for `codex app-server` (the same fields in every pinned version's schema).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace

from .codex.argv import BYPASS_FLAG
from .errors import SandboxWidened

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (mypy knows the name)
if TYPE_CHECKING:
    from typing import Any

# Narrowest first: a turn may ask for a mode to the left of its agent's, never to the right.
MODES = ("read-only", "workspace-write", "bypass")
APPROVALS = ("never", "daemon")


@dataclass(frozen=True)
class Sandbox:
    """One agent's sandbox. `network_access` and `writable_roots` apply to `workspace-write`
    only (`read-only` has neither; `bypass` has everything). `approvals: "daemon"` routes codex's
    approval requests to the daemon (app-server backend, sandboxed modes only); `never` lets codex
    refuse whatever the sandbox forbids."""

    mode: str = "bypass"
    network_access: bool = False
    writable_roots: tuple[str, ...] = ()
    approvals: str = "never"

    @property
    def sandboxed(self) -> bool:
        return self.mode != "bypass"

    def narrowed(self, mode: str | None) -> Sandbox:
        """This sandbox, or a narrower one for a turn that asks for `mode`.

        Raises SandboxWidened when `mode` is wider or no mode at all."""
        if mode is None or mode == self.mode:
            return self
        if mode not in MODES:
            raise SandboxWidened(f"unknown sandbox mode {mode!r}; one of {', '.join(MODES)}")
        if MODES.index(mode) > MODES.index(self.mode):
            raise SandboxWidened(
                f"the turn asks for sandbox {mode!r}, wider than its agent's {self.mode!r}; "
                "a turn may only narrow its agent's sandbox"
            )
        approvals = self.approvals if mode != "bypass" else "never"
        return replace(self, mode=mode, approvals=approvals)

    def exec_args(self) -> list[str]:
        """The `codex exec` options, all placed before `resume` (where `-s` is accepted and
        applies to the resumed thread; after it, codex rejects `-s`)."""
        if self.mode == "bypass":
            return [BYPASS_FLAG]
        if self.mode == "read-only":
            return ["-s", "read-only"]
        # /tmp and $TMPDIR are writable in workspace-write by default: another agent's files and
        # the plugin's sockets may be there, so they are shut unless the operator lists them.
        table = "sandbox_workspace_write"
        args = ["-s", "workspace-write"]
        args += ["-c", f"{table}.network_access={str(self.network_access).lower()}"]
        args += ["-c", f"{table}.exclude_slash_tmp=true"]
        args += ["-c", f"{table}.exclude_tmpdir_env_var=true"]
        if self.writable_roots:
            args += ["-c", f"{table}.writable_roots={_toml_strings(self.writable_roots)}"]
        return args

    def thread_mode(self) -> str:
        """app-server `thread/start`/`thread/resume` `sandbox` (a `SandboxMode`)."""
        return "danger-full-access" if self.mode == "bypass" else self.mode

    def turn_policy(self) -> dict[str, Any]:
        """app-server `turn/start` `sandboxPolicy`: sent with every turn, because a thread that
        is already loaded ignores the `sandbox` of a later `thread/resume`."""
        if self.mode == "bypass":
            return {"type": "dangerFullAccess"}
        if self.mode == "read-only":
            return {"type": "readOnly", "networkAccess": False}
        return {
            "type": "workspaceWrite",
            "writableRoots": list(self.writable_roots),
            "networkAccess": self.network_access,
            "excludeSlashTmp": True,
            "excludeTmpdirEnvVar": True,
        }

    def approval_policy(self) -> str:
        """app-server `approvalPolicy`: `on-request` (the model may ask to leave the sandbox, and
        the daemon answers) with approvals routed to the daemon, else `never`."""
        return "on-request" if self.sandboxed and self.approvals == "daemon" else "never"

    def describe(self) -> str:
        """One line for `doctor` and logs."""
        if self.mode == "bypass":
            return "bypass (no sandbox, no approvals)"
        if self.mode == "read-only":
            return f"read-only (no writes, no network; approvals: {self.approvals})"
        roots = ", ".join(self.writable_roots) or "none"
        network = "on" if self.network_access else "off"
        return (
            f"workspace-write (network {network}; extra writable folders: {roots}; "
            f"approvals: {self.approvals})"
        )


def _toml_strings(values: tuple[str, ...]) -> str:
    # A JSON string is a TOML basic string (non-ASCII kept as is: TOML has no surrogate escapes).
    return "[" + ",".join(json.dumps(v, ensure_ascii=False) for v in values) + "]"
