"""The app-server benchmark runs end to end on the real codex and yields both figures (their
targets are judged by the benchmark's own report, not here: this machine's load moves them)."""

from __future__ import annotations

import math

import pytest

from benchmarks.bench_app_server import measure

pytestmark = pytest.mark.e2e


def test_the_benchmark_measures_a_warm_turn_a_bare_exec_turn_and_the_first_delta() -> None:
    figures = measure("0.169.0", runs=2)
    assert figures.exec_s > 0 and figures.warm_s > 0
    assert math.isfinite(figures.first_delta_ms) and figures.first_delta_ms >= 0
    # A warm turn skips the codex start a bare exec pays for: slower would be a broken benchmark.
    assert figures.warm_s < figures.exec_s


def test_the_benchmark_leaves_the_environment_as_it_found_it() -> None:
    import os

    before = dict(os.environ)
    measure("0.169.0", runs=1)
    assert dict(os.environ) == before
