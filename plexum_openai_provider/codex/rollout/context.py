"""How full the thread's context is after a turn, from the rollout's last `token_count` event.

codex writes `event_msg` `token_count` after every model request: `info.last_token_usage` (that
request: what the context held, with its answer) and `info.model_context_window`. `last_context`
reads a turn's lines backwards from `end` (never before `start`), in bounded chunks, and returns
the last such count; None when the turn wrote none (a failed request writes `info: null`).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

CHUNK = 64 * 1024
MARK = b'"token_count"'


@dataclass(frozen=True)
class ContextFill:
    tokens: int  # the last request's total: its input plus its output
    window: int | None  # the model's context window; None when codex did not say


def _count(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else None


def parse_token_count(line: bytes) -> ContextFill | None:
    """A rollout line's context figures, if it is a `token_count` with usage."""
    try:
        record = json.loads(line)
    except (ValueError, UnicodeDecodeError):
        return None
    payload = record.get("payload") if isinstance(record, dict) else None
    if not isinstance(payload, dict) or payload.get("type") != "token_count":
        return None
    info = payload.get("info")
    last = info.get("last_token_usage") if isinstance(info, dict) else None
    if not isinstance(info, dict) or not isinstance(last, dict):
        return None
    tokens = _count(last.get("total_tokens"))
    if tokens is None:
        tokens = (_count(last.get("input_tokens")) or 0) + (_count(last.get("output_tokens")) or 0)
    return ContextFill(tokens, _count(info.get("model_context_window")) or None)


def last_context(path: Path, start: int, end: int | None = None) -> ContextFill | None:
    """The last `token_count` with usage in `path[start:end]` (end: the file's size). OSError
    propagates."""
    with open(path, "rb", buffering=0) as f:
        stop = os.fstat(f.fileno()).st_size if end is None else end
        position, tail = stop, b""
        while position > start:
            size = min(CHUNK, position - start)
            position -= size
            block = os.pread(f.fileno(), size, position) + tail
            lines = block.split(b"\n")
            # The first piece may be cut mid-line: keep it for the next (earlier) chunk.
            tail = lines[0] if position > start else b""
            for line in reversed(lines[1:] if position > start else lines):
                if MARK in line and (fill := parse_token_count(line)) is not None:
                    return fill
        return None
