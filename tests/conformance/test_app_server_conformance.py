"""The fake codex's `app-server` against the real one, per case and pinned version (marker `e2e`):
the normalised notification streams are equal and the model received what each scenario expects.
A missing codex install FAILS (never skips), naming the install command."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from conformance.app_server import compare, diff_text
from conformance.app_server_cases import CASES, Case
from conformance.installs import VERSIONS as INSTALLED_VERSIONS
from conformance.installs import CodexNotInstalledError
from conformance.installs import binary as native_binary

pytestmark = pytest.mark.e2e
# Every pinned version (the fake's profiles): 0.135.0, 0.150.1, 0.169.0, 0.171.0.
VERSIONS = INSTALLED_VERSIONS
CELLS = [(case, version) for version in VERSIONS for case in CASES]


@pytest.mark.parametrize(("case", "version"), CELLS, ids=[f"{c.name}@{v}" for c, v in CELLS])
def test_fake_app_server_matches_the_real_one(case: Case, version: str, tmp_path: Path) -> None:
    try:
        native_binary(version)
    except CodexNotInstalledError as exc:
        pytest.fail(str(exc), pytrace=False)
    result = asyncio.run(compare(case, version, tmp_path))
    assert result.real, "the real app-server sent no notifications"
    assert result.equal, diff_text(result)
