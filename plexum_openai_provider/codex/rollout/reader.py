"""Reading a rollout: the tool calls written to a rollout since a stored byte offset.

`read_tool_calls(path, offset)` reads from `offset` to the end of the last COMPLETE line, in
bounded chunks (memory ~ one chunk plus the longest line, never the whole file), and returns the
calls found there plus the offset to store for next time. A partial last line (codex mid-write)
is left for the next read. The offset must be a line start the mirror or consume handed out.
"""

from __future__ import annotations

import io
import os
from dataclasses import dataclass
from pathlib import Path

from plexum_openai_provider.codex.rollout.calls import CallParser, MirrorEvent, is_candidate
from plexum_openai_provider.errors import RolloutError

CHUNK = 1 << 20


@dataclass(frozen=True)
class MirrorResult:
    """The calls after the old offset, and the offset just past the last complete line read."""

    events: list[MirrorEvent]
    offset: int


def read_tool_calls(path: Path, offset: int, *, chunk_size: int = CHUNK) -> MirrorResult:
    """Calls recorded in `path` from byte `offset` on; see the module docstring."""
    if offset < 0:
        raise ValueError(f"negative rollout offset {offset}")
    parser = CallParser()
    try:
        with open(path, "rb", buffering=0) as f:
            size = os.fstat(f.fileno()).st_size
            if offset > size:
                raise RolloutError(
                    f"stored offset {offset} is past the end ({size} bytes): the file was "
                    "replaced or truncated without translating the offset",
                    path=str(path),
                )
            if offset > 0 and os.pread(f.fileno(), 1, offset - 1) != b"\n":
                raise RolloutError(f"stored offset {offset} is not a line start", path=str(path))
            f.seek(offset)
            end = _feed_complete_lines(f, parser, offset, chunk_size)
    except OSError as exc:
        raise RolloutError(f"cannot read rollout: {exc.strerror or exc}", path=str(path)) from exc
    return MirrorResult(parser.events(), end)


def _feed_complete_lines(f: io.FileIO, parser: CallParser, offset: int, chunk_size: int) -> int:
    """Feed every complete line from the current position; return the offset after the last."""
    carry: list[bytes] = []  # pieces of a line whose newline has not been read yet
    end = offset
    while True:
        chunk = f.read(chunk_size)
        if not chunk:
            return end
        last_nl = chunk.rfind(b"\n")
        if last_nl < 0:
            carry.append(chunk)  # one long line spanning chunks: its size is the only bound
            continue
        block = b"".join([*carry, chunk[: last_nl + 1]]) if carry else chunk[: last_nl + 1]
        end += len(block)
        carry = [chunk[last_nl + 1 :]] if last_nl + 1 < len(chunk) else []
        if is_candidate(block):  # most chunks of a big rollout hold no call at all
            for line in block.split(b"\n")[:-1]:
                parser.feed(line)
