"""Two processes on one thread, fake against real, per case and pinned version (marker `e2e`): the
views are equal, and they say what codex enforces (docs/sharing-codex-home.md). A missing codex
install FAILS (never skips)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from conformance.installs import VERSIONS, CodexNotInstalledError
from conformance.installs import binary as native_binary
from conformance.two_processes import CASES, compare

pytestmark = pytest.mark.e2e
CELLS = [(name, version) for version in VERSIONS for name in CASES]
LOCKING = {"0.150.1", "0.169.0", "0.171.0"}


@pytest.mark.parametrize(("name", "version"), CELLS, ids=[f"{n}@{v}" for n, v in CELLS])
def test_two_processes_on_one_thread_behave_as_on_the_real_codex(
    name: str, version: str, tmp_path: Path
) -> None:
    try:
        native_binary(version)
    except CodexNotInstalledError as exc:
        pytest.fail(str(exc), pytrace=False)
    result = asyncio.run(compare(name, version, tmp_path))
    assert result.equal, f"fake {result.fake}\nreal {result.real}\n{result.problems}"
    view = result.real
    if name == "exec_vs_exec":
        assert view["held_answer_kept"]
        assert view["second"]["rc"] == (1 if version in LOCKING else 0)
    elif name == "exec_vs_app_server":
        refused = {"code": -32600, "message": "thread <uuid> already has an active writer"}
        assert view["second_app_server"] == (
            {"error": refused} if version in LOCKING else {"ok": True}
        )
    elif name == "unsubscribe_then_exec":
        unloads = version in ("0.169.0", "0.171.0")
        assert view["closed"] is unloads
        assert view["exec_rc"] == (1 if version == "0.150.1" else 0)
    elif name == "consume_during_turn":
        assert view["during"] == "refused, naming the holder"
        assert view["held_answer_kept"] and view["after"] == ["call_2p"]
