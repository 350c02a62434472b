"""pytest plugin behind `scripts/faults`: runs the rows of `rows.py` and prints the fault table.

Each row is an existing test. While a row's test body runs, the environment carries
`PLEXUM_FAULT_CASE=<row>`, which every process it starts inherits (codex, the fake, `say`); after
the row, any process still alive with that tag is counted as left behind (and killed). A row whose
body runs longer than its time limit + 5 s counts as a hang. Rows report bytes lost through the
`fault_bytes_lost` fixture. With `--faults` only the rows run, and a row that no longer exists is
an error; in a normal run the table covers the rows that ran. Under xdist each worker hands the
rows it ran to the controller, which prints the table and fails the run.
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
from collections.abc import Callable, Generator
from dataclasses import dataclass, field
from typing import Any

import pytest

from .rows import PENDING, ROWS, Row

TAG = "PLEXUM_FAULT_CASE"
HANG_MARGIN_S = 5.0
LEFTOVER_GRACE_S = 3.0  # killed processes take a moment to leave /proc


@dataclass
class Result:
    row: Row
    number: int
    outcome: str = "not run"
    bytes_lost: int = 0
    left_behind: list[int] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def hung(self) -> bool:
        return self.seconds > self.row.timeout_s + HANG_MARGIN_S

    @property
    def held(self) -> bool:
        return (
            self.outcome == "passed"
            and not self.bytes_lost
            and not self.left_behind
            and not self.hung
        )


_BY_TEST = {row.test: number for number, row in enumerate(ROWS, 1)}
_RELAY = "plexum_fault_rows"  # key of a worker's results in xdist's workeroutput
_results: dict[str, Result] = {}


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--faults", action="store_true", help="run only the fault matrix's rows")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if not config.getoption("--faults"):
        return
    collected = {item.nodeid for item in items}
    missing = [row.test for row in ROWS if row.test not in collected]
    if missing:
        raise pytest.UsageError("fault matrix rows with no such test: " + ", ".join(missing))
    keep = [item for item in items if item.nodeid in _BY_TEST]
    config.hook.pytest_deselected(items=[i for i in items if i.nodeid not in _BY_TEST])
    items[:] = keep


def _result(item: pytest.Item) -> Result | None:
    number = _BY_TEST.get(item.nodeid)
    if number is None:
        return None
    return _results.setdefault(item.nodeid, Result(ROWS[number - 1], number))


@pytest.fixture
def fault_bytes_lost(request: pytest.FixtureRequest) -> Callable[[int], None]:
    """Rows that check data report what they lost (0 when nothing was)."""

    def report(count: int) -> None:
        result = _result(request.node)
        if result is not None:
            result.bytes_lost += count

    return report


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Generator[None, None, None]:
    result = _result(item)
    if result is None:
        yield
        return
    os.environ[TAG] = f"row-{result.number}-{os.getpid()}"
    started = time.monotonic()
    try:
        yield
    finally:
        result.seconds = time.monotonic() - started
        # Fixtures may have replaced os.environ's contents; the tag goes either way.
        os.environ.pop(TAG, None)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, Any, None]:
    outcome = yield
    result = _result(item)
    if result is None:
        return
    report = outcome.get_result()
    if report.failed:
        result.outcome = "failed"
    elif report.skipped and result.outcome == "not run":
        result.outcome = "skipped"
    elif report.when == "call" and report.passed and result.outcome == "not run":
        result.outcome = "passed"


@pytest.hookimpl(trylast=True)
def pytest_runtest_teardown(item: pytest.Item) -> None:
    result = _result(item)
    if result is None:
        return
    tag = f"{TAG}=row-{result.number}-{os.getpid()}".encode()
    deadline = time.monotonic() + LEFTOVER_GRACE_S
    while (left := tagged_processes(tag)) and time.monotonic() < deadline:
        time.sleep(0.05)
    result.left_behind = left
    for pid in left:  # do not let one row's leftovers disturb the next
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


def tagged_processes(tag: bytes) -> list[int]:
    """Live (not zombie) processes whose environment holds `tag`, other than this one."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        try:
            with open(f"/proc/{entry}/environ", "rb") as f:
                if tag not in f.read().split(b"\0"):
                    continue
            with open(f"/proc/{entry}/stat", "rb") as f:
                state = f.read().rsplit(b")", 1)[1].split()[0]
        except OSError:
            continue
        if state not in (b"Z", b"X"):
            found.append(int(entry))
    return found


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    results = sorted(_results.values(), key=lambda r: r.number)
    if not results:
        return
    write = terminalreporter.write_line
    terminalreporter.section("fault matrix")
    write(f"{'#':>3}  {'result':<7} fault  →  expected user-facing result")
    for r in results:
        verdict = "held" if r.held else ("skipped" if r.outcome == "skipped" else "BROKEN")
        notes = []
        if r.left_behind:
            notes.append(f"left {len(r.left_behind)} process(es)")
        if r.hung:
            notes.append(f"hung {r.seconds:.1f}s")
        if r.bytes_lost:
            notes.append(f"lost {r.bytes_lost} bytes")
        if r.outcome == "failed":
            notes.append("test failed")
        extra = f"   [{'; '.join(notes)}]" if notes else ""
        write(f"{r.number:>3}  {verdict:<7} {r.row.fault}  →  {r.row.expected}{extra}")
    tried = [r for r in results if r.outcome != "skipped"]
    write(
        f"tried {len(tried)}, held {sum(r.held for r in tried)}, "
        f"broken {sum(not r.held for r in tried)}, "
        f"bytes lost {sum(r.bytes_lost for r in tried)}, "
        f"processes left behind {sum(len(r.left_behind) for r in tried)}, "
        f"hangs past timeout + {HANG_MARGIN_S:g} s {sum(r.hung for r in tried)}"
    )
    for fault, why in PENDING:
        write(f"  not in the matrix yet: {fault} ({why})")


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if hasattr(session.config, "workerinput"):
        # An xdist worker: its rows go to the controller, which prints the table and decides.
        output: dict[str, Any] = session.config.workeroutput  # type: ignore[attr-defined]
        output[_RELAY] = {
            test: {
                "outcome": r.outcome,
                "bytes_lost": r.bytes_lost,
                "left_behind": r.left_behind,
                "seconds": r.seconds,
            }
            for test, r in _results.items()
        }
        return
    # A row can pass its assertions and still break the matrix (a leftover process, a hang).
    if any(not r.held and r.outcome == "passed" for r in _results.values()):
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node: Any, error: object) -> None:
    """xdist's controller: the rows a worker ran."""
    for test, fields in getattr(node, "workeroutput", {}).get(_RELAY, {}).items():
        number = _BY_TEST[test]
        _results[test] = Result(ROWS[number - 1], number, **fields)
