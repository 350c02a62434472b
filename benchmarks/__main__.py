"""`python -m benchmarks [--quick] [--tests[=full]] [--json FILE] [--only P1a,P3,...]`

Runs every figure of the Speed issue, each against a baseline measured in the same run, prints ONE
table (figure, baseline, ours, ratio, target, spread) and writes the same rows as JSON. The exit
status says whether the benchmarks RAN (0) or crashed (1); targets are reported, never gated on.
`--quick` is a smoke of each figure (< 30 s) for CI; `--tests` adds P6, which runs the README's
test commands.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
import traceback
from collections.abc import Callable
from pathlib import Path

from benchmarks.figures import Figure, render

HERE = Path(__file__).resolve().parent
DEFAULT_JSON = {False: HERE / "last-run.json", True: HERE / "last-quick.json"}  # git-ignored


def _plan(quick: bool, tests: str | None) -> list[tuple[str, Callable[[], list[Figure]]]]:
    from benchmarks import (
        bench_app_server,
        bench_rollout,
        budget,
        concurrency,
        load,
        startup,
        stream,
        suite,
        turns,
        warm_serve,
    )

    pairs = 2 if quick else 20
    plan: list[tuple[str, Callable[[], list[Figure]]]] = [
        ("P1a", lambda: turns.warm(pairs)),
        ("P1b", lambda: turns.cold(pairs)),
        ("P1b", lambda: budget.figures(1 if quick else 7)),
        ("P2", lambda: [startup.mcp_host(3 if quick else 21)]),
        ("P3", lambda: [stream.throughput(2 if quick else 100, 1 if quick else 3)]),
        ("P3", lambda: stream.latency(100 if quick else 1000)),
        ("P4", lambda: bench_rollout.figures(2 if quick else 100, 2_000 if quick else 100_000)),
        ("P5", lambda: [concurrency.concurrent_turns(8 if quick else 32, 1 if quick else 5)]),
        ("P7", lambda: [startup.fake_codex_exec(3 if quick else 21)]),
        ("P8", lambda: bench_app_server.figures(2 if quick else 10)),
        ("P8b", lambda: warm_serve.figures(2 if quick else 20)),
        ("P9", lambda: load.figures(8 if quick else 64, 2 if quick else 4, 8 if quick else 32)),
    ]
    if tests is not None:
        plan.append(("P6", lambda: suite.test_suite(quick, full=tests == "full")))
    return plan


def machine() -> str:
    cpus = os.cpu_count()
    try:
        load = f"load {os.getloadavg()[0]:.1f}"
    except OSError:
        load = "load ?"
    python = platform.python_version()
    return f"{platform.system()} {platform.machine()}, {cpus} CPUs, {load}, Python {python}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="a smoke of each figure (< 30 s)")
    parser.add_argument(
        "--tests", nargs="?", const="fast", choices=("fast", "full"),
        help="P6: time the README's fast loop (full: also its test command, scripts/test)",
    )  # fmt: skip
    parser.add_argument("--json", type=Path, help="where to write the rows (default: benchmarks/)")
    parser.add_argument("--only", help="comma-separated figure keys, e.g. P1b,P3")
    args = parser.parse_args(argv)
    only = set(args.only.split(",")) if args.only else None
    started = time.perf_counter()
    figures: list[Figure] = []
    crashed: list[str] = []
    for key, run in _plan(args.quick, args.tests):
        if only is not None and key not in only:
            continue
        print(f"[{time.perf_counter() - started:5.1f} s] {key} ...", file=sys.stderr, flush=True)
        try:
            figures.extend(run())
        except Exception:
            traceback.print_exc()
            crashed.append(key)
    took = time.perf_counter() - started
    header = f"{machine()}; {'quick smoke' if args.quick else 'full run'} in {took:.0f} s"
    print(header)
    print(render(figures))
    if crashed:
        print(f"CRASHED: {', '.join(crashed)}")
    document = {
        "machine": machine(),
        "quick": args.quick,
        "seconds": round(took, 1),
        "figures": [f.to_json() for f in figures],
        "crashed": crashed,
    }
    out = args.json or DEFAULT_JSON[args.quick]
    tmp = out.with_name(out.name + ".tmp")
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(document, f, indent=2, ensure_ascii=False)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, out)
    return 1 if crashed else 0


if __name__ == "__main__":
    sys.exit(main())
