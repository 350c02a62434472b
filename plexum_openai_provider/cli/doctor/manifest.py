"""What `doctor` finds of the daemon's plugin manifest (written by `install`)."""

from __future__ import annotations

import os
from pathlib import Path

from .finding import Finding


def check_manifest(user_home: Path | None) -> Finding:
    """The daemon starts the plugin from manifest.json: present, current, a Python that runs."""
    from ..install import MANIFEST_NAME, manifest, plugin_dir, read_manifest

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
