"""Fixtures for e2e tests: the REAL native codex with a throwaway CODEX_HOME and workdir.

A missing codex install FAILS the test (never skips) with the install command, so a CI without
the binaries cannot pass silently.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from fake_codex.real_codex_env import codex_env
from conformance.codex_run import RealCodex
from conformance.installs import CodexNotInstalledError
from conformance.installs import binary as native_binary

E2E_VERSIONS = ("0.135.0", "0.169.0")


def require_codex(version: str) -> Path:
    try:
        return native_binary(version)
    except CodexNotInstalledError as exc:
        pytest.fail(str(exc), pytrace=False)


@pytest.fixture(params=E2E_VERSIONS)
def real_codex(request: pytest.FixtureRequest, tmp_path: Path) -> RealCodex:
    version = str(request.param)
    home = tmp_path / "codex-home"
    workdir = tmp_path / "work"
    home.mkdir()
    workdir.mkdir()
    return RealCodex(version, require_codex(version), home, workdir)


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A throwaway CODEX_HOME, and the test's environment reduced to `codex_env` of it (the
    provider passes its environment on to codex)."""
    path = tmp_path / "codex-home"
    path.mkdir()
    for key in list(os.environ):
        monkeypatch.delenv(key)
    for key, value in codex_env(path).items():
        monkeypatch.setenv(key, value)
    return path
