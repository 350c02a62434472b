"""A benchmark figure (baseline, ours, ratio, target, spread), interleaved timing, and the table.

Ratios are taken pair by pair from runs interleaved A B B A …, so a machine that speeds up or slows
down mid-run moves both sides of a pair alike; the figure quotes the median ratio and its spread.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import Any


@dataclass(frozen=True)
class Figure:
    """One row of the table. `ratio` is ours ÷ baseline (times) or ours ÷ baseline (rates)."""

    key: str  # P1a, P1b-tools, ...
    name: str
    baseline: str  # what the baseline is and its value, e.g. "codex exec 0.28 s"
    ours: str
    ratio: float
    target: str  # "<= 1.3", ">= 0.5", or "" when the issue sets none
    spread: str  # e.g. "1.21-1.80 (p10-p90 of 20 pairs)"
    note: str = ""

    @property
    def met(self) -> bool | None:
        if not self.target:
            return None
        op, _, bound = self.target.partition(" ")
        limit = float(bound)
        return {
            "<=": self.ratio <= limit,
            "<": self.ratio < limit,
            ">=": self.ratio >= limit,
            ">": self.ratio > limit,
        }[op]

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "met": self.met}


@dataclass(frozen=True)
class Pairs:
    """Interleaved samples of two commands (seconds)."""

    a: list[float]
    b: list[float]

    @property
    def ratios(self) -> list[float]:
        return [x / y for x, y in zip(self.a, self.b, strict=True)]

    @property
    def ratio(self) -> float:
        return statistics.median(self.ratios)

    def spread(self) -> str:
        return spread(self.ratios)


def spread(values: Sequence[float]) -> str:
    """p10–p90 of ≥ 10 values, else min–max, with the count."""
    ordered = sorted(values)
    n = len(ordered)
    if n >= 10:
        deciles = statistics.quantiles(ordered, n=10)
        low, high, what = deciles[0], deciles[-1], "p10-p90"
    else:
        low, high, what = ordered[0], ordered[-1], "min-max"
    return f"{low:.2f}-{high:.2f} ({what} of {n})"


def best(fn: Callable[[], object], repeat: int = 5) -> float:
    """The fastest of `repeat` calls (seconds): for short in-process steps, the noise floor."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def timed(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def interleave(
    a: Callable[[], float], b: Callable[[], float], pairs: int, *, warmup: int = 1
) -> Pairs:
    """Run `a` and `b` (each returns its own seconds) alternately: A B, B A, A B, …"""
    for _ in range(warmup):
        a()
        b()
    xs: list[float] = []
    ys: list[float] = []
    for i in range(pairs):
        if i % 2:
            ys.append(b())
            xs.append(a())
        else:
            xs.append(a())
            ys.append(b())
    return Pairs(xs, ys)


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.0f} ms" if seconds < 10 else f"{seconds:.1f} s"


COLUMNS = ("figure", "baseline", "ours", "ratio", "target", "spread")


def render(figures: Sequence[Figure]) -> str:
    """The one table, as GitHub markdown (readable in a terminal too)."""
    rows = [
        (
            f"{f.key} {f.name}",
            f.baseline,
            f.ours,
            f"{f.ratio:.2f}",
            (f.target or "-") + ("" if f.met is None else (" ok" if f.met else " MISSED")),
            f.spread,
        )
        for f in figures
    ]
    widths = [max(len(c), *(len(r[i]) for r in rows)) for i, c in enumerate(COLUMNS)]

    def line(cells: Sequence[str]) -> str:
        return "| " + " | ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)) + " |"

    out = [line(COLUMNS), "|" + "|".join("-" * (w + 2) for w in widths) + "|"]
    out += [line(r) for r in rows]
    notes = [f"- {f.key}: {f.note}" for f in figures if f.note]
    return "\n".join([*out, "", *notes] if notes else out)
