"""Compare the fake codex with the real codex, scenario by scenario and version by version.

`python -m conformance.compare [--versions V ...] [--scenario NAME ...]` plays every scenario
on fake@V and real@V, compares the columns (exec JSONL, rollout tool calls, turns that reached
the model, provider events, MCP server logs, the turn inputs of model requests), prints a table
scenario x version -> equal / divergent (reason) / FAILED, and exits 1 when any cell failed.
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import sys
import tempfile
import time
from pathlib import Path

from conformance import app_server_drift, drift
from conformance import divergences as div
from conformance.app_server_schema import SchemaGenerationError
from conformance.backends import run_fake, run_real
from conformance.installs import VERSIONS as INSTALLED_VERSIONS
from conformance.installs import CodexNotInstalledError, binary
from conformance.scenario_set import ConformanceScenario, load_all
from conformance.verdict import Cell, judge, report_diffs, table


async def compare_one(
    scenario: ConformanceScenario,
    version: str,
    root: Path,
    known: list[div.Divergence],
    fake_version: str | None = None,
) -> Cell:
    """Play `scenario` on fake@version (or fake@fake_version: the drift check) and real@version
    (concurrently) and judge them."""
    cell = Cell(scenario.name, version)
    started = time.monotonic()
    base = root / f"{scenario.name}@{version}"
    try:
        # Before either side starts: a real side failing inside gather() would leave the fake's
        # turn running unawaited, and asyncio.run's shutdown then hung on it (seen: 100 s+).
        binary(version)
        fake, real = await asyncio.gather(
            run_fake(scenario, fake_version or version, base / "fake"),
            run_real(scenario, version, base / "real"),
        )
    except CodexNotInstalledError as exc:
        cell.fail(str(exc))
        return cell
    judge(cell, fake, real, known)
    cell.seconds = time.monotonic() - started
    return cell


async def compare_pairs(
    pairs: list[tuple[ConformanceScenario, str]],
    known: list[div.Divergence],
    root: Path,
    jobs: int,
    fake_version: str | None = None,
) -> list[Cell]:
    """Each (scenario, version), at most `jobs` at a time (each has its own CODEX_HOMEs)."""
    gate = asyncio.Semaphore(jobs)

    async def bounded(scenario: ConformanceScenario, version: str) -> Cell:
        async with gate:
            return await compare_one(scenario, version, root, known, fake_version)

    return list(await asyncio.gather(*(bounded(s, v) for s, v in pairs)))


async def compare_all(
    scenarios: list[ConformanceScenario],
    versions: list[str],
    known: list[div.Divergence],
    root: Path,
    jobs: int,
) -> list[Cell]:
    """Every scenario on every version it applies to."""
    pairs = [(s, v) for s in scenarios for v in versions if s.applies_to(v)]
    return await compare_pairs(pairs, known, root, jobs)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m conformance.compare", description=__doc__)
    parser.add_argument("--versions", nargs="+", default=list(INSTALLED_VERSIONS))
    parser.add_argument("--scenario", nargs="+", action="extend", default=[], metavar="NAME")
    parser.add_argument("--jobs", type=int, default=4, help="scenario x version pairs at once")
    parser.add_argument("--keep", action="store_true", help="keep the run folders (printed)")
    parser.add_argument("-v", "--verbose", action="store_true", help="diffs of divergences too")
    parser.add_argument("--context", type=int, default=0, help="context lines around diffs")
    check = parser.add_mutually_exclusive_group()
    check.add_argument(
        "--latest",
        action="store_true",
        help="drift check: install the newest published codex, compare it with the fake "
        "emulating the nearest known version, print what changed per column",
    )
    check.add_argument("--drift", metavar="VERSION", help="the drift check for VERSION")
    parser.add_argument(
        "--emulate",
        metavar="VERSION",
        help="drift check: the known version the fake emulates (default: the nearest known one)",
    )
    return parser


def _drift(args: argparse.Namespace) -> int:
    """`--latest` / `--drift V`: exit 0 no drift, 1 drift found, 2 the check could not run."""
    try:
        real, emulated = drift.choose(args.drift, emulate=args.emulate)
        print(f"drift: installing codex {real} (the fake emulates {emulated})", file=sys.stderr)
        drift.install(real)
    except drift.DriftError as exc:
        print(f"drift: {exc}", file=sys.stderr)
        return 2
    scenarios = [s for s in load_all(names=args.scenario or None) if s.applies_to(emulated)]
    root = Path(tempfile.mkdtemp(prefix="conformance-drift-"))
    started = time.monotonic()
    try:
        pairs = [(s, real) for s in scenarios]
        cells = asyncio.run(compare_pairs(pairs, [], root, args.jobs, fake_version=emulated))
    finally:
        if args.keep:
            print(f"run folders kept in {root}", file=sys.stderr)
        else:
            shutil.rmtree(root, ignore_errors=True)
    print(drift.render(cells, real, emulated, args.context))
    print(f"\n{len(cells)} scenarios in {time.monotonic() - started:.1f}s")
    app_root = Path(tempfile.mkdtemp(prefix="conformance-drift-app-server-"))
    try:
        lines, app_changed = app_server_drift.check(real, emulated, app_root)
    except (SchemaGenerationError, CodexNotInstalledError) as exc:
        print(f"drift: the app-server check could not run: {exc}", file=sys.stderr)
        return 2
    finally:
        shutil.rmtree(app_root, ignore_errors=True)
    print("\n".join(lines))
    return 1 if app_changed or any(c.diffs or c.problems for c in cells) else 0


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.latest or args.drift:
        return _drift(args)
    scenarios = load_all(names=args.scenario or None)
    known = div.load()
    root = Path(tempfile.mkdtemp(prefix="conformance-"))
    started = time.monotonic()
    try:
        cells = asyncio.run(compare_all(scenarios, args.versions, known, root, args.jobs))
    finally:
        if args.keep:
            print(f"run folders kept in {root}", file=sys.stderr)
        else:
            shutil.rmtree(root, ignore_errors=True)
    print(table(cells, args.versions))
    details = report_diffs(cells, args.verbose, args.context)
    if details:
        print("\n" + details)
    failed = sum(c.status == "failed" for c in cells)
    print(
        f"\n{len(cells)} comparisons in {time.monotonic() - started:.1f}s: "
        f"{sum(c.status == 'equal' for c in cells)} equal, "
        f"{sum(c.status == 'divergent' for c in cells)} divergent, {failed} failed"
    )
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
