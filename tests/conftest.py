"""Shared test setup: hypothesis profiles (`ci` if CI=true, `dev`, `mutation`); `live` on
request; the fault-matrix plugin; and the check that the suite leaves nothing of its own behind
in /tmp (`tests/leftovers.py`)."""

from __future__ import annotations

import os

import pytest
from hypothesis import Phase, settings

settings.register_profile("dev", max_examples=50, deadline=None)
# CI machines are slow and shared: a fixed, modest budget and no per-example deadline.
settings.register_profile("ci", max_examples=100, deadline=None)
# scripts/mutation: the dev budget, but a failing example is not shrunk; only the kill matters.
settings.register_profile(
    "mutation",
    max_examples=50,
    deadline=None,
    phases=[Phase.explicit, Phase.reuse, Phase.generate],
)
settings.load_profile(
    os.environ.get("HYPOTHESIS_PROFILE") or ("ci" if os.environ.get("CI") == "true" else "dev")
)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Tests on the plugin's real codex are `e2e` (so `-m "not e2e"` leaves them out); `live`
    tests talk to OpenAI through a real `codex login`: run only when asked (`-m live`)."""
    for item in items:
        if "real_codex" in item.keywords:
            item.add_marker(pytest.mark.e2e)
    if "live" in (config.getoption("markexpr") or "").replace("not live", ""):
        return
    skip = pytest.mark.skip(reason="needs a real `codex login`; run with `pytest -m live`")
    for item in items:
        if "live" in item.keywords:
            item.add_marker(skip)


pytest_plugins = ["tests.faults.plugin", "tests.leftovers"]
