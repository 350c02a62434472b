"""e2e tests run on the plugin's `real_codex` (fake_codex.testing.plugin): the REAL native codex,
a throwaway CODEX_HOME, a fake Responses server. Each test runs on every version below unless it
parametrizes `real_codex_version` itself. A codex that cannot be installed FAILS the test (the
project's `real_codex_missing = "fail"`), it never skips."""

from __future__ import annotations

import pytest

E2E_VERSIONS = ("0.135.0", "0.169.0")


@pytest.fixture(params=E2E_VERSIONS)
def real_codex_version(request: pytest.FixtureRequest) -> str:
    return str(request.param)
