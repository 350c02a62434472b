"""A fake codex on disk for the runner: a `codex` shim, a throwaway CODEX_HOME, scenario files,
and the fake's invocation log for assertions."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pytest

from plexum_openai_provider.config import HostConfig
from plexum_openai_provider.events import CanonicalEvent
from plexum_openai_provider.turn import TurnLimits, TurnRequest, run_turn

FAST_LIMITS = TurnLimits(kill_grace_s=0.5, post_exit_drain_s=0.5)


@dataclass
class FakeCodex:
    root: Path
    config: HostConfig
    log_path: Path
    monkeypatch: pytest.MonkeyPatch

    def scenario(self, turns: list[dict[str, Any]], **top: Any) -> Path:
        """Write a scenario (docs/scenarios.md) and point the fake at it."""
        path = self.root / f"scenario-{len(list(self.root.glob('scenario-*')))}.json"
        path.write_text(json.dumps({"schema_version": 1, "turns": turns, **top}))
        self.monkeypatch.setenv("FAKE_CODEX_SCENARIO", str(path))
        return path

    def invocations(self) -> list[dict[str, Any]]:
        if not self.log_path.exists():
            return []
        return [json.loads(line) for line in self.log_path.read_text().splitlines()]

    def workspace(self, name: str = "ws") -> Path:
        path = self.root / name
        path.mkdir(exist_ok=True)
        return path

    def cli(
        self,
        command: str,
        *args: str,
        config: dict[str, Any] | None = None,
        stdin: str | None = None,
        workspace: Path | None = None,
    ) -> subprocess.CompletedProcess[str]:
        """Run `plexum-openai-provider COMMAND` as a user would, on this fake codex."""
        config_path = self.root / "config.json"
        body = {
            "binary": self.config.binary,
            "codex_home": self.config.codex_home,
            # Never the default /tmp/plexum-<uid>: the suite leaves nothing behind in /tmp.
            "socket_dir": str(self.root / "sock"),
            **(config or {}),
        }
        config_path.write_text(json.dumps(body))
        argv = [sys.executable, "-m", "plexum_openai_provider.cli", command]
        argv += ["--config", str(config_path), "--workspace", str(workspace or self.workspace())]
        return subprocess.run(
            [*argv, *args], capture_output=True, text=True, timeout=60, input=stdin
        )

    def with_config(self, **changes: Any) -> HostConfig:
        return replace(self.config, **changes)

    async def turn(
        self,
        prompt: str = "hello",
        *,
        workspace: Path | None = None,
        session: str = "default",
        config: HostConfig | None = None,
        limits: TurnLimits = FAST_LIMITS,
        model: str = "codex",
    ) -> list[CanonicalEvent]:
        request = TurnRequest(
            prompt=prompt,
            workspace=workspace or self.workspace(),
            session_id=session,
            model=model,
        )
        return await run_turn(config or self.config, request, limits)


@pytest.fixture
def fake_codex(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> FakeCodex:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    shim = bin_dir / "codex"
    # -I: the fake runs in the workspace, whose own modules must not shadow the stdlib for it.
    shim.write_text(f'#!/bin/sh\nexec "{sys.executable}" -I -m fake_codex "$@"\n')
    shim.chmod(0o755)
    home = tmp_path / "codex-home"
    home.mkdir()
    log_path = tmp_path / "invocations.jsonl"
    monkeypatch.setenv("FAKE_CODEX_LOG", str(log_path))
    monkeypatch.delenv("FAKE_CODEX_SCENARIO", raising=False)
    config = HostConfig(
        binary=str(shim), codex_home=str(home), idle_timeout_s=30, turn_timeout_s=60
    )
    return FakeCodex(tmp_path, config, log_path, monkeypatch)


def types(events: list[CanonicalEvent]) -> list[str]:
    return [e.type for e in events]


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def group_alive(pgid: int, *, within_s: float = 5.0) -> bool:
    """True if the process group still has members after `within_s`.

    A killed process lingers as a zombie until its new parent (init) reaps it, so poll briefly.
    """
    deadline = time.monotonic() + within_s
    while True:
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            return False
        if time.monotonic() > deadline:
            return True
        time.sleep(0.02)


Check = Callable[[list[CanonicalEvent]], None]


@pytest.fixture
def serve_world(fake_codex: FakeCodex) -> Any:
    """`serve` on the fake codex; every message of its connections is checked against the schema."""
    from ..protocol_schema import SchemaCheck
    from .serve_support import ServeWorld

    world = ServeWorld(fake_codex, SchemaCheck(), fake_codex.root / "serve-config.json")
    world.write_config()
    yield world
    assert world.check.failures == [], "\n".join(world.check.failures)
