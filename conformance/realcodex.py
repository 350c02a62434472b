"""Locate the pinned real codex binaries installed by `scripts/install_codex.py`.

Each version lives in `<repo>/.codex-cache/<version>/`, whose `BINARY` file holds the absolute path
of the NATIVE executable (not the node launcher, so signals reach codex itself).
"""

from __future__ import annotations

from pathlib import Path

from fake_codex.versions import KNOWN_VERSIONS

# Conformance runs on every version the fake has a profile for (scripts/install_codex.py pins them).
INSTALLED_VERSIONS: tuple[str, ...] = KNOWN_VERSIONS
REPO_ROOT = Path(__file__).resolve().parent.parent
CACHE_DIR = REPO_ROOT / ".codex-cache"


class CodexNotInstalledError(RuntimeError):
    """The asked-for codex version has not been installed into `.codex-cache/`."""

    def __init__(self, version: str, detail: str) -> None:
        self.version = version
        super().__init__(
            f"real codex {version} is not installed ({detail}); "
            f"run `python scripts/install_codex.py {version}`"
        )


def install_command(version: str) -> str:
    return f"python scripts/install_codex.py {version}"


def native_binary(version: str, cache_dir: Path = CACHE_DIR) -> Path:
    """The absolute path of the native codex `version`, or CodexNotInstalledError."""
    record = cache_dir / version / "BINARY"
    try:
        text = record.read_text().strip()
    except FileNotFoundError:
        raise CodexNotInstalledError(version, f"{record} is missing") from None
    binary = Path(text)
    if not text or not binary.is_file():
        raise CodexNotInstalledError(version, f"{record} names a missing file {text!r}")
    return binary
