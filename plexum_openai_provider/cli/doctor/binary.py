"""What `doctor` finds of the codex binary: on the daemon's PATH, and a launcher that runs there."""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Mapping
from pathlib import Path

from ...config import HostConfig
from .finding import Finding

# About what a systemd unit (and most supervisors) gives a service when nothing sets PATH.
MINIMAL_PATH = "/usr/local/bin:/usr/bin:/bin"


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
