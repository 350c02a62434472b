"""Where this repository keeps its real codex installs: `<repo>/.codex-cache/<version>/`.

`VERSIONS` are the versions conformance compares (every version the fake has a profile for);
`binary(version)` is the installed native executable or `CodexNotInstalledError` naming the
install command. Installing is `fake_codex.testing.real_codex` (`scripts/install_codex.py`
wraps it).
"""

from __future__ import annotations

from pathlib import Path

from fake_codex.core.versions import KNOWN_VERSIONS
from fake_codex.testing.real_codex import CodexNotInstalledError, native_binary

__all__ = ["CACHE_DIR", "REPO_ROOT", "VERSIONS", "CodexNotInstalledError", "binary"]

VERSIONS: tuple[str, ...] = KNOWN_VERSIONS
REPO_ROOT = Path(__file__).resolve().parent.parent
CACHE_DIR = REPO_ROOT / ".codex-cache"


def binary(version: str, cache_dir: Path = CACHE_DIR) -> Path:
    """The native codex `version` of this repository's cache."""
    return native_binary(version, cache_dir)
