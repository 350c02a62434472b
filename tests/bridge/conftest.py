"""Fixtures for the bridge tests: a short socket dir (sun_path allows ~100 bytes, pytest's
tmp_path is longer), removed afterwards."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest


@pytest.fixture
def sock_dir() -> Iterator[Path]:
    """A fresh 0700 directory with a short path, removed afterwards."""
    path = Path(tempfile.mkdtemp(prefix="pbt-", dir="/tmp"))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)
