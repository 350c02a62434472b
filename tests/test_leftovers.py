"""The leftover check fails a run for what the run itself left in /tmp, never for what other
processes created beside it (issue 20: a fresh clone's suite failed on unrelated `say` runs)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
def watched(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A folder under /tmp the inner run watches instead of the machine's places."""
    folder = tmp_path / "watched"
    folder.mkdir()
    assert str(folder).startswith("/tmp/"), "the check watches /tmp only"
    env_path = os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))
    monkeypatch.setenv("PYTHONPATH", env_path)
    monkeypatch.setenv("PLEXUM_TEST_LEFTOVER_WATCH", f"{folder}/*")
    return folder


def _run(pytester: pytest.Pytester, body: str, *args: str) -> pytest.RunResult:
    pytester.makepyfile(test_inner=body)
    return pytester.runpytest_subprocess("-p", "tests.leftovers", "-p", "no:cacheprovider", *args)


def test_an_entry_the_run_made_and_left_fails_the_run(
    pytester: pytest.Pytester, watched: Path
) -> None:
    body = f"def test_leaks():\n    open({str(watched / 'mine.sock.lock')!r}, 'w').close()\n"
    result = _run(pytester, body)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines([f"the test suite left entries in /tmp: {watched}/mine.sock.lock"])


def test_an_entry_an_xdist_worker_made_and_left_fails_the_run(
    pytester: pytest.Pytester, watched: Path
) -> None:
    # The worker made it, the controller checks: the worker hands its paths over.
    body = f"def test_leaks():\n    open({str(watched / 'worker.sock.lock')!r}, 'w').close()\n"
    result = _run(pytester, body, "-n", "1")
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    # (xdist's progress line may precede it on the same line)
    result.stdout.fnmatch_lines(
        [f"*the test suite left entries in /tmp: {watched}/worker.sock.lock"]
    )


def test_an_entry_another_process_made_is_named_but_does_not_fail_the_run(
    pytester: pytest.Pytester, watched: Path
) -> None:
    other = watched / "other.sock.lock"
    body = (
        "import subprocess\n"
        f"def test_beside():\n    subprocess.run(['touch', {str(other)!r}], check=True)\n"
    )
    result = _run(pytester, body)
    assert result.ret == pytest.ExitCode.OK
    assert other.exists()
    result.stdout.fnmatch_lines([f"note: entries in /tmp made by other processes*{other}*"])
    assert "the test suite left entries" not in result.stdout.str()


def test_an_entry_the_run_made_and_removed_is_fine(
    pytester: pytest.Pytester, watched: Path
) -> None:
    path = watched / "gone"
    body = (
        "import os\n"
        f"def test_cleans_up():\n    os.mkdir({str(path)!r})\n    os.rmdir({str(path)!r})\n"
    )
    result = _run(pytester, body)
    assert result.ret == pytest.ExitCode.OK
    out = result.stdout.str()
    assert "the test suite left entries" not in out and "note: entries" not in out
