"""Known, versioned differences between the fake and the real codex, kept as data.

`conformance/divergences.json` is `{"divergences": [Divergence, ...]}`. A divergence names a
scenario pattern, an inclusive version range, a column and the regexes its changed diff lines
match; a diff is "divergent" only when EVERY changed line is matched by an applicable entry, so a
new, unrelated difference still fails.
"""

from __future__ import annotations

import fnmatch
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

DIVERGENCES_FILE = Path(__file__).resolve().parent / "divergences.json"
COLUMNS = ("exec", "rollout", "requests", "provider", "mcp", "request")
_KEYS = {"scenario", "versions", "column", "lines", "differs", "reason"}


def version_key(version: str) -> tuple[int, ...]:
    return tuple(int(p) for p in version.split(".")[:3])


@dataclass(frozen=True)
class Divergence:
    scenario: str  # fnmatch pattern over scenario names
    versions: tuple[str, str]  # inclusive range
    column: str
    lines: tuple[re.Pattern[str], ...]
    differs: str
    reason: str

    def applies(self, scenario: str, version: str, column: str) -> bool:
        low, high = (version_key(v) for v in self.versions)
        return (
            column == self.column
            and fnmatch.fnmatchcase(scenario, self.scenario)
            and low <= version_key(version) <= high
        )

    def explains(self, line: str) -> bool:
        return any(p.search(line) for p in self.lines)


def parse(raw: Any, source: str = "<memory>") -> list[Divergence]:
    """Validate the file's content; every problem is a ValueError naming the entry."""
    if not isinstance(raw, dict) or not isinstance(raw.get("divergences"), list):
        raise ValueError(f'{source}: expected {{"divergences": [...]}}')
    out: list[Divergence] = []
    for i, entry in enumerate(raw["divergences"]):
        where = f"{source}: divergences[{i}]"
        if not isinstance(entry, dict) or set(entry) != _KEYS:
            raise ValueError(f"{where}: needs exactly the keys {sorted(_KEYS)}")
        if entry["column"] not in COLUMNS:
            raise ValueError(f"{where}: column must be one of {COLUMNS}")
        versions = entry["versions"]
        if not (isinstance(versions, list) and len(versions) == 2):
            raise ValueError(f"{where}: versions is [lowest, highest] (inclusive)")
        if not entry["lines"] or not entry["reason"]:
            raise ValueError(f"{where}: lines and reason must not be empty")
        out.append(
            Divergence(
                scenario=str(entry["scenario"]),
                versions=(str(versions[0]), str(versions[1])),
                column=str(entry["column"]),
                lines=tuple(re.compile(str(p)) for p in entry["lines"]),
                differs=str(entry["differs"]),
                reason=str(entry["reason"]),
            )
        )
    return out


def load(path: Path = DIVERGENCES_FILE) -> list[Divergence]:
    return parse(json.loads(path.read_text(encoding="utf-8")), str(path))


def explain(
    changed: list[str], known: list[Divergence], scenario: str, version: str, column: str
) -> tuple[list[Divergence], list[str]]:
    """(the divergences used, the changed lines none of them explains)."""
    candidates = [d for d in known if d.applies(scenario, version, column)]
    used: list[Divergence] = []
    unexplained: list[str] = []
    for line in changed:
        match = next((d for d in candidates if d.explains(line)), None)
        if match is None:
            unexplained.append(line)
        elif match not in used:
            used.append(match)
    return used, unexplained
