"""`fake-codex` / `python -m fake_codex`: top-level dispatch like the `codex` multitool.

Handles `--version`/`-V`, `--help`, global `-c`/`--enable`/`--disable` before the subcommand,
and routes to the subcommands in `SUBCOMMANDS` (`exec`, `login`, `mcp`, `app-server`).
Every invocation is appended to the `FAKE_CODEX_LOG` invocation log with its exit code.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING

from fake_codex.core import clap
from fake_codex.core.invocation_log import Invocation

if TYPE_CHECKING:
    from fake_codex.core.scenario import Scenario
    from fake_codex.core.versions import Behaviour

EX_SOFTWARE = 70
DEFAULT_VERSION = "0.169.0"  # same as scenario.DEFAULT_CODEX_VERSION, without importing it
_GLOBAL_VALUE_OPTS = ("-c", "--config", "--enable", "--disable")


class BadScenario(Exception):
    """FAKE_CODEX_SCENARIO names a file the fake cannot use (exit 70)."""


def _version(environ: Mapping[str, str]) -> str:
    # Fast path: `--version` without a scenario imports neither the scenario nor dataclasses.
    if not environ.get("FAKE_CODEX_SCENARIO"):
        return DEFAULT_VERSION
    scenario, behaviour = _load(environ)
    if scenario is not None and scenario.reported_version is not None:
        return scenario.reported_version
    return behaviour.version


def _load(environ: Mapping[str, str]) -> tuple[Scenario | None, Behaviour]:
    from pathlib import Path

    from fake_codex.core.scenario import DEFAULT_CODEX_VERSION, ScenarioError, load_scenario
    from fake_codex.core.versions import behaviour_for

    path = environ.get("FAKE_CODEX_SCENARIO")
    try:
        scenario = load_scenario(Path(path)) if path else None
        version = scenario.codex_version if scenario else DEFAULT_CODEX_VERSION
        return scenario, behaviour_for(version)
    except ScenarioError as exc:
        raise BadScenario(str(exc)) from None
    except ValueError as exc:
        raise BadScenario(f"{path}: $.codex_version: {exc}") from None


def _exec(args: list[str], environ: Mapping[str, str], inv: Invocation) -> int:
    from fake_codex.exec.command import run_exec

    scenario, behaviour = _load(environ)
    return run_exec(args, scenario, behaviour, inv)


def _login(args: list[str], environ: Mapping[str, str], inv: Invocation) -> int:
    from fake_codex.login import run_login

    return run_login(args, environ, _load(environ)[1])


def _mcp(args: list[str], environ: Mapping[str, str], inv: Invocation) -> int:
    from fake_codex.mcp.command import run_mcp

    return run_mcp(args, _load(environ)[1], environ)


def _app_server(args: list[str], environ: Mapping[str, str], inv: Invocation) -> int:
    from fake_codex.app_server.server import run_app_server

    scenario, behaviour = _load(environ)
    return run_app_server(args, scenario, behaviour, inv)


Subcommand = Callable[[list[str], Mapping[str, str], Invocation], int]
SUBCOMMANDS: dict[str, Subcommand] = {
    "exec": _exec,
    "e": _exec,
    "login": _login,
    "mcp": _mcp,
    "app-server": _app_server,
}


def dispatch(argv: list[str], environ: Mapping[str, str], inv: Invocation) -> int:
    """Run one command line (without the program name); returns the exit code."""
    globals_: list[str] = []
    i = 0
    while i < len(argv):
        token = argv[i]
        if token in ("-V", "--version"):
            sys.stdout.write(f"codex-cli {_version(environ)}\n")
            return 0
        if token in ("-h", "--help"):
            sys.stdout.write(clap.ROOT_HELP)
            return 0
        if token in _GLOBAL_VALUE_OPTS:
            if i + 1 >= len(argv):
                raise clap.missing_value(f"{token} <VALUE>")
            globals_ += [token, argv[i + 1]]
            i += 2
            continue
        if token.startswith(("--config=", "--enable=", "--disable=")) or (
            token.startswith("-c") and len(token) > 2
        ):
            globals_.append(token)
            i += 1
            continue
        if token.startswith("-"):
            raise clap.unexpected_argument(token, clap.USAGE_ROOT)
        handler = SUBCOMMANDS.get(token)
        if handler is None:
            # The real codex would start its TUI with this as the prompt; the fake has no TUI.
            raise clap.unrecognized_subcommand(token, clap.USAGE_ROOT)
        rest = argv[i + 1 :]
        with_globals = handler in (_exec, _mcp, _app_server)
        return handler(globals_ + rest if with_globals else rest, environ, inv)
    sys.stderr.write("fake-codex: the interactive TUI is not emulated; use `exec`\n")
    return 2


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    environ = dict(os.environ)
    inv = Invocation(argv=["codex", *args], environ=environ)
    code: int = EX_SOFTWARE
    try:
        code = dispatch(args, environ, inv)
    except clap.UsageError as exc:
        sys.stderr.write(exc.text)
        code = exc.exit_code
    except BadScenario as exc:
        sys.stderr.write(f"fake-codex: bad scenario: {exc}\n")
        code = EX_SOFTWARE
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        inv.write(code)
    return code
