"""The suite's leftover check: what THIS test process created in /tmp and did not remove.

An audit hook records every path this process creates (`open` with O_CREAT, `os.mkdir`, a unix
socket `bind`) under the watched places (the default socket dir `/tmp/plexum-<uid>`, demo
folders); at the session's end, a recorded path that still exists and was not there at the start
fails the run. Entries other processes made meanwhile (a `say` beside the suite) are named in a
note and never fail it. The suite's subprocesses get their own folders (socket_dir, TMPDIR).
Under xdist each worker records its own paths and hands them to the controller, which checks.
"""

from __future__ import annotations

import fnmatch
import glob
import os
import sys
from typing import Any

import pytest

# The env override exists for this module's own test (tests/test_leftovers.py).
WATCH = tuple(
    os.environ.get("PLEXUM_TEST_LEFTOVER_WATCH", "").split(os.pathsep)
    if os.environ.get("PLEXUM_TEST_LEFTOVER_WATCH")
    else (f"/tmp/plexum-{os.getuid()}/*", "/tmp/plexum-demo.*")
)
_made: set[str] = set()
_before: set[str] = set()
_CREATE = os.O_CREAT
_RELAY = "plexum_leftovers"  # key of a worker's paths in xdist's workeroutput


def _watched(path: str) -> bool:
    return any(fnmatch.fnmatch(path, pattern) for pattern in WATCH)


def _note(path: object) -> None:
    if isinstance(path, bytes):
        path = os.fsdecode(path)
    if isinstance(path, str) and path.startswith("/tmp/"):
        full = os.path.normpath(path)
        if _watched(full):
            _made.add(full)


def _audit(event: str, args: tuple[Any, ...]) -> None:
    # Called for every audited event of the process: stay cheap, never raise.
    if event == "open":
        if len(args) == 3 and isinstance(args[2], int) and args[2] & _CREATE:
            _note(args[0])
    elif event == "os.mkdir":
        _note(args[0])
    elif event == "socket.bind" and len(args) == 2:
        _note(args[1])


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node: Any, error: object) -> None:
    """xdist's controller: a worker's recorded paths count as this run's own."""
    _made.update(getattr(node, "workeroutput", {}).get(_RELAY, ()))


def _entries() -> set[str]:
    return {path for pattern in WATCH for path in glob.glob(pattern)}


def pytest_sessionstart(session: pytest.Session) -> None:
    _before.update(_entries())
    sys.addaudithook(_audit)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if hasattr(session.config, "workerinput"):
        # An xdist worker: what it made and left goes to the controller, which decides.
        output: dict[str, Any] = session.config.workeroutput  # type: ignore[attr-defined]
        output[_RELAY] = sorted(p for p in _made if os.path.lexists(p))
        return
    new = _entries() - _before
    ours = sorted(p for p in new if p in _made)
    others = sorted(p for p in new if p not in _made)
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    if others and reporter is not None:
        reporter.write_line(
            "note: entries in /tmp made by other processes during the run (not failing): "
            + ", ".join(others)
        )
    if ours:
        if reporter is not None:
            reporter.write_line("the test suite left entries in /tmp: " + ", ".join(ours), red=True)
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
