"""Durable writes without `tempfile`: the temp file is private, never a planted one, and gone
after the replace."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from plexum_openai_provider import files
from plexum_openai_provider.files import atomic_write_text, create_temp


def test_a_temp_file_is_new_private_and_named_after_its_target(tmp_path: Path) -> None:
    fd, name = create_temp(tmp_path, "session")
    os.close(fd)
    assert Path(name).parent == tmp_path
    assert Path(name).name.startswith(".session.") and name.endswith(".tmp")
    assert stat.S_IMODE(os.stat(name).st_mode) == 0o600


def test_a_taken_name_is_never_opened_another_is_used(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    victim = tmp_path / "victim"
    victim.write_text("keep me")
    planted = tmp_path / f".s.{'00' * 6}.tmp"
    planted.symlink_to(victim)
    draws = iter([b"\x00" * 6, b"\x01" * 6])
    monkeypatch.setattr(files.os, "urandom", lambda n: next(draws))
    fd, name = create_temp(tmp_path, "s")
    os.write(fd, b"new")
    os.close(fd)
    assert name.endswith(f".s.{'01' * 6}.tmp")
    assert victim.read_text() == "keep me"


def test_atomic_write_replaces_the_file_and_leaves_no_temp_behind(tmp_path: Path) -> None:
    target = tmp_path / "state.json"
    target.write_text("old")
    atomic_write_text(target, "new")
    assert target.read_text() == "new"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["state.json"]
