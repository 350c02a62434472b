"""Requests the API would have rejected, collected for the whole test session.

The fake codex's model and the fake Responses server answer a request whose input breaks the
tool-call pairing with the API's 400 and append a line to `$FAKE_CODEX_VIOLATIONS`
(`core/pairing.py`). `Violations` owns that file for a session: the plugin points the variable at
it, fails the test during which a line appeared (unless marked `codex_request_violations`) and
the session when any unexpected one did.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

from fake_codex.core.pairing import REPORT_ENV


class Violations:
    def __init__(self) -> None:
        fd, name = tempfile.mkstemp(prefix="fake-codex-violations.", suffix=".jsonl")
        os.close(fd)
        self.path = Path(name)
        self._previous = os.environ.get(REPORT_ENV)
        os.environ[REPORT_ENV] = name  # inherited by every codex the tests start
        self.unexpected: list[dict[str, Any]] = []  # found during unmarked tests
        self.expected = 0  # how many the marked tests produced
        # Under xdist, on the controller: what the workers found (their own files).
        self.relayed_unexpected: list[dict[str, Any]] = []
        self.relayed_outside = 0

    def mark(self) -> int:
        """Where the file ends now: `since(mark)` reads what was reported after it."""
        try:
            return self.path.stat().st_size
        except FileNotFoundError:
            return 0

    def since(self, mark: int) -> list[dict[str, Any]]:
        try:
            with open(self.path, "rb") as fh:
                fh.seek(mark)
                data = fh.read()
        except FileNotFoundError:
            return []
        out: list[dict[str, Any]] = []
        for raw in data.splitlines():
            try:
                line = json.loads(raw)
            except ValueError:
                line = {"who": "?", "problems": [raw.decode("utf-8", "replace")]}
            out.append(line if isinstance(line, dict) else {"who": "?", "problems": [str(line)]})
        return out

    def close(self) -> None:
        if self._previous is None:
            os.environ.pop(REPORT_ENV, None)
        else:
            os.environ[REPORT_ENV] = self._previous
        self.path.unlink(missing_ok=True)


def describe(found: list[dict[str, Any]]) -> str:
    return "; ".join(f"{v.get('who')}: {(v.get('problems') or ['?'])[0]}" for v in found)
