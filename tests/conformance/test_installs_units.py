"""Where conformance finds the real codex installs: every known version, a missing or wrong install
named with the command that installs it."""

from __future__ import annotations

from pathlib import Path

import pytest

from conformance.installs import VERSIONS as INSTALLED_VERSIONS
from conformance.installs import CodexNotInstalledError
from conformance.installs import binary as native_binary
from fake_codex.core.versions import KNOWN_VERSIONS
from fake_codex.testing import real_codex


def test_conformance_compares_every_version_the_fake_knows() -> None:
    assert INSTALLED_VERSIONS == KNOWN_VERSIONS
    assert KNOWN_VERSIONS[-1] == "0.171.0"


def test_a_missing_install_names_the_install_command(tmp_path: Path) -> None:
    with pytest.raises(
        CodexNotInstalledError,
        match=rf"python -m fake_codex.testing.real_codex --cache {tmp_path} 0\.169\.0",
    ):
        native_binary("0.169.0", cache_dir=tmp_path)


def test_a_binary_record_pointing_nowhere_is_a_missing_install(tmp_path: Path) -> None:
    (tmp_path / "0.169.0").mkdir()
    (tmp_path / "0.169.0" / "BINARY").write_text(str(tmp_path / "gone"))
    with pytest.raises(CodexNotInstalledError, match=r"real_codex --cache .* 0\.169\.0"):
        native_binary("0.169.0", cache_dir=tmp_path)


def test_an_installed_binary_that_answers_another_version_is_not_installed(
    tmp_path: Path,
) -> None:
    fake = tmp_path / "codex"
    fake.write_text("#!/bin/sh\necho 'codex-cli 0.1.0'\n")
    fake.chmod(0o755)
    (tmp_path / "0.169.0").mkdir()
    (tmp_path / "0.169.0" / "BINARY").write_text(f"{fake}\n")
    assert real_codex.native_binary("0.169.0", tmp_path) == fake
    assert real_codex.installed_binary("0.169.0", tmp_path) is None
    with pytest.raises(real_codex.InstallError, match=r"expected 'codex-cli 0\.169\.0'"):
        real_codex.check_version(fake, "0.169.0")
