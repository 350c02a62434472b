"""The fault matrix's process census finds what a row leaves behind, and nothing else."""

from __future__ import annotations

import os
import subprocess
import time

from .plugin import TAG, tagged_processes


def test_the_census_finds_a_live_process_carrying_the_tag_until_it_is_gone() -> None:
    tag = f"census-{os.getpid()}"
    child = subprocess.Popen(["sleep", "30"], env={**os.environ, TAG: tag})
    try:
        assert tagged_processes(f"{TAG}={tag}".encode()) == [child.pid]
        assert tagged_processes(f"{TAG}=another".encode()) == []
    finally:
        child.kill()
    # A killed child is a zombie until reaped: already not counted as left behind.
    deadline = time.monotonic() + 5
    while tagged_processes(f"{TAG}={tag}".encode()) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert tagged_processes(f"{TAG}={tag}".encode()) == []
    child.wait(timeout=5)
