"""Shared helpers for the fake codex tests: run the fake as a real subprocess, parse its JSONL
keeping duplicate keys, normalise volatile values, and wait on conditions with a deadline.

Tests reach everything through the `env` fixture (an `Env`), so no test imports this module
(other test folders have their own `conftest.py`). The throwaway CODEX_HOME is the plugin's
`codex_home` (without the fake's marker: the home guard is under test here), the executable and
the rollout finder come from `fake_codex.testing.fakes`."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from fake_codex.testing.fakes import install_fake_codex
from fake_codex.testing.homes import rollout_paths

REPO = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
DATA = HERE / "data"
SCENARIOS = HERE / "scenarios"
BASE_URL = "http://127.0.0.1:18811/v1"
EXEC_FLAGS = ["--skip-git-repo-check", "--dangerously-bypass-approvals-and-sandbox", "--json"]


def provider_args(retries: bool) -> list[str]:
    """The `-c` flags the capture rig used (cx.sh); `retries=False` is its NORETRY variant."""
    extra = "" if retries else ",request_max_retries=0,stream_max_retries=0"
    table = (
        f'{{name="mock",base_url="{BASE_URL}",wire_api="responses",'
        f"supports_websockets=false{extra}}}"
    )
    return ["-c", "model_provider=mock", "-c", f"model_providers.mock={table}"]


@dataclass
class Env:
    """A scratch world for one test: CODEX_HOME, a cwd and a HOME without any real codex."""

    root: Path
    home: Path
    cwd: Path
    executable: Path

    def environ(
        self, scenario: Path | str | None = None, extra: Mapping[str, str] | None = None
    ) -> dict[str, str]:
        env = {
            k: v
            for k, v in os.environ.items()
            if k not in ("CODEX_HOME", "FAKE_CODEX_SCENARIO", "FAKE_CODEX_LOG", "RUST_BACKTRACE")
        }
        env["PYTHONPATH"] = str(REPO)
        env["HOME"] = str(self.root / "user")
        env["CODEX_HOME"] = str(self.home)
        if scenario is not None:
            path = Path(scenario)
            env["FAKE_CODEX_SCENARIO"] = str(path if path.is_absolute() else SCENARIOS / path)
        env.update(extra or {})
        return env

    def run(
        self,
        args: list[str],
        scenario: Path | str | None = None,
        stdin: bytes | None = b"",
        extra_env: Mapping[str, str] | None = None,
        timeout: float = 30,
    ) -> subprocess.CompletedProcess[bytes]:
        """Run the fake to completion (stdin: bytes fed then closed; None = /dev/null)."""
        return subprocess.run(
            [str(self.executable), *args],
            input=stdin,
            stdin=subprocess.DEVNULL if stdin is None else None,
            capture_output=True,
            cwd=self.cwd,
            env=self.environ(scenario, extra_env),
            timeout=timeout,
            check=False,
        )

    def start(
        self,
        args: list[str],
        scenario: Path | str | None = None,
        extra_env: Mapping[str, str] | None = None,
        stdin: int | None = subprocess.DEVNULL,
    ) -> subprocess.Popen[bytes]:
        """Start the fake in its own process group (kill it with `kill_group`)."""
        return subprocess.Popen(
            [str(self.executable), *args],
            stdin=stdin,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            cwd=self.cwd,
            env=self.environ(scenario, extra_env),
            start_new_session=True,
        )

    def rollouts(self) -> list[Path]:
        return rollout_paths(self.home)


@pytest.fixture
def env(tmp_path: Path, codex_home: Path) -> Env:
    cwd = tmp_path / "work"
    cwd.mkdir()
    (tmp_path / "user").mkdir()
    return Env(tmp_path, codex_home, cwd, install_fake_codex(tmp_path / "bin"))


def kill_group(proc: subprocess.Popen[bytes]) -> None:
    """SIGKILL the fake's whole process group (leftovers included), reap it, close its pipes."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.communicate(timeout=10)


def wait_for(condition: Callable[[], bool], timeout: float = 10.0, what: str = "condition") -> None:
    """Poll `condition` until true; fail the test after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.02)


def read_line(stream: Any, timeout: float = 10.0) -> bytes:
    """Read one line from a pipe, failing (not hanging) when it does not come in time."""
    import selectors

    buf = b""
    sel = selectors.DefaultSelector()
    sel.register(stream, selectors.EVENT_READ)
    deadline = time.monotonic() + timeout
    try:
        while not buf.endswith(b"\n"):
            left = deadline - time.monotonic()
            if left <= 0 or not sel.select(left):
                pytest.fail(f"no complete line within {timeout}s (got {buf[:200]!r})")
            chunk = os.read(stream.fileno(), 1)
            if not chunk:
                break
            buf += chunk
    finally:
        sel.close()
    return buf


def pairs_hook(pairs: list[tuple[str, Any]]) -> Any:
    """Keep duplicate keys: an object with a repeated key becomes a list of pairs."""
    keys = [k for k, _ in pairs]
    if len(keys) != len(set(keys)):
        return [["<dup-keys>"], *[[k, v] for k, v in pairs]]
    return dict(pairs)


def parse_jsonl(data: bytes) -> list[Any]:
    return [json.loads(line, object_pairs_hook=pairs_hook) for line in data.splitlines() if line]


def normalise(value: Any, cwd: Path | None = None) -> Any:
    """Replace thread ids with `<thread>` and paths under `cwd` with `<WORKDIR>`."""
    if isinstance(value, dict):
        out = {k: normalise(v, cwd) for k, v in value.items()}
        if "thread_id" in out:
            out["thread_id"] = "<thread>"
        return out
    if isinstance(value, list):
        return [normalise(v, cwd) for v in value]
    if isinstance(value, str) and cwd is not None and value.startswith(str(cwd)):
        return "<WORKDIR>"
    return value


def rollout_lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_bytes().splitlines() if line.strip()]


# The helpers, reachable from tests as `env.<name>`.
Env.provider_args = staticmethod(provider_args)  # type: ignore[attr-defined]
Env.kill_group = staticmethod(kill_group)  # type: ignore[attr-defined]
Env.wait_for = staticmethod(wait_for)  # type: ignore[attr-defined]
Env.read_line = staticmethod(read_line)  # type: ignore[attr-defined]
Env.parse_jsonl = staticmethod(parse_jsonl)  # type: ignore[attr-defined]
Env.normalise = staticmethod(normalise)  # type: ignore[attr-defined]
Env.rollout_lines = staticmethod(rollout_lines)  # type: ignore[attr-defined]
Env.EXEC_FLAGS = EXEC_FLAGS  # type: ignore[attr-defined]
Env.DATA = DATA  # type: ignore[attr-defined]
Env.SCENARIOS = SCENARIOS  # type: ignore[attr-defined]
