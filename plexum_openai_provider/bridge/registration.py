"""Codex's global MCP entry for an agent's `mcp-host` (mode `global`), kept right via codex's CLI.

`ensure_registered` reads `codex mcp get NAME --json` and runs `codex mcp add` only when the entry
is missing or differs (command, args, env); it never edits config.toml itself. The entry's forms
live in `codex.mcp_entry`; `default_plugin_command` is how codex starts this package's `mcp-host`
(`turn_plugin_command` for an entry made for one turn).
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from plexum_openai_provider.bridge.names import server_name
from plexum_openai_provider.codex.mcp_entry import (
    UNKNOWN_SERVER_TEXT,
    McpEntry,
    add_args,
    entry_from_get,
    get_args,
    is_disabled,
    wanted_entry,
)
from plexum_openai_provider.errors import RegistrationError

RELAY_MODULE = "plexum_openai_provider.bridge.relay"
_CLI_TIMEOUT = 30.0


@dataclass(frozen=True)
class RegistrationResult:
    name: str
    action: Literal["unchanged", "added", "replaced"]
    entry: McpEntry


def default_plugin_command() -> list[str]:
    """This interpreter running the relay directly: absolute, and no console-script detour.

    `-I` (isolated): codex starts the relay in the workspace, and `python -m` would otherwise put
    that folder first on sys.path, so a cloned repository's `json.py` or `select.py` would run on
    every turn; -I also drops PYTHONPATH and the user site."""
    return [sys.executable, "-I", "-m", RELAY_MODULE]


def turn_plugin_command() -> list[str]:
    """The relay as a command made for one turn (mode `per-turn`, an app-server thread's tools;
    never written to config.toml): isolated as `default_plugin_command`, and also without `site`
    and `runpy` (`-S`, `-c`), ~5 ms less of the start codex waits for on every turn with tools.
    The relay needs only the standard library and this package, whose folder is named here (last
    on sys.path: nothing in it can shadow the standard library)."""
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    code = (
        f"import sys; sys.path.append({root!r}); from {RELAY_MODULE} import main; sys.exit(main())"
    )
    return [sys.executable, "-I", "-S", "-c", code]


async def _codex(
    binary: str, args: Sequence[str], env: Mapping[str, str], name: str
) -> tuple[int, str, str]:
    # Here, not at the top: a cold `say` builds the relay's command before asyncio has loaded.
    from plexum_openai_provider.process import run_captured

    try:
        return await run_captured([binary, *args], env=env, timeout_s=_CLI_TIMEOUT)
    except TimeoutError:
        raise RegistrationError(
            f"`codex {' '.join(args[:2])}` did not finish in {_CLI_TIMEOUT:.0f} s", name=name
        ) from None
    except OSError as exc:
        raise RegistrationError(f"cannot run {binary!r}: {exc}", name=name) from exc


async def current_entry(
    codex_binary: str, name: str, env: Mapping[str, str]
) -> tuple[McpEntry | None, bool]:
    """(entry, exists) from `codex mcp get NAME --json`; a missing name is (None, False)."""
    rc, out, err = await _codex(codex_binary, get_args(name), env, name)
    if rc != 0:
        if UNKNOWN_SERVER_TEXT in err:
            return None, False
        raise RegistrationError("`codex mcp get` failed", name=name, exit_code=rc, stderr=err)
    try:
        data = json.loads(out)
    except ValueError as exc:
        raise RegistrationError(
            f"`codex mcp get --json` printed no JSON: {out[:200]!r}", name=name
        ) from exc
    # A disabled entry would start no server at all: treat it as stale.
    if is_disabled(data):
        return None, True
    return entry_from_get(data), True


async def ensure_registered(
    codex_binary: str | Path,
    agent_id: str,
    socket_path: Path,
    plugin_command: Sequence[str],
    *,
    env: Mapping[str, str],
    codex_home: Path | None = None,
) -> RegistrationResult:
    """Make codex's global entry for `agent_id` match; run `codex mcp add` only when it differs."""
    name = server_name(agent_id)
    wanted = wanted_entry(agent_id, socket_path, plugin_command)
    run_env = dict(env)
    if codex_home is not None:
        run_env["CODEX_HOME"] = str(codex_home)
    binary = str(codex_binary)
    have, exists = await current_entry(binary, name, run_env)
    if have == wanted:
        return RegistrationResult(name, "unchanged", wanted)
    rc, _out, err = await _codex(binary, add_args(name, wanted), run_env, name)
    if rc != 0:
        raise RegistrationError("`codex mcp add` failed", name=name, exit_code=rc, stderr=err)
    return RegistrationResult(name, "replaced" if exists else "added", wanted)
