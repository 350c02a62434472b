"""Under xdist the fault matrix still reports: the rows workers ran reach the controller's table."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_rows_run_by_xdist_workers_are_in_the_controllers_table(tmp_path: Path) -> None:
    rows = [
        "tests/test_sessions.py::test_corrupt_file_is_a_clear_error_and_is_left_untouched",
        "tests/test_sessions.py::test_ids_that_are_not_plain_are_refused[../../etc/passwd]",
    ]
    args = ["-n", "1", "-p", "no:cacheprovider", "-q", "--basetemp", str(tmp_path / "t")]
    done = subprocess.run(
        [sys.executable, "-m", "pytest", *args, *rows],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    assert "= fault matrix =" in done.stdout
    assert "held    corrupt session file" in done.stdout
    assert "tried 2, held 2, broken 0" in done.stdout
