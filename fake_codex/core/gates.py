"""Gates: named pauses in a scenario. A reply with `"gate": NAME` holds the model there — the
request arrived, nothing of the reply is out — until the test releases NAME, so a test can
cancel, interrupt or consume at exactly that point without racing a delay.

The fake codex is another process: it marks `$CODEX_HOME/fake-codex-gates/NAME.reached` and waits
for `NAME.open` (`hold`; `FileGate` is the test's side). The Responses server runs in the test's
process: `Gate` is a pair of events. Both sides answer `reached(timeout)` (async),
`wait_reached(timeout)` and `release()`; waits are bounded and raise `TimeoutError`.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from pathlib import Path

FOLDER = "fake-codex-gates"
HOLD_LIMIT_S = 300.0  # a gate nobody releases: the fake goes on (and says so) after this
_POLL_S = 0.01


def _name(name: str) -> str:
    if not name or "/" in name or name.startswith("."):
        raise ValueError(f"gate name {name!r}: use a plain, non-empty file name")
    return name


def hold(home: Path, name: str, limit: float = HOLD_LIMIT_S) -> None:
    """The fake codex's side: mark the gate reached, then wait until it is opened."""
    folder = home / FOLDER
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{_name(name)}.reached").write_text(f"{os.getpid()}\n")
    opened = folder / f"{name}.open"
    deadline = time.monotonic() + limit
    while not opened.exists():
        if time.monotonic() > deadline:
            sys.stderr.write(f"fake-codex: gate {name!r} was never released; going on\n")
            return
        time.sleep(_POLL_S)


class FileGate:
    """The test's side of a fake codex gate under `home`."""

    def __init__(self, home: Path, name: str) -> None:
        self.folder = home / FOLDER
        self.name = _name(name)

    @property
    def is_reached(self) -> bool:
        return (self.folder / f"{self.name}.reached").exists()

    def wait_reached(self, timeout: float = 10.0) -> None:
        deadline = time.monotonic() + timeout
        while not self.is_reached:
            if time.monotonic() > deadline:
                raise TimeoutError(f"gate {self.name!r} not reached within {timeout} s")
            time.sleep(_POLL_S)

    async def reached(self, timeout: float = 10.0) -> None:
        import asyncio  # here: the fake codex imports this module and never needs asyncio

        async with asyncio.timeout(timeout):
            while not self.is_reached:
                await asyncio.sleep(_POLL_S)

    def release(self) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        (self.folder / f"{self.name}.open").write_text("")


class Gate:
    """A gate of the in-process Responses server (thread-safe: it runs on its own loop)."""

    def __init__(self, name: str) -> None:
        self.name = _name(name)
        self._reached = threading.Event()
        self._opened = threading.Event()

    @property
    def is_reached(self) -> bool:
        return self._reached.is_set()

    def wait_reached(self, timeout: float = 10.0) -> None:
        if not self._reached.wait(timeout):
            raise TimeoutError(f"gate {self.name!r} not reached within {timeout} s")

    async def reached(self, timeout: float = 10.0) -> None:
        import asyncio

        async with asyncio.timeout(timeout):
            while not self._reached.is_set():
                await asyncio.sleep(_POLL_S)

    def release(self) -> None:
        self._opened.set()

    async def hold(self) -> None:
        """The server's side (cancelled with the connection when the server stops)."""
        import asyncio

        self._reached.set()
        while not self._opened.is_set():
            await asyncio.sleep(_POLL_S)
