"""Identifiers in codex's formats: UUIDv7 thread/turn ids and short random hex ids.

UUIDv7 (RFC 9562): 48-bit Unix milliseconds, version 7, variant 10, random rest — so ids sort by
creation time like the real ones (`01a200d5-7643-79c3-...`).
"""

from __future__ import annotations

import os
import re
import time

_UUID_RE = re.compile(
    r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"
)


def uuid7(now_ms: int | None = None) -> str:
    """A new UUIDv7 string for the given (default: current) Unix time in milliseconds."""
    ms = time.time_ns() // 1_000_000 if now_ms is None else now_ms
    rand = int.from_bytes(os.urandom(10), "big")
    rand_a = rand >> 68 & 0xFFF
    rand_b = rand & ((1 << 62) - 1)
    value = (ms & ((1 << 48) - 1)) << 80 | 0x7 << 76 | rand_a << 64 | 0b10 << 62 | rand_b
    h = f"{value:032x}"
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def is_uuid(text: str) -> bool:
    """True when `text` parses as a UUID (any version), as codex checks a resume id."""
    return bool(_UUID_RE.match(text))


def short_hex(nbytes: int = 3) -> str:
    """Random lowercase hex, e.g. the `Chunk ID: d26259` of shell outputs."""
    return os.urandom(nbytes).hex()
