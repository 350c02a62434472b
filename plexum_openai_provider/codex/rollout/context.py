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
    propagates. Reads backwards in chunks; a line longer than `MAX_COUNT_LINE` (a command's
    output, never a token count) is skipped without being joined, so the cost stays linear."""
    with open(path, "rb", buffering=0) as f:
        position = os.fstat(f.fileno()).st_size if end is None else end
        pieces: list[bytes] = []  # the tail of the line being read, last piece first
        held = 0  # bytes in `pieces`; past MAX_COUNT_LINE they are dropped
        while position > start:
            size = min(CHUNK, position - start)
            position -= size
            block = os.pread(f.fileno(), size, position)
            parts = block.split(b"\n")
            if position == start:
                parts.insert(0, b"")  # `start` is a line start: the first part is a whole line
            # parts[-1] ends the line whose tail is in `pieces`; parts[1:-1] are whole lines;
            # parts[0] begins a line that continues in the next (earlier) chunk.
            for index in range(len(parts) - 1, 0, -1):
                if index == len(parts) - 1:
                    line = parts[index] + b"".join(reversed(pieces)) if held >= 0 else b""
                    pieces, held = [], 0
                else:
                    line = parts[index]
                if MARK in line and (fill := parse_token_count(line)) is not None:
                    return fill
            pieces, held = _keep(pieces, held, parts[0])
        return None


MAX_COUNT_LINE = 1024 * 1024


def _keep(pieces: list[bytes], held: int, piece: bytes) -> tuple[list[bytes], int]:
    """Add the start of a line still being read; a line this long is no token count (-1)."""
    if held < 0 or held + len(piece) > MAX_COUNT_LINE:
        return [], -1
    pieces.append(piece)
    return pieces, held + len(piece)
