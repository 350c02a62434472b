"""Which codex versions this plugin supports, and reading `codex --version` (`codex-cli X.Y.Z`)."""

from __future__ import annotations

import re

Version = tuple[int, int, int]

# The Go plugin's floor; the conformance suite runs 0.135.0, 0.150.1 and 0.169.0.
SUPPORTED_FLOOR: Version = (0, 135, 0)
NEWEST_TESTED: Version = (0, 169, 0)

_VERSION_LINE = re.compile(r"^codex-cli (\d+)\.(\d+)\.(\d+)\S*\s*$", re.MULTILINE)


def parse_version(stdout: str) -> Version | None:
    """The version in `codex --version` output; None when no `codex-cli X.Y.Z` line is there."""
    m = _VERSION_LINE.search(stdout)
    if m is None:
        return None
    return int(m.group(1)), int(m.group(2)), int(m.group(3))


def version_text(version: Version) -> str:
    return ".".join(str(part) for part in version)
