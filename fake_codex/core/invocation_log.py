"""The invocation log: with `FAKE_CODEX_LOG=<file>`, one JSON line per invocation.

Each line holds argv, cwd, the stdin text read, an allow-listed and redacted environment, pid,
pgid and the exit code. It is appended with ONE `write` on an `O_APPEND` descriptor, so
concurrent fakes never interleave their lines.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from typing import Any

ENV_ALLOW = ("CODEX_HOME", "PATH", "HOME", "PWD")
SECRET_KEY_PARTS = ("KEY", "TOKEN", "SECRET", "PASSWORD", "AUTH")
REDACTED = "<redacted>"


def redact_env(environ: Mapping[str, str]) -> dict[str, str]:
    """The allow-listed variables (plus any PLEXUM_*), with secret-looking values redacted."""
    out: dict[str, str] = {}
    for name in sorted(environ):
        if name not in ENV_ALLOW and not name.startswith("PLEXUM_"):
            continue
        value = environ[name]
        secret = any(part in name.upper() for part in SECRET_KEY_PARTS)
        out[name] = REDACTED if secret or value.startswith("sk-") else value
    return out


class Invocation:
    """One run of the fake, filled in as it goes (a plain class: no dataclasses at start-up)."""

    def __init__(self, argv: list[str], environ: Mapping[str, str]) -> None:
        self.argv = argv
        self.environ = environ
        self.stdin: str | None = None
        self.extra: dict[str, Any] = {}
        self.written = False

    def record(self, exit_code: int | None) -> dict[str, Any]:
        return {
            "argv": self.argv,
            "cwd": os.getcwd(),
            "stdin": self.stdin,
            "env": redact_env(self.environ),
            "pid": os.getpid(),
            "pgid": os.getpgid(0),
            "exit_code": exit_code,
            **self.extra,
        }

    def write(self, exit_code: int | None) -> None:
        """Append the record once (later calls are ignored); no-op without FAKE_CODEX_LOG."""
        path = self.environ.get("FAKE_CODEX_LOG")
        if not path or self.written:
            return
        self.written = True
        line = (json.dumps(self.record(exit_code), ensure_ascii=False) + "\n").encode()
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, line)
        finally:
            os.close(fd)
