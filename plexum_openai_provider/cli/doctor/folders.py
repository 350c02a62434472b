"""What `doctor` finds of the folders a turn uses: codex's home, its rollouts, the socket folder."""

from __future__ import annotations

import json
import os
import stat
import tempfile
from collections.abc import Mapping
from pathlib import Path

from ...config import HostConfig
from .finding import Finding


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
    from ...bridge.socket_path import default_socket_dir, ensure_socket_dir, stable_socket_path
    from ...errors import UnsafeSocketDirError

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
