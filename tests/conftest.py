"""Shared test setup: hypothesis profiles (`ci` if CI=true, `dev`, `mutation`); `live` on
request; the fault-matrix plugin; and a check that the suite leaves nothing behind in /tmp."""

from __future__ import annotations

import glob
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


pytest_plugins = ["tests.faults.plugin"]

# What the suite must not leave in /tmp: the default socket dir's entries, and demo folders.
_TMP_WATCH = (f"/tmp/plexum-{os.getuid()}/*", "/tmp/plexum-demo.*")
_tmp_before: set[str] = set()


def _tmp_entries() -> set[str]:
    return {path for pattern in _TMP_WATCH for path in glob.glob(pattern)}


def pytest_sessionstart(session: pytest.Session) -> None:
    _tmp_before.update(_tmp_entries())


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    left = sorted(_tmp_entries() - _tmp_before)
    if left and not hasattr(session.config, "workerinput"):
        reporter = session.config.pluginmanager.get_plugin("terminalreporter")
        message = "the test suite left entries in /tmp: " + ", ".join(left)
        if reporter is not None:
            reporter.write_line(message, red=True)
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
