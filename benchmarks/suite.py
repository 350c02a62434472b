"""P6: the test loops' wall time against their budgets (the tests must also pass).

The fast loop (`FAST_LOOP`: the unit tests beside each room and the fake codex's; no real codex,
no integration, conformance or fault runs) ≤ 60 s on 2 cores; with `full`, `pytest -m "not live"`
(every test scripts/test runs, without its install, lint and type-check steps) against 4 minutes.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

from benchmarks.figures import Figure

ROOT = Path(__file__).resolve().parents[1]
# The unit tests (beside their rooms) and the fake codex's: no real codex, no whole-stack runs.
FAST_LOOP = ["-m", "not e2e and not live", "--ignore=tests/e2e", "--ignore=tests/integration",
             "--ignore=tests/conformance", "--ignore=tests/faults"]  # fmt: skip


def _pytest(args: list[str], timeout: float) -> float:
    argv = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *args]
    start = time.perf_counter()
    proc = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, timeout=timeout)
    took = time.perf_counter() - start
    if proc.returncode != 0:
        tail = "\n".join(proc.stdout.splitlines()[-15:])
        raise RuntimeError(f"pytest {' '.join(args)} failed (exit {proc.returncode}):\n{tail}")
    return took


def _figure(name: str, took: float, budget: float) -> Figure:
    return Figure(
        key="P6",
        name=name,
        baseline=f"budget {budget:.0f} s",
        ours=f"{took:.0f} s",
        ratio=took / budget,
        target="<= 1",
        spread="one run",
    )


def test_suite(quick: bool, full: bool) -> list[Figure]:
    if quick:
        took = _pytest(["tests/codex", "tests/jsonrpc"], timeout=300)
        return [_figure("pytest tests/codex tests/jsonrpc (smoke)", took, 60)]
    figures = [_figure("the fast loop", _pytest(FAST_LOOP, 600), 60)]
    if full:
        figures.append(_figure('pytest -m "not live"', _pytest(["-m", "not live"], 900), 240))
    return figures
