"""The fake codex against the real codex, one test per scenario and version (marker `e2e`).

All selected comparisons are run once, concurrently, by a session fixture; each test then checks
its own cell. A missing codex install FAILS (never skips), naming the install command.
"""

from __future__ import annotations

import asyncio
import tempfile
from pathlib import Path

import pytest

from conformance import divergences
from conformance.compare import Cell, compare_pairs, report_diffs
from conformance.installs import VERSIONS as INSTALLED_VERSIONS
from conformance.installs import CodexNotInstalledError
from conformance.installs import binary as native_binary
from conformance.scenario_set import ConformanceScenario, load_all

# The session fixture plays every comparison inside the first test's timeout: 177 pairs take
# 2.5-3 min on 2 busy cores, past the suite's default 120 s.
pytestmark = [pytest.mark.e2e, pytest.mark.timeout(900)]
SCENARIOS = {s.name: s for s in load_all()}
PAIRS = [(name, v) for name, s in SCENARIOS.items() for v in INSTALLED_VERSIONS if s.applies_to(v)]


def _selected(session: pytest.Session) -> list[tuple[ConformanceScenario, str]]:
    wanted: list[tuple[ConformanceScenario, str]] = []
    for item in session.items:
        params = getattr(getattr(item, "callspec", None), "params", {})
        if item.name.startswith("test_fake_matches_real") and "pair" in params:
            name, version = params["pair"]
            wanted.append((SCENARIOS[name], version))
    return wanted


@pytest.fixture(scope="session")
def cells(request: pytest.FixtureRequest) -> dict[tuple[str, str], Cell]:
    pairs = _selected(request.session)
    known = divergences.load()
    with tempfile.TemporaryDirectory(prefix="conformance-") as root:
        found = asyncio.run(compare_pairs(pairs, known, Path(root), jobs=4))
    return {(c.scenario, c.version): c for c in found}


@pytest.mark.parametrize("pair", PAIRS, ids=[f"{n}@{v}" for n, v in PAIRS])
def test_fake_matches_real_or_a_recorded_divergence(
    pair: tuple[str, str], cells: dict[tuple[str, str], Cell]
) -> None:
    version = pair[1]
    try:
        native_binary(version)
    except CodexNotInstalledError as exc:
        pytest.fail(str(exc), pytrace=False)
    cell = cells[pair]
    if cell.status == "failed":
        pytest.fail(report_diffs([cell], verbose=True, context=3), pytrace=False)
