"""The drift check: how a newer real codex differs from the fake's nearest known profile.

`python -m conformance.compare --latest` asks the npm registry for the newest `@openai/codex`,
installs it (`fake_codex.testing.real_codex`), plays every scenario on it and on the fake
emulating the nearest known version, and prints what changed, column by column: the to-do list for
the fake's next profile. `--drift V` does the same for a version V you name. Known divergences
are NOT applied: drift is the raw truth.
"""

from __future__ import annotations

import re
import subprocess
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from conformance.divergences import COLUMNS
from conformance.installs import CACHE_DIR
from conformance.verdict import Cell, unified
from fake_codex.core.versions import KNOWN_VERSIONS, nearest_known
from fake_codex.testing import real_codex

PACKAGE = "@openai/codex"
_RELEASE = re.compile(r"^\d+\.\d+\.\d+$")
# Diff lines past this many per change are summarised: the list stays readable on a big drift.
MAX_LINES = 40


class DriftError(RuntimeError):
    """The drift check could not run (no npm, no answer from the registry, install failed)."""


Runner = Callable[..., "subprocess.CompletedProcess[str]"]


def latest_published(run: Runner = subprocess.run) -> str:
    """The version the npm registry calls `latest` for @openai/codex (`npm view`)."""
    try:
        proc = run(
            ["npm", "view", PACKAGE, "version"],
            capture_output=True,
            text=True,
            timeout=60,
            stdin=subprocess.DEVNULL,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise DriftError(f"`npm view {PACKAGE} version` failed: {exc}") from exc
    version = proc.stdout.strip()
    if proc.returncode != 0 or not _RELEASE.match(version):
        raise DriftError(
            f"`npm view {PACKAGE} version` gave rc={proc.returncode} "
            f"stdout={version!r} stderr={proc.stderr.strip()[-300:]!r}"
        )
    return version


def install(version: str) -> Path:
    """Install `version` into this repository's `.codex-cache/` (idempotent)."""
    try:
        return real_codex.install(version, CACHE_DIR)
    except real_codex.InstallError as exc:
        raise DriftError(f"installing codex {version} failed: {exc}") from exc


@dataclass(frozen=True)
class Change:
    """One distinct set of changed lines in one column, and the scenarios that show it."""

    column: str
    lines: tuple[str, ...]
    scenarios: tuple[str, ...]


def changes(cells: Sequence[Cell], context: int = 0) -> list[Change]:
    """The cells' diffs grouped by column, identical diffs merged (one change, N scenarios);
    with `context`, unified diffs with that many lines around each change."""
    grouped: dict[tuple[str, tuple[str, ...]], list[str]] = {}
    for cell in cells:
        for column, lines in cell.diffs.items():
            if context and column in cell.views:
                lines = unified(*cell.views[column], context)
            grouped.setdefault((column, tuple(lines)), []).append(cell.scenario)
    order = {column: n for n, column in enumerate(COLUMNS)}
    found = [Change(col, lines, tuple(sorted(names))) for (col, lines), names in grouped.items()]
    return sorted(found, key=lambda c: (order.get(c.column, 9), c.scenarios[0], c.lines))


def run_problems(cell: Cell) -> list[str]:
    """What went wrong in the runs themselves (not the column differences listed above)."""
    return [p for p in cell.problems if p not in {f"{c} differs" for c in COLUMNS}]


def render(cells: Sequence[Cell], real: str, emulated: str, context: int = 0) -> str:
    """The drift report: a summary line, then per column every distinct change (- real, + fake)
    with the scenarios that show it, then the runs that went wrong."""
    drifted = sorted({c.scenario for c in cells if c.diffs})
    broken = [(c.scenario, run_problems(c)) for c in cells if run_problems(c)]
    out = [
        f"drift: real codex {real} vs the fake emulating {emulated} "
        f"(nearest known of {', '.join(KNOWN_VERSIONS)})",
        f"{len(cells)} scenarios: {len(cells) - len(drifted)} unchanged, {len(drifted)} changed"
        + (f", {len(broken)} with problems" if broken else ""),
    ]
    if not drifted and not broken:
        if real == emulated:
            out.append(f"no drift: {real} is a known version and the fake matches it")
        else:
            out.append(f"no drift: a profile for {real} can copy {emulated}'s behaviour")
        return "\n".join(out)
    found = changes(cells, context)
    column = ""
    for change in found:
        if change.column != column:
            column = change.column
            count = len({n for c in found if c.column == column for n in c.scenarios})
            out.append(f"\n## {column}: {count} scenario(s) changed (- real {real}, + fake)")
        out.append(f"- in {len(change.scenarios)}: {', '.join(change.scenarios)}")
        out.extend(f"    {line[:300]}" for line in change.lines[:MAX_LINES])
        if len(change.lines) > MAX_LINES:
            out.append(f"    ... {len(change.lines) - MAX_LINES} more lines")
    if broken:
        out.append("\n## problems (the run itself went wrong)")
        for scenario, problems in broken:
            out.extend(f"- {scenario}: {p[:500]}" for p in problems)
    return "\n".join(out)


def choose(
    version: str | None, emulate: str | None = None, latest: Callable[[], str] = latest_published
) -> tuple[str, str]:
    """(real version to check, known version the fake emulates: `emulate` or the nearest)."""
    real = version if version is not None else latest()
    if not _RELEASE.match(real):
        raise DriftError(f"{real!r} is not a release version (N.N.N)")
    if emulate is not None and emulate not in KNOWN_VERSIONS:
        raise DriftError(f"--emulate {emulate}: not a known version ({', '.join(KNOWN_VERSIONS)})")
    return real, emulate or nearest_known(real)
