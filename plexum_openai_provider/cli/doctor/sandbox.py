"""`doctor`: which sandbox each configured agent's turns run in, and a plain warning for `bypass`.

One finding for the default (every agent not listed under `agents`) and one per listed agent.
`bypass` is a warning, not a failure: it is the default, the Go plugin's behaviour.
"""

from __future__ import annotations

from ...config import HostConfig
from ...sandbox import Sandbox
from .finding import Finding

BYPASS_WARNING = (
    "codex runs with no sandbox: the model's shell can read and write everything this user can "
    "(other agents' workspaces, ~/.codex/auth.json, the daemon's config)"
)
BYPASS_FIX = 'set `"sandbox": "workspace-write"` (or per agent under `agents`) in config.json'


def _finding(check: str, who: str, sandbox: Sandbox, backend: str) -> Finding:
    if not sandbox.sandboxed:
        return Finding(check, "warn", f"{who}: {BYPASS_WARNING}", BYPASS_FIX)
    message = f"{who}: {sandbox.describe()}"
    if sandbox.approvals == "daemon" and backend == "exec":
        return Finding(
            check,
            "warn",
            f"{message}; the exec backend cannot ask, so codex's approvals are `never` there "
            "(what the sandbox forbids simply fails)",
            'set `"backend": "app-server"` to route approvals to the daemon',
        )
    return Finding(check, "ok", message)


def check_sandboxes(config: HostConfig) -> list[Finding]:
    found = [_finding("sandbox", "every agent", config.sandbox, config.backend)]
    if config.agents:
        found[0] = _finding("sandbox", "agents not listed", config.sandbox, config.backend)
    for agent_id, sandbox in sorted(config.agents.items()):
        found.append(_finding(f"sandbox {agent_id}", f"agent {agent_id}", sandbox, config.backend))
    return found
