"""Replace the values that differ from run to run, so two captures compare as plain JSON.

`Normaliser` numbers thread ids in order of first appearance (`<thread:1>`, ...), masks other
UUIDs, the run's temp folder, the server URL, wall times, chunk ids and output-item ids, and drops
timestamp/duration keys. Item ids of the exec stream (`item_0`, ...) are kept: codex numbers them
deterministically, so they are part of what is compared.
"""

from __future__ import annotations

import json
import re
from typing import Any

_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
_SERVER = re.compile(r"https?://127\.0\.0\.1:\d+")
_SUBSTITUTIONS: tuple[tuple[re.Pattern[str], str], ...] = (
    # `Wall time: S seconds` (tool outputs); code mode's script header has no colon.
    (re.compile(r"Wall time(:?) [0-9.]+ seconds"), r"Wall time\1 <wall> seconds"),
    (re.compile(r"Chunk ID: [0-9a-f]+"), "Chunk ID: <chunk>"),
    (re.compile(r"\b(fco|ctco|msg|at|rs)_<uuid>"), r"\1_<id>"),
    # the provider's private per-turn folder for image copies and the schema (tempfile's name)
    (re.compile(r"plexum-openai-turn-[A-Za-z0-9_]+"), "plexum-openai-turn-<tmp>"),
)
# Keys whose values are clocks or durations: never equal between two runs.
VOLATILE_KEYS = frozenset(
    {
        "timestamp",
        "create_time",
        "duration_ms",
        "started_at",
        "completed_at",
        "wall_time",
        "process_id",
    }
)


class Normaliser:
    """Stateful: thread numbering is shared by everything one capture normalises."""

    def __init__(self, run_dir: str | None = None) -> None:
        self.run_dir = run_dir
        self.threads: dict[str, int] = {}

    def thread(self, thread_id: str) -> str:
        """Register `thread_id` (if new) and return its placeholder."""
        number = self.threads.setdefault(thread_id, len(self.threads) + 1)
        return f"<thread:{number}>"

    def text(self, value: str) -> str:
        if self.run_dir:
            value = value.replace(self.run_dir, "<run>")
        value = _SERVER.sub("<server>", value)
        value = _UUID.sub(self._uuid, value)
        for pattern, replacement in _SUBSTITUTIONS:
            value = pattern.sub(replacement, value)
        return value

    def _uuid(self, match: re.Match[str]) -> str:
        found = match.group(0)
        if found in self.threads:
            return f"<thread:{self.threads[found]}>"
        return "<uuid>"

    def value(self, data: Any) -> Any:
        """A deep copy of `data` with every string normalised and volatile keys masked."""
        if isinstance(data, str):
            return self.text(data)
        if isinstance(data, list):
            return [self.value(v) for v in data]
        if isinstance(data, dict):
            return {
                k: ("<volatile>" if k in VOLATILE_KEYS else self.value(v)) for k, v in data.items()
            }
        return data


def canonical_arguments(arguments: Any) -> Any:
    """A function call's `arguments` string as an object: its spacing is the server's choice."""
    if isinstance(arguments, str):
        try:
            return json.loads(arguments)
        except ValueError:
            return arguments
    return arguments
