"""The cross-process mark of a thread loaded in a warm app-server: held while marked, gone when
released or when the holder exits, refused for an id that could steer the path."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from plexum_openai_provider.turn.app_server.loaded import held_elsewhere, mark, release

THREAD = "01a232b3-0000-7000-8000-000000000000"


def test_a_marked_thread_is_held_until_released(tmp_path: Path) -> None:
    assert not held_elsewhere(tmp_path, THREAD)
    fd = mark(tmp_path, THREAD)
    assert held_elsewhere(tmp_path, THREAD)
    assert not held_elsewhere(tmp_path, "01a232b3-0000-7000-8000-000000000001")
    release(fd)
    assert not held_elsewhere(tmp_path, THREAD)


def test_the_mark_of_a_process_that_exited_is_gone(tmp_path: Path) -> None:
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys; from pathlib import Path;"
            "from plexum_openai_provider.turn.app_server.loaded import mark;"
            f"mark(Path({str(tmp_path)!r}), {THREAD!r}); print('held', flush=True);"
            "sys.stdin.read()",
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert holder.stdout is not None and holder.stdin is not None
    assert holder.stdout.readline().strip() == "held"
    assert held_elsewhere(tmp_path, THREAD)
    holder.stdin.close()
    holder.wait(timeout=10)
    holder.stdout.close()
    assert not held_elsewhere(tmp_path, THREAD)


@pytest.mark.parametrize("bad", ["../x", "a/b", ".hidden", ""])
def test_an_id_that_is_not_plain_is_refused(tmp_path: Path, bad: str) -> None:
    with pytest.raises(ValueError):
        mark(tmp_path, bad)
