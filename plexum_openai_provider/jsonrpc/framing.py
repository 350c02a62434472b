"""Split a byte stream (codex's stdout) into lines, whatever the chunking.

`LineFramer.feed` takes chunks as they arrive and returns the complete lines so far, without the
`\\n` (a trailing `\\r` is dropped too); `finish` flushes a last line that has no newline. A line
longer than `max_line_bytes` is never buffered: it is skipped up to its newline and reported once
as `OversizedLine(size, head)` (`head`: its first `HEAD_BYTES`, e.g. to read a reply's id).
Output depends only on the bytes, never on where the chunks were cut.
"""

from __future__ import annotations

from dataclasses import dataclass, field

DEFAULT_MAX_LINE_BYTES = 64 * 1024 * 1024
HEAD_BYTES = 256  # what is kept of a dropped line: enough for `{"id":123,"result":…`


@dataclass(frozen=True)
class OversizedLine:
    """A line that was dropped because it exceeded the maximum; `size` excludes the `\\n`,
    `head` is its first bytes (at most `HEAD_BYTES`; not part of equality)."""

    size: int
    head: bytes = field(default=b"", compare=False)


Line = bytes | OversizedLine


class LineFramer:
    """Incremental newline framer with bounded memory (max_line_bytes plus one chunk)."""

    def __init__(self, max_line_bytes: int = DEFAULT_MAX_LINE_BYTES) -> None:
        if max_line_bytes < 1:
            raise ValueError("max_line_bytes must be at least 1")
        self._max = max_line_bytes
        self._buf = bytearray()
        # Bytes of `_buf` already searched for a newline, so a long line arriving in many small
        # chunks is scanned once in total rather than once per chunk.
        self._scanned = 0
        # While skipping an oversized line: how many of its bytes have gone by (None otherwise),
        # and its first bytes.
        self._dropping: int | None = None
        self._head = b""

    @property
    def max_line_bytes(self) -> int:
        return self._max

    @property
    def pending(self) -> int:
        """Bytes currently held for an unfinished line."""
        return len(self._buf)

    def feed(self, chunk: bytes) -> list[Line]:
        out: list[Line] = []
        start = 0
        if self._dropping is not None:
            nl = chunk.find(b"\n")
            if nl == -1:
                self._dropping += len(chunk)
                return out
            out.append(OversizedLine(self._dropping + nl, self._head))
            self._dropping = None
            start = nl + 1
        if start < len(chunk):
            self._buf += chunk[start:] if start else chunk
        buf = self._buf
        pos = 0
        while True:
            nl = buf.find(b"\n", max(pos, self._scanned))
            if nl == -1:
                break
            out.append(self._line(buf, pos, nl))
            pos = nl + 1
            self._scanned = pos
        if pos:
            # bytearray drops a prefix without copying the whole buffer each time.
            del buf[:pos]
        if len(buf) > self._max:
            # Already too long and no newline yet: stop holding it, count the rest as it passes.
            self._dropping = len(buf)
            self._head = bytes(buf[:HEAD_BYTES])
            buf.clear()
        self._scanned = len(buf)
        return out

    def finish(self) -> list[Line]:
        """Flush the last line (no trailing newline) and reset the framer."""
        out: list[Line] = []
        if self._dropping is not None:
            out.append(OversizedLine(self._dropping, self._head))
        elif self._buf:
            out.append(self._line(self._buf, 0, len(self._buf)))
        self._buf = bytearray()
        self._scanned = 0
        self._dropping = None
        return out

    def _line(self, buf: bytearray, start: int, end: int) -> Line:
        if end - start > self._max:
            return OversizedLine(end - start, bytes(buf[start : min(end, start + HEAD_BYTES)]))
        if end > start and buf[end - 1] == 0x0D:  # tolerate CRLF line endings
            end -= 1
        return bytes(buf[start:end])
