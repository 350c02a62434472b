"""What `doctor` reads of the operator's setup — config.json, models, the binary on PATH, codex's
home, rollouts, the socket folder — each as a `Finding`: what it saw and, if wrong, what to do.
"""

from __future__ import annotations

import json
import os
import shutil
import stat
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from ..config import DEFAULT_MODEL, HostConfig, load_config, resolve_config_path
from ..errors import ConfigError

Status = Literal["ok", "info", "warn", "fail", "skip"]

# About what a systemd unit (and most supervisors) gives a service when nothing sets PATH.
MINIMAL_PATH = "/usr/local/bin:/usr/bin:/bin"


@dataclass(frozen=True)
class Finding:
    check: str
    status: Status
    message: str
    fix: str = ""

    def to_json(self) -> dict[str, str]:
        return {
            "check": self.check,
            "status": self.status,
            "message": self.message,
            "fix": self.fix,
        }


# -- config.json ------------------------------------------------------------------------------


def check_config(explicit: str | None) -> tuple[Finding, HostConfig]:
    """The config the daemon will load; on error the later checks use the defaults."""
    path = resolve_config_path(explicit)
    try:
        config = load_config(explicit)
    except ConfigError as exc:
        return (
            Finding(
                "config",
                "fail",
                f"{exc} (the checks below use the defaults)",
                "fix the file as the message says, or replace it with the defaults: "
                "`plexum-openai-provider install --force` (keeps the old one as config.json.bak)",
            ),
            HostConfig(source=str(path)),
        )
    if not path.exists():
        return (
            Finding(
                "config",
                "warn",
                f"no config.json at {path}: the defaults are used",
                "run `plexum-openai-provider install` to write one with every key at its default",
            ),
            config,
        )
    return Finding("config", "ok", f"{path} is valid"), config


def check_models(config: HostConfig) -> list[Finding]:
    found: list[Finding] = []
    for model in config.supported_models:
        name = f"model {model}"
        arg = config.model_arg(model)
        if arg is not None and not arg.strip():
            found.append(
                Finding(
                    name,
                    "fail",
                    f"model_args maps {model!r} to an empty --model value",
                    f'give it a real model name, e.g. "model_args": {{"{model}": "gpt-5.5"}}',
                )
            )
        elif arg is None:
            found.append(
                Finding(
                    name,
                    "ok",
                    "passes no --model: codex's own default model (the only one a ChatGPT-account "
                    "login accepts)",
                )
            )
        elif model in config.model_args:
            found.append(
                Finding(
                    name,
                    "ok",
                    f"--model {arg} (explicit models need an API-key login; a ChatGPT account "
                    "rejects them with HTTP 400)",
                )
            )
        else:
            found.append(
                Finding(
                    name,
                    "info",
                    f"no model_args entry: passed to codex as is (--model {arg})",
                    f'if codex names it otherwise, add "model_args": {{"{model}": "<name>"}}',
                )
            )
    unused = sorted(set(config.model_args) - set(config.supported_models))
    if unused:
        found.append(
            Finding(
                "model_args",
                "warn",
                f"model_args has entries for models not in supported_models: {', '.join(unused)}; "
                "turns asking for them are refused",
                "add them to supported_models, or remove the entries",
            )
        )
    if DEFAULT_MODEL in config.model_args:
        found.append(
            Finding(
                "model_args",
                "info",
                f"the default id {DEFAULT_MODEL!r} is mapped to --model "
                f"{config.model_args[DEFAULT_MODEL]}: a ChatGPT-account login rejects it",
            )
        )
    return found


# -- the binary -------------------------------------------------------------------------------


def _systemd_fix(path: str) -> str:
    return f'set "binary": {json.dumps(path)} in config.json'


def check_binary(config: HostConfig, environ: Mapping[str, str]) -> tuple[Finding, str | None]:
    """(finding, the absolute path codex will be started from, or None when it cannot be)."""
    binary = config.binary
    where = config.source or "config.json"
    if os.path.isabs(binary):
        if not os.path.isfile(binary):
            return (
                Finding(
                    "binary",
                    "fail",
                    f"binary {binary!r} (from {where}) does not exist",
                    "point `binary` at codex's absolute path (`command -v codex` in your shell), "
                    "or install codex: npm install -g @openai/codex",
                ),
                None,
            )
        if not os.access(binary, os.X_OK):
            return (
                Finding(
                    "binary",
                    "fail",
                    f"binary {binary!r} is not executable",
                    f"chmod +x {binary}, or point `binary` at the right file",
                ),
                None,
            )
        return Finding("binary", "ok", f"{binary} (absolute path from config)"), binary
    if os.sep in binary:
        absolute = os.path.abspath(binary)
        return (
            Finding(
                "binary",
                "fail",
                f"binary {binary!r} is a relative path: codex runs in each agent's workspace, "
                "so it would be looked up there",
                _systemd_fix(absolute) + " (if that is the file you meant)",
            ),
            None,
        )
    found = shutil.which(binary, path=environ.get("PATH", ""))
    if found is None:
        return (
            Finding(
                "binary",
                "fail",
                f"{binary!r} is not on your PATH",
                "install codex (npm install -g @openai/codex) and set `binary` in config.json to "
                "its absolute path",
            ),
            None,
        )
    found = os.path.abspath(found)
    daemons = shutil.which(binary, path=MINIMAL_PATH)
    if daemons is None:
        return (
            Finding(
                "binary",
                "warn",
                f"{binary!r} is found only through your shell's PATH, at {found}. A daemon under "
                f"systemd gets a minimal PATH (checked: {MINIMAL_PATH}) and will not find it "
                "(the systemd trap)",
                _systemd_fix(found),
            ),
            found,
        )
    if not os.path.samefile(daemons, found):
        return (
            Finding(
                "binary",
                "warn",
                f"your shell runs {found}, but a daemon with PATH={MINIMAL_PATH} would run "
                f"{daemons}; the checks below are of the first",
                _systemd_fix(found) + " (or the other, if that is the codex you want)",
            ),
            found,
        )
    return Finding("binary", "ok", f"{found} (on PATH, also on a daemon's minimal PATH)"), found


def check_launcher(path: str, environ: Mapping[str, str]) -> Finding | None:
    """npm's `codex` is `#!/usr/bin/env node`: a daemon's minimal PATH must hold node then."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(128)
    except OSError:
        return None
    first = head.split(b"\n", 1)[0]
    if not (first.startswith(b"#!") and first.rstrip().endswith(b"env node")):
        return None
    if shutil.which("node", path=MINIMAL_PATH) is not None:
        return None
    yours = shutil.which("node", path=environ.get("PATH", "")) or "not on your PATH either"
    package = Path(os.path.realpath(path)).parent.parent
    native = sorted(package.parent.glob("codex-*/vendor/*/bin/codex"))
    alternative = f", or {_systemd_fix(str(native[0]))} (the native binary)" if native else ""
    return Finding(
        "launcher",
        "warn",
        f"{path} is npm's node launcher (`{first.decode(errors='replace')}`) and a daemon's "
        f"minimal PATH has no `node` (yours: {yours})",
        f"give the daemon a PATH with node (systemd: Environment=PATH=…){alternative}",
    )


# -- folders ----------------------------------------------------------------------------------


def check_codex_home(home: Path, config: HostConfig, environ: Mapping[str, str]) -> Finding:
    if not home.exists():
        return Finding(
            "codex_home",
            "warn",
            f"CODEX_HOME {home} does not exist yet",
            "run `codex login`: it creates it",
        )
    if not home.is_dir():
        return Finding(
            "codex_home",
            "fail",
            f"CODEX_HOME {home} is not a directory",
            "move it aside, or set codex_home in config.json to a folder",
        )
    try:
        fd, probe = tempfile.mkstemp(dir=home, prefix=".plexum-doctor-")
    except OSError as exc:
        return Finding(
            "codex_home",
            "fail",
            f"CODEX_HOME {home} is not writable: {exc}",
            f"it must belong to the daemon's user: chown -R $(id -un) {home}",
        )
    os.close(fd)
    os.unlink(probe)
    if not config.codex_home and environ.get("CODEX_HOME"):
        return Finding(
            "codex_home",
            "warn",
            f"your shell sets CODEX_HOME={environ['CODEX_HOME']} but config.json has no "
            "codex_home: a daemon without that variable uses ~/.codex",
            f'set "codex_home": {json.dumps(environ["CODEX_HOME"])} in config.json',
        )
    return Finding("codex_home", "ok", f"{home} is writable")


def _newest_rollout(sessions: Path) -> Path | None:
    """The newest `rollout-*.jsonl` by its YYYY/MM/DD folder and name, without walking the tree."""
    day_dirs = sorted(
        (d for d in sessions.glob("*/*/*") if d.is_dir()), key=lambda d: d.parts[-3:], reverse=True
    )
    for day in day_dirs:
        files = sorted(day.glob("rollout-*.jsonl"), reverse=True)
        if files:
            return files[0]
    return None


def check_rollouts(home: Path) -> Finding:
    sessions = home / "sessions"
    if not sessions.exists():
        return Finding("rollouts", "ok", f"{sessions} does not exist yet (no thread so far)")
    try:
        newest = _newest_rollout(sessions)
        if newest is None:
            return Finding("rollouts", "ok", f"{sessions} holds no rollout yet")
        with open(newest, "rb") as fh:
            fh.readline()
    except OSError as exc:
        return Finding(
            "rollouts",
            "fail",
            f"cannot read codex's rollouts under {sessions}: {exc}; tool calls cannot be mirrored "
            "or consumed",
            f"they must belong to the daemon's user: chown -R $(id -un) {sessions}",
        )
    if not os.access(newest.parent, os.W_OK):
        return Finding(
            "rollouts",
            "fail",
            f"{newest.parent} is not writable: consume cannot rewrite rollouts there",
            f"chown -R $(id -un) {sessions}",
        )
    return Finding("rollouts", "ok", f"readable (newest: {newest.name})")


def check_socket_dir(config: HostConfig) -> Finding:
    from ..bridge.socket_path import default_socket_dir, ensure_socket_dir, stable_socket_path
    from ..errors import UnsafeSocketDirError

    directory = Path(config.socket_dir) if config.socket_dir else default_socket_dir()
    try:
        stable_socket_path("doctor", socket_dir=directory)
    except ValueError as exc:
        return Finding("socket_dir", "fail", str(exc), "set a shorter socket_dir in config.json")
    if not os.path.lexists(directory):
        parent = directory.parent
        if parent.is_dir() and os.access(parent, os.W_OK | os.X_OK):
            return Finding(
                "socket_dir", "ok", f"{directory} will be created (0700) by the first turn"
            )
        return Finding(
            "socket_dir",
            "fail",
            f"{directory} does not exist and {parent} is not a writable folder",
            "set socket_dir in config.json to a short path in a folder you own",
        )
    try:
        # On an existing directory this only inspects it: owner, mode, not a symlink.
        ensure_socket_dir(directory)
    except UnsafeSocketDirError as exc:
        st = os.lstat(directory)
        only_mode = stat.S_ISDIR(st.st_mode) and st.st_uid == os.geteuid()
        fix = (
            f"chmod 700 {directory}"
            if only_mode
            else f"remove {directory}, or set socket_dir in config.json to a folder you own"
        )
        return Finding("socket_dir", "fail", str(exc), fix)
    return Finding("socket_dir", "ok", f"{directory} is private (0700, yours)")


def check_manifest(user_home: Path | None) -> Finding:
    """The daemon starts the plugin from manifest.json: present, current, a Python that runs."""
    from .install import MANIFEST_NAME, manifest, plugin_dir, read_manifest

    path = plugin_dir(user_home) / MANIFEST_NAME
    reinstall = "run `plexum-openai-provider install` with the Python the daemon should use"
    try:
        have = read_manifest(user_home)
    except FileNotFoundError:
        return Finding(
            "manifest", "warn", f"no {path}: the daemon cannot start the plugin", reinstall
        )
    except (OSError, ValueError) as exc:
        return Finding("manifest", "fail", f"{path} is unreadable: {exc}", reinstall)
    if not isinstance(have, dict):
        return Finding("manifest", "fail", f"{path} is not a JSON object", reinstall)
    want = manifest()
    command = have.get("command")
    if not isinstance(command, str) or not os.access(command, os.X_OK):
        return Finding(
            "manifest", "fail", f"{path} starts {command!r}, which cannot be run", reinstall
        )
    stale = [k for k in ("protocol_version", "args", "version") if have.get(k) != want[k]]
    if stale:
        return Finding(
            "manifest",
            "fail",
            f"{path} is from another version of the plugin ({', '.join(stale)} differ)",
            reinstall,
        )
    if command != want["command"]:
        return Finding(
            "manifest",
            "info",
            f"the daemon starts the plugin with {command}; this doctor runs on {want['command']}",
        )
    return Finding("manifest", "ok", f"{path}: `{command} {' '.join(want['args'])}`")
