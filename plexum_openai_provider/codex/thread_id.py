"""What a codex thread id may look like before it steers a path, an argv or a stored record.

Codex thread ids are UUIDs; anything with separators, dots or control characters is refused.
"""

from __future__ import annotations

import re

PLAIN_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,127}")


def is_plain_id(value: str) -> bool:
    return PLAIN_ID.fullmatch(value) is not None
