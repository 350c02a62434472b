"""The provider on the plugin's fake codex (`fake_codex.testing.plugin`): a HostConfig whose
`binary` is the fake, turns run through the provider, the `say`/`consume` CLI as a user runs it."""

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

from fake_codex.testing.fakes import FakeCodex, scenario_document
from fake_codex.testing.homes import LoggedInvocation
from plexum_openai_provider.config import HostConfig
from plexum_openai_provider.events import CanonicalEvent
from plexum_openai_provider.turn import TurnLimits, TurnRequest, run_turn

FAST_LIMITS = TurnLimits(kill_grace_s=0.5, post_exit_drain_s=0.5)


@dataclass
class ProviderOnFake:
    """The plugin's `fake` plus the provider's config for it, rooted in the test's tmp_path."""

    root: Path
    fake: FakeCodex
    config: HostConfig
    monkeypatch: pytest.MonkeyPatch

    def scenario(self, turns: list[dict[str, Any]], **top: Any) -> Path:
        """Write (validated) and select a scenario (docs/scenarios.md)."""
        return self.fake.write_scenario(document={**scenario_document(turns), **top})

    def invocations(self) -> list[LoggedInvocation]:
        return self.fake.invocations()

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
def provider(
    tmp_path: Path, fake_codex: FakeCodex, monkeypatch: pytest.MonkeyPatch
) -> ProviderOnFake:
    config = HostConfig(
        binary=str(fake_codex.executable),
        codex_home=str(fake_codex.home),
        idle_timeout_s=30,
        turn_timeout_s=60,
    )
    return ProviderOnFake(tmp_path, fake_codex, config, monkeypatch)


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
def serve_world(provider: ProviderOnFake) -> Any:
    """`serve` on the fake codex; every message of its connections is checked against the schema."""
    from ..protocol_schema import SchemaCheck
    from .serve_support import ServeWorld

    world = ServeWorld(provider, SchemaCheck(), provider.root / "serve-config.json")
    world.write_config()
    yield world
    assert world.check.failures == [], "\n".join(world.check.failures)
