"""The verdict on one scenario at one version: two captures judged column by column.

`judge` fills a `Cell` (equal / divergent with the known divergences that explain it / failed),
`table` and `report_diffs` render cells; `unified` is the JSON diff both use. Pure: no processes.
"""

from __future__ import annotations

import difflib
import json
from dataclasses import dataclass, field
from typing import Any

from conformance import divergences as div
from conformance.backends import Capture
from conformance.views import views


@dataclass
class Cell:
    """The verdict for one scenario on one version."""

    scenario: str
    version: str
    status: str = "equal"  # equal | divergent | failed
    reasons: list[str] = field(default_factory=list)
    diffs: dict[str, list[str]] = field(default_factory=dict)  # column -> changed lines
    views: dict[str, tuple[Any, Any]] = field(default_factory=dict)  # column -> (fake, real)
    problems: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def fail(self, reason: str) -> None:
        self.status = "failed"
        # A table cell stays readable; the whole text is in the details below the table.
        self.reasons.append(reason if len(reason) <= 160 else reason[:157] + "...")
        self.problems.append(reason)

    @property
    def label(self) -> str:
        if self.status == "equal":
            return "equal"
        return f"{self.status} ({'; '.join(self.reasons)})"


def unified(fake: Any, real: Any, context: int) -> list[str]:
    """A unified diff from real (`-`) to fake (`+`) of the two values as indented JSON."""
    a = json.dumps(real, indent=1, sort_keys=True, ensure_ascii=False).splitlines()
    b = json.dumps(fake, indent=1, sort_keys=True, ensure_ascii=False).splitlines()
    return list(difflib.unified_diff(a, b, "real", "fake", n=context, lineterm=""))[2:]


def changed_lines(fake: Any, real: Any) -> list[str]:
    """Only the +/- lines: what a divergence's regexes must explain."""
    return [line for line in unified(fake, real, 0) if line[:1] in "+-"]


def _renamed(value: Any, old: str, new: str) -> Any:
    """`value` with every occurrence of the version string `old` written as `new`."""
    return json.loads(json.dumps(value).replace(json.dumps(old)[1:-1], json.dumps(new)[1:-1]))


def judge(cell: Cell, fake: Capture, real: Capture, known: list[div.Divergence]) -> Cell:
    """Fill `cell` from two captures of one scenario (the fake may emulate another version than
    the real one: the drift check; its version string then counts as the real one's)."""
    for capture in (real, fake):
        for problem in capture.problems:
            cell.fail(f"{capture.backend}: {problem}")
    fake_views, real_views = views(fake), views(real)
    if fake.version != real.version:
        fake_views = _renamed(fake_views, fake.version, real.version)
    for column in div.COLUMNS:
        lines = changed_lines(fake_views[column], real_views[column])
        if not lines:
            continue
        cell.diffs[column] = lines
        cell.views[column] = (fake_views[column], real_views[column])
        used, unexplained = div.explain(lines, known, cell.scenario, cell.version, column)
        for divergence in used:
            if cell.status == "equal":
                cell.status = "divergent"
            if divergence.differs not in cell.reasons:
                cell.reasons.append(divergence.differs)
        if unexplained:
            cell.fail(f"{column} differs")
    return cell


def table(cells: list[Cell], versions: list[str]) -> str:
    """A Markdown table: one row per scenario, one column per version."""
    rows: dict[str, dict[str, str]] = {}
    for cell in cells:
        rows.setdefault(cell.scenario, {})[cell.version] = cell.label
    head = ["scenario", *(f"fake@{v} vs real@{v}" for v in versions)]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for name in sorted(rows):
        lines.append(
            "| " + " | ".join([name, *(rows[name].get(v, "n/a") for v in versions)]) + " |"
        )
    return "\n".join(lines)


def report_diffs(cells: list[Cell], verbose: bool, context: int = 0) -> str:
    """The changed lines of every failed cell (and of divergent ones with `verbose`)."""
    out: list[str] = []
    for cell in cells:
        if cell.status == "equal" or (cell.status == "divergent" and not verbose):
            continue
        out.append(f"### {cell.scenario} @ {cell.version}: {cell.label}")
        out.extend(f"  problem: {p}" for p in cell.problems)
        for column, changed in cell.diffs.items():
            out.append(f"  [{column}] (- real, + fake)")
            lines = unified(*cell.views[column], context) if context else changed
            out.extend(f"    {line[:300]}" for line in lines[:80])
            if len(lines) > 80:
                out.append(f"    ... {len(lines) - 80} more lines")
    return "\n".join(out)
