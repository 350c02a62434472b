"""How pytest-xdist shares the suite between workers (`-n N`, scripts/test): test by test, except
the conformance cells of one codex version, which all go to one worker. That worker plays the
version's scenarios once, as one concurrent batch (tests/conformance/test_conformance.py); spread
over two workers, each would play the whole batch. xdist's own `loadgroup` cannot do it here: it
renames node ids through an attribute pytest 9.2 no longer reads.
"""

from __future__ import annotations

from typing import Any

import pytest

BATCHED = "tests/conformance/test_conformance.py::test_fake_matches_real_or_a_recorded_divergence["


def scope(nodeid: str) -> str:
    """The unit a worker gets whole: a conformance cell's version (its id ends `@<version>]`),
    else the test itself."""
    if nodeid.startswith(BATCHED) and nodeid.endswith("]") and "@" in nodeid:
        return "conformance@" + nodeid[:-1].rpartition("@")[2]
    return nodeid


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    if config.getvalue("dist") != "load":
        return None  # another --dist asked for by name
    from xdist.scheduler import LoadScopeScheduling

    class ByVersion(LoadScopeScheduling):
        """Largest units first (xdist's default order for scopes): the four batches start at
        once, and single tests fill the workers around them."""

        def _split_scope(self, nodeid: str) -> str:
            return scope(nodeid)

    return ByVersion(config, log)
