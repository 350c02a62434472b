"""`doctor` against the REAL codex: its `--version`, `login status` (with the WARNING lines a
CODEX_HOME under /tmp adds) and `mcp list --json` read as the checks expect."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from fake_codex.testing.fakes import RealCodex
from plexum_openai_provider.bridge.registration import default_plugin_command, ensure_registered
from plexum_openai_provider.bridge.socket_path import stable_socket_path
from plexum_openai_provider.cli.doctor import run_checks
from plexum_openai_provider.config import CONFIG_ENV

pytestmark = pytest.mark.e2e


async def test_doctor_reads_the_real_codex(
    real_codex: RealCodex, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    for name in ("OPENAI_API_KEY", "CODEX_HOME", CONFIG_ENV):
        monkeypatch.delenv(name, raising=False)
    socket_dir = tmp_path / "sock"
    config = tmp_path / "config.json"
    body = {
        "binary": str(real_codex.binary),
        "codex_home": str(real_codex.home),
        "socket_dir": str(socket_dir),
        "mcp_registration": "global",
        "sandbox": "workspace-write",  # the default `bypass` is a warning of its own
    }
    config.write_text(json.dumps(body))
    await ensure_registered(
        real_codex.binary,
        "agent1",
        stable_socket_path("agent1", socket_dir=socket_dir),
        default_plugin_command(),
        env=dict(os.environ),
        codex_home=real_codex.home,
    )

    found = {f.check: f for f in await run_checks(str(config), dict(os.environ))}
    assert found["version"].message == f"codex {real_codex.version}"
    assert found["login"].status == "fail"
    assert found["login"].message.startswith("codex is not logged in")
    assert found["registration plexum-host-agent1"].status == "ok"

    subprocess.run(
        [str(real_codex.binary), "login", "--with-api-key"],
        input=b"sk-test-1234567890abcdef",
        env={**os.environ, "CODEX_HOME": str(real_codex.home)},
        capture_output=True,
        check=True,
        timeout=30,
    )
    install = [sys.executable, "-m", "plexum_openai_provider", "install"]
    subprocess.run(install, env=dict(os.environ), capture_output=True, check=True, timeout=60)
    found = {f.check: f for f in await run_checks(str(config), dict(os.environ))}
    assert found["login"].status == "ok"
    # 0.169: "API key configured - …"; 0.135: "Logged in using an API key - …"
    assert found["login"].message.endswith(" - sk-test-***bcdef")
    assert [f for f in found.values() if f.status in ("warn", "fail")] == []
