"""The fake codex against the real codex, one test per scenario and version (marker `e2e`).

The selected comparisons of one version are run once, concurrently, when the first test of that
version needs them; each test then checks its own cell. Under xdist a version's cells all go to
one worker, which plays its batch (tests/scheduling.py). A missing codex install FAILS (never
skips), naming the install command.
"""

from __future__ import annotations

import asyncio
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from conformance import divergences
from conformance.compare import compare_pairs
from conformance.installs import VERSIONS as INSTALLED_VERSIONS
from conformance.installs import CodexNotInstalledError
from conformance.installs import binary as native_binary
from conformance.scenario_set import ConformanceScenario, load_all
from conformance.verdict import Cell, report_diffs

# The first test of a version runs its ~60 comparisons (40-90 s on 2 busy cores, past the
# suite's default 120 s when the machine is very busy).
pytestmark = [pytest.mark.e2e, pytest.mark.timeout(600)]
SCENARIOS = {s.name: s for s in load_all()}
PAIRS = [(name, v) for name, s in SCENARIOS.items() for v in INSTALLED_VERSIONS if s.applies_to(v)]


def _selected(session: pytest.Session, version: str) -> list[tuple[ConformanceScenario, str]]:
    wanted: list[tuple[ConformanceScenario, str]] = []
    for item in session.items:
        params = getattr(getattr(item, "callspec", None), "params", {})
        if item.name.startswith("test_fake_matches_real") and "pair" in params:
            name, pair_version = params["pair"]
            if pair_version == version:
                wanted.append((SCENARIOS[name], version))
    return wanted


class Cells:
    """Every selected comparison of a version, computed on first use (one batch per version,
    so no single test's setup carries the whole run)."""

    def __init__(self, session: pytest.Session, root: Path) -> None:
        self.session = session
        self.root = root
        self.known = divergences.load()
        self.found: dict[tuple[str, str], Cell] = {}

    def __getitem__(self, pair: tuple[str, str]) -> Cell:
        if pair not in self.found:
            pairs = _selected(self.session, pair[1])
            batch = asyncio.run(compare_pairs(pairs, self.known, self.root, jobs=4))
            self.found.update({(c.scenario, c.version): c for c in batch})
        return self.found[pair]


@pytest.fixture(scope="session")
def cells(request: pytest.FixtureRequest) -> Iterator[Cells]:
    with tempfile.TemporaryDirectory(prefix="conformance-") as root:
        yield Cells(request.session, Path(root))


# tests/scheduling.py reads the version from the id's `@<version>]`.
@pytest.mark.parametrize("pair", PAIRS, ids=[f"{n}@{v}" for n, v in PAIRS])
def test_fake_matches_real_or_a_recorded_divergence(pair: tuple[str, str], cells: Cells) -> None:
    version = pair[1]
    try:
        native_binary(version)
    except CodexNotInstalledError as exc:
        pytest.fail(str(exc), pytrace=False)
    cell = cells[pair]
    if cell.status == "failed":
        pytest.fail(report_diffs([cell], verbose=True, context=3), pytrace=False)
