"""What `doctor` asks codex itself: its version, its login, and the `plexum-host-*` MCP entries in
its config.toml. Each call runs with stdin closed, under a timeout, in its own process group.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from ...codex.version import NEWEST_TESTED, SUPPORTED_FLOOR, parse_version, version_text
from ...config import HostConfig
from ...process import run_captured
from .finding import Finding

CODEX_CALL_TIMEOUT_S = 20.0


@dataclass(frozen=True)
class CodexRun:
    returncode: int | None  # None: it could not start, or was stopped (see `error`)
    stdout: str
    stderr: str
    error: str = ""


async def run_codex(
    binary: str, args: list[str], env: Mapping[str, str], timeout_s: float | None = None
) -> CodexRun:
    """Run `binary args` with stdin closed; on timeout its whole process group is stopped."""
    timeout_s = CODEX_CALL_TIMEOUT_S if timeout_s is None else timeout_s
    try:
        code, out, err = await run_captured([binary, *args], env=env, timeout_s=timeout_s)
    except TimeoutError:
        return CodexRun(None, "", "", f"it did not finish in {timeout_s:g} s and was stopped")
    except OSError as exc:
        return CodexRun(None, "", "", f"cannot start it: {exc}")
    return CodexRun(code, out, err)


def _tail(text: str, lines: int = 5) -> str:
    kept = [line for line in text.strip().splitlines() if line.strip()][-lines:]
    return " | ".join(kept) if kept else "(nothing)"


def _outcome(run: CodexRun) -> str:
    if run.error:
        return run.error
    return f"exit {run.returncode}, stdout {_tail(run.stdout)}, stderr {_tail(run.stderr)}"


def _no(message: str, fix: str) -> tuple[Finding, bool]:
    return Finding("version", "fail", message, fix), False


async def check_version(path: str, env: Mapping[str, str]) -> tuple[Finding, bool]:
    """(finding, whether it ran like codex at all: an old codex still answers the other checks)."""
    run = await run_codex(path, ["--version"], env)
    version = parse_version(run.stdout)
    if run.returncode != 0 or version is None:
        return _no(
            f"`{path} --version` does not run like codex: {_outcome(run)}",
            "check that `binary` is the OpenAI codex CLI and that it runs for this user "
            "(run the same command by hand)",
        )
    shown = version_text(version)
    if version < SUPPORTED_FLOOR:
        return Finding(
            "version",
            "fail",
            f"codex {shown} is older than the oldest supported version, "
            f"{version_text(SUPPORTED_FLOOR)}",
            "upgrade codex: npm install -g @openai/codex@latest (then rerun doctor)",
        ), True
    if version > NEWEST_TESTED:
        return Finding(
            "version",
            "info",
            f"codex {shown}: newer than the newest version tested here "
            f"({version_text(NEWEST_TESTED)}); report anything odd",
        ), True
    return Finding("version", "ok", f"codex {shown}"), True


async def check_login(
    path: str, env: Mapping[str, str], environ: Mapping[str, str], home: Path
) -> Finding:
    run = await run_codex(path, ["login", "status"], env)
    # codex prints its status on stderr (codex-facts §7), after any `WARNING: …` lines of its own
    # (e.g. a CODEX_HOME under /tmp); stdout is read too, in case that moves.
    lines = [
        line.strip()
        for line in (run.stderr + "\n" + run.stdout).splitlines()
        if line.strip() and not line.startswith("WARNING:")
    ]
    first = lines[0] if lines else ""
    login = f"CODEX_HOME={home} codex login" if env.get("CODEX_HOME") else "codex login"
    if run.returncode == 0:
        return Finding("login", "ok", f"codex login status: {first}")
    if run.returncode == 1 and first.startswith("Not logged in"):
        if environ.get("OPENAI_API_KEY"):
            return Finding(
                "login",
                "warn",
                "codex is not logged in; OPENAI_API_KEY is set in this shell, but a daemon does "
                "not inherit your shell's environment",
                f"store the key for codex: printenv OPENAI_API_KEY | {login} --with-api-key",
            )
        return Finding(
            "login",
            "fail",
            f"codex is not logged in (CODEX_HOME {home})",
            f"run `{login}` as the user the daemon runs as (or `{login} --with-api-key`)",
        )
    return Finding(
        "login",
        "fail",
        f"`codex login status` did not answer as expected: {_outcome(run)}",
        f"run `{login}` and check its output",
    )


def _stale_reasons(
    item: Mapping[str, object], socket_dir: Path | None, plugin_command: Sequence[str]
) -> tuple[str, list[str]]:
    """(agent id or "?", why the entry is not what the plugin would register; empty: it is)."""
    from ...bridge.names import server_name
    from ...bridge.socket_path import stable_socket_path
    from ...codex.mcp_entry import AGENT_ENV, entry_from_get, is_disabled, wanted_entry

    if is_disabled(item):
        return "?", ["it is disabled, so codex starts no server for it"]
    have = entry_from_get(item)
    if have is None:
        return "?", ["it is not a stdio server"]
    agent = have.env.get(AGENT_ENV)
    if not agent:
        return "?", [f"its env has no {AGENT_ENV}"]
    if server_name(agent) != item.get("name"):
        return agent, [f"agent {agent!r} would be registered as {server_name(agent)}"]
    wanted = wanted_entry(agent, stable_socket_path(agent, socket_dir=socket_dir), plugin_command)
    reasons: list[str] = []
    if have.command != wanted.command:
        gone = "" if Path(have.command).exists() else ", which no longer exists"
        reasons.append(f"its command is {have.command}{gone}, not {wanted.command}")
    if have.args != wanted.args:
        reasons.append(f"its args are {list(have.args)}, not {list(wanted.args)}")
    if dict(have.env) != dict(wanted.env):
        reasons.append(f"its env is {dict(have.env)}, not {dict(wanted.env)}")
    return agent, reasons


async def check_registrations(
    config: HostConfig, path: str, env: Mapping[str, str], plugin_command: Sequence[str]
) -> list[Finding]:
    """Codex's `plexum-host-*` entries: what mode `global` needs, what mode `per-turn` leaves."""
    from ...bridge.names import PREFIX

    run = await run_codex(path, ["mcp", "list", "--json"], env)
    try:
        items = json.loads(run.stdout) if run.returncode == 0 else None
    except ValueError:
        items = None
    if not isinstance(items, list):
        return [
            Finding(
                "registrations",
                "fail",
                f"`codex mcp list --json` failed: {_outcome(run)}",
                "when it names config.toml, fix that file: codex cannot start with a broken one",
            )
        ]
    ours = [i for i in items if isinstance(i, dict) and str(i.get("name", "")).startswith(PREFIX)]
    names = [str(i["name"]) for i in ours]
    if config.mcp_registration == "per-turn":
        if not ours:
            return [Finding("registrations", "ok", "none in config.toml (mode per-turn)")]
        return [
            Finding(
                "registrations",
                "warn",
                f"mode per-turn does not use {', '.join(names)} in codex's config.toml, yet codex "
                "starts each one's relay on every exec (about 30 ms each)",
                "; ".join(f"codex mcp remove {n}" for n in names),
            )
        ]
    if not ours:
        return [
            Finding(
                "registrations",
                "ok",
                "none yet (mode global: each agent is registered by its first turn)",
            )
        ]
    socket_dir = Path(config.socket_dir) if config.socket_dir else None
    found: list[Finding] = []
    for item, name in zip(ours, names, strict=True):
        agent, reasons = _stale_reasons(item, socket_dir, plugin_command)
        if not reasons:
            found.append(Finding(f"registration {name}", "ok", f"correct for agent {agent!r}"))
            continue
        found.append(
            Finding(
                f"registration {name}",
                "fail",
                f"{name} is stale: " + "; ".join(reasons),
                f"codex mcp remove {name}  (the agent's next turn registers it afresh)",
            )
        )
    return found
