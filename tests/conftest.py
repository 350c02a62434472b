"""Shared test setup: hypothesis profiles (`ci` if CI=true, `dev`, `mutation`); `live` on
request; the fault-matrix plugin; how xdist shares the tests (`tests/scheduling.py`); the
app-server schemas of the real binaries (generated once per session); a short basetemp under
xdist; and the check that the suite leaves nothing of its own behind in /tmp
(`tests/leftovers.py`)."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable
from typing import TYPE_CHECKING

import pytest
from hypothesis import Phase, settings

if TYPE_CHECKING:
    from conformance.app_server_schema import Schema

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


pytest_plugins = ["tests.faults.plugin", "tests.leftovers", "tests.scheduling"]
_SHORT_BASETEMP = pytest.StashKey[str]()


def pytest_configure(config: pytest.Config) -> None:
    """Under xdist (`-n N`) without `--basetemp`: a short one of this run's own under /tmp
    (removed at the end). The default adds `pytest-of-<user>/pytest-<n>/popen-gw<k>/` to every
    tmp_path, and a unix socket path must stay under ~100 bytes."""
    controller = not hasattr(config, "workerinput")
    if config.getoption("numprocesses", None) and controller and config.option.basetemp is None:
        root = tempfile.mkdtemp(prefix="pt-", dir="/tmp")
        config.stash[_SHORT_BASETEMP] = root
        config.option.basetemp = os.path.join(root, "t")


def pytest_unconfigure(config: pytest.Config) -> None:
    root = config.stash.get(_SHORT_BASETEMP, None)
    if root is not None:
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="session")
def app_server_schemas(
    tmp_path_factory: pytest.TempPathFactory,
) -> Callable[[str, str], Schema]:
    """`get(version, flavour)`: the app-server JSON Schema the real codex `version` generates
    (`stable` or `experimental`), generated once per session. A missing binary FAILS the test."""
    from conformance.app_server_schema import Schema, generate
    from conformance.installs import CodexNotInstalledError, binary

    root = tmp_path_factory.mktemp("app-server-schemas")
    cache: dict[tuple[str, str], Schema] = {}

    def get(version: str, flavour: str) -> Schema:
        if (version, flavour) not in cache:
            try:
                codex = binary(version)
            except CodexNotInstalledError as exc:
                pytest.fail(str(exc), pytrace=False)
            out = root / f"{version}-{flavour}"
            generate(codex, out, experimental=flavour == "experimental")
            cache[version, flavour] = Schema(out)
        return cache[version, flavour]

    return get
