"""codex's refusal of a thread another process holds (codex ≥ 0.150; docs/sharing-codex-home.md).

`codex exec resume` exits 1 with an empty stdout and, on stderr, `… thread <id> already has an
active writer (code -32600)`; app-server answers `thread/resume` with -32600 and the same sentence.
`conflict_thread` finds the thread id in either text (pure; None when the text is anything else).
"""

from __future__ import annotations

import re

from .thread_id import is_plain_id

_CONFLICT = re.compile(r"thread (\S+) already has an active writer")


def conflict_thread(text: str) -> str | None:
    """The id of the thread codex refused because another process writes it, else None."""
    for match in _CONFLICT.finditer(text):
        thread_id = match.group(1)
        if is_plain_id(thread_id):
            return thread_id
    return None
