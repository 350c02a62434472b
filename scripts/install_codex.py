"""Install the pinned real codex versions into `<repo>/.codex-cache/<version>/` (for e2e tests).

A thin wrapper: `python scripts/install_codex.py [VERSION ...]` is
`python -m fake_codex.testing.real_codex --cache <repo>/.codex-cache [VERSION ...]` (no VERSION:
every version the fake knows, `fake_codex.core.versions.KNOWN_VERSIONS`).
"""

from __future__ import annotations

import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))  # runnable without the package installed

from fake_codex.testing.real_codex import main  # noqa: E402

if __name__ == "__main__":
    raise SystemExit(main(["--cache", str(REPO_ROOT / ".codex-cache"), *sys.argv[1:]]))
