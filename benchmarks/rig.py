"""What the turn benchmarks run on: the real codex (from scripts/install_codex.py's cache), a fake
Responses server process, a throwaway CODEX_HOME, fresh workspaces and a config.json for `say`.

Everything lives in one temp dir removed by `Rig.close()`; the server process is stopped by pid.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

from conformance.installs import binary as installed_binary
from fake_codex.testing.real_env import EXEC_FLAGS, codex_env, provider_args

CODEX_VERSION = "0.169.0"
ROOT = Path(__file__).resolve().parents[1]
ECHO_SERVER = ROOT / "conformance" / "mcp_echo_server.py"


class ResponsesProcess:
    """`python -m benchmarks.responses` as a child; `.url` is its base URL."""

    def __init__(self, tool_namespace: str | None = None) -> None:
        argv = [sys.executable, "-m", "benchmarks.responses"]
        if tool_namespace:
            argv += ["--tool", tool_namespace]
        self.proc = subprocess.Popen(argv, cwd=ROOT, stdout=subprocess.PIPE, text=True)
        assert self.proc.stdout is not None
        self.url = self.proc.stdout.readline().strip()
        if not self.url.startswith("http://127.0.0.1:"):
            self.close()
            raise RuntimeError(f"the fake Responses server did not start (said {self.url!r})")

    def close(self) -> None:
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGTERM)
        self.proc.wait(timeout=10)
        if self.proc.stdout is not None:
            self.proc.stdout.close()


class Rig:
    def __init__(self, prefix: str = "bench-") -> None:
        # A short path: the agent's unix socket lives under it (sun_path holds ~100 bytes).
        self.dir = Path(tempfile.mkdtemp(prefix=prefix))
        self.home = self.dir / "home"
        self.home.mkdir()
        self.socket_dir = self.dir / "s"
        self._workspaces = 0

    def close(self) -> None:
        shutil.rmtree(self.dir, ignore_errors=True)

    def workspace(self) -> Path:
        self._workspaces += 1
        path = self.dir / f"ws{self._workspaces}"
        path.mkdir()
        return path

    def env(self) -> dict[str, str]:
        return codex_env(self.home)

    def write_config(self, binary: str, extra_args: list[str], name: str = "config.json") -> Path:
        path = self.dir / name
        config = {
            "binary": binary,
            "extra_args": extra_args,
            "codex_home": str(self.home),
            "socket_dir": str(self.socket_dir),
        }
        path.write_text(json.dumps(config))
        return path


def real_codex() -> str:
    return str(installed_binary(CODEX_VERSION))


def provider(url: str) -> list[str]:
    """The `-c` options pointing codex at the fake Responses server."""
    return provider_args(url, CODEX_VERSION)


def codex_exec_argv(binary: str, url: str, extra: list[str] | None = None) -> list[str]:
    """A bare `codex exec` with the prompt on stdin, as the provider runs it (no resume)."""
    options = [*EXEC_FLAGS, *provider_args(url, CODEX_VERSION), *(extra or [])]
    return [binary, "exec", *options, "--", "-"]


def echo_server_args(name: str) -> list[str]:
    """`-c` options giving a bare codex the conformance echo MCP server under `name`."""
    entry = (
        f'{{command="{sys.executable}",args=["-I","{ECHO_SERVER}"],required=true,'
        f'default_tools_approval_mode="approve"}}'
    )
    return ["-c", f"mcp_servers.{name}={entry}"]
