"""`doctor`: checks the setup the daemon will run the plugin in, and says for each problem what
to do. Exit 1 when a check fails, 0 with warnings only; `--json` prints the findings for machines.
The checks live here by subject: config, binary, codex, app_server, folders, manifest, threads,
sandbox.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from collections.abc import Mapping
from pathlib import Path

from ...config import codex_home
from .binary import check_binary, check_launcher
from .codex import check_login, check_registrations, check_version
from .config import check_config, check_models
from .finding import Finding
from .folders import check_codex_home, check_rollouts, check_socket_dir
from .manifest import check_manifest
from .sandbox import check_sandboxes
from .threads import check_threads


def _user_home(environ: Mapping[str, str]) -> Path | None:
    return Path(environ["HOME"]) if environ.get("HOME") else None


def plugin_command(environ: Mapping[str, str]) -> list[str]:
    """The `mcp-host` command a turn registers: the installed manifest's interpreter if any (the
    daemon's `serve` runs on it), else this one."""
    from ...bridge.registration import default_plugin_command
    from ..install import read_manifest

    command = default_plugin_command()
    try:
        manifest = read_manifest(_user_home(environ))
    except (OSError, ValueError):
        return command
    interpreter = manifest.get("command") if isinstance(manifest, dict) else None
    if isinstance(interpreter, str) and os.path.isabs(interpreter):
        command[0] = interpreter
    return command


async def run_checks(explicit_config: str | None, environ: Mapping[str, str]) -> list[Finding]:
    config_finding, config = check_config(explicit_config)
    found = [config_finding, check_manifest(_user_home(environ)), *check_models(config)]
    found += check_sandboxes(config)
    binary_finding, binary = check_binary(config, environ)
    found.append(binary_finding)
    env = dict(environ)
    if config.codex_home:
        env["CODEX_HOME"] = config.codex_home
    home = codex_home(config)
    runs = False
    if binary is not None:
        launcher = check_launcher(binary, environ)
        found += [launcher] if launcher else []
        version, runs = await check_version(binary, env)
        found.append(version)
    if runs and binary is not None and config.backend == "app-server":
        from .app_server import check_app_server

        found.append(await check_app_server(config, env))
    if runs and binary is not None:
        found.append(await check_login(binary, env, environ, home))
    else:
        found.append(Finding("login", "skip", "not checked: codex cannot be run (see above)"))
    found += [check_codex_home(home, config, environ), check_rollouts(home)]
    found += check_threads(home)
    found.append(check_socket_dir(config))
    if runs and binary is not None:
        found += await check_registrations(config, binary, env, plugin_command(environ))
    else:
        found.append(Finding("registrations", "skip", "not checked: codex cannot be run"))
    return found


_LABEL = {"ok": "ok", "info": "info", "warn": "WARN", "fail": "FAIL", "skip": "skip"}


def _render(findings: list[Finding]) -> str:
    width = max(len(f.check) for f in findings)
    lines = []
    for f in findings:
        lines.append(f"{_LABEL[f.status]:<4}  {f.check:<{width}}  {f.message}")
        if f.fix:
            lines.append(f"{'':<4}  {'':<{width}}  fix: {f.fix}")
    failures = sum(f.status == "fail" for f in findings)
    warnings = sum(f.status == "warn" for f in findings)
    if failures:
        verdict = f"{failures} problem(s) to fix, {warnings} warning(s)."
    elif warnings:
        verdict = f"No problem; {warnings} warning(s) worth a look."
    else:
        verdict = "All good."
    return "\n".join([*lines, "", verdict]) + "\n"


def doctor(args: argparse.Namespace) -> int:
    findings = asyncio.run(run_checks(args.config, os.environ))
    failed = any(f.status == "fail" for f in findings)
    if args.json:
        document = {"ok": not failed, "checks": [f.to_json() for f in findings]}
        sys.stdout.write(json.dumps(document, ensure_ascii=False) + "\n")
    else:
        sys.stdout.write(_render(findings))
    return 1 if failed else 0
