"""The drift check's app-server part on the pinned pair 0.169.0 → 0.171.0 (marker `e2e`: the
schemas come from the real binaries, generated once per session): the schema diff finds the
known differences, lists what the provider uses first, finds nothing between a version and
itself; `--drift 0.171.0 --emulate 0.169.0` prints the exec drift, the schema diff and the
app-server conformance cases in one report."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from conformance.app_server_drift import render_schema, schema_diff
from conformance.app_server_schema import FLAVOURS, Schema

pytestmark = pytest.mark.e2e
REPO = Path(__file__).resolve().parents[2]
Schemas = Callable[[str, str], Schema]


def changed(schemas: Schemas, flavour: str, old: str = "0.169.0", new: str = "0.171.0") -> set[str]:
    diff = schema_diff(schemas(old, flavour), schemas(new, flavour), flavour)
    return {f"{c.kind} {c.method}: {c.change}" for c in diff.changes}


def test_the_known_differences_of_0_171_0_are_found(app_server_schemas: Schemas) -> None:
    stable = changed(app_server_schemas, "stable")
    assert "request modelProvider/default/set: added" in stable
    assert "notification thread/search/partial: added" in stable
    assert "server request currentTime/read: removed" not in stable  # not in 0.169.0's either
    experimental = changed(app_server_schemas, "experimental")
    assert {
        "request modelProvider/default/set: added",
        "request thread/search/stream: added",
        "request thread/search/cancel: added",
        "request thread/search/stream/cancel: added",
        "request thread/realtime/list: added",
        "notification thread/search/partial: added",
        "server request currentTime/read: removed",
    } <= experimental
    # The provider's own methods changed through the items and errors they carry.
    assert "notification error: changed" in stable and "request thread/start: changed" in stable


def test_a_version_against_itself_has_no_schema_drift(app_server_schemas: Schemas) -> None:
    for flavour in FLAVOURS:
        assert changed(app_server_schemas, flavour, "0.171.0", "0.171.0") == set()


def test_the_report_lists_what_the_provider_uses_first(app_server_schemas: Schemas) -> None:
    diffs = [
        schema_diff(app_server_schemas("0.169.0", f), app_server_schemas("0.171.0", f), f)
        for f in FLAVOURS
    ]
    text = "\n".join(render_schema(diffs, "0.169.0", "0.171.0"))
    used = text.index("### used by the provider")
    assert used < text.index("### stable: ") < text.index("### experimental: ")
    provider_part = text[used : text.index("### stable: ")]
    assert "notification error: changed (via CodexErrorInfo)" in provider_part
    assert "modelProvider/default/set" not in provider_part
    assert "CodexErrorInfo: + enum bioPolicy" in text


def test_drift_prints_exec_schema_and_app_server_cases_in_one_report() -> None:
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "conformance.compare",
            "--drift",
            "0.171.0",
            "--emulate",
            "0.169.0",
            "--scenario",
            "plain_answer",
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    out = done.stdout
    assert done.returncode == 1, done.stderr[-2000:]  # drift found (the default model, the schema)
    exec_part = out.index("drift: real codex 0.171.0 vs the fake emulating 0.169.0")
    schema_part = out.index("## app-server schema: 0.169.0 → 0.171.0")
    cases = out.index("## app-server conformance: real codex 0.171.0")
    assert exec_part < schema_part < cases
    assert "request modelProvider/default/set: added" in out
    assert "cases equal" in out and "- read_fork_archive: " in out
