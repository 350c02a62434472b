"""The exec `--json` stdout stream: compact JSONL written and flushed per event, plus the
fake-only stdout faults of docs/scenarios.md (garbage, big line, crash, hang, split writes, ...).

Lines are counted as the fake's own event lines; injected garbage/big lines do not count.
`Pairs` encodes an object with duplicate keys, as codex writes `web_search` items.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import time
from collections.abc import Callable, Mapping
from typing import Any

from fake_codex.core.scenario import Faults


class Pairs(tuple[tuple[str, Any], ...]):
    """A JSON object as ordered key/value pairs; keys may repeat (written raw)."""


def encode(value: Any) -> str:
    """Compact JSON like serde_json: `,`/`:` separators, UTF-8 kept, `Pairs` allowed."""
    if isinstance(value, Pairs):
        return "{" + ",".join(f"{encode(k)}:{encode(v)}" for k, v in value) + "}"
    if isinstance(value, dict):
        return "{" + ",".join(f"{encode(k)}:{encode(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list | tuple):
        return "[" + ",".join(encode(v) for v in value) + "]"
    return json.dumps(value, ensure_ascii=False)


def _write_all(fd: int, data: bytes, chunk: int | None) -> None:
    step = chunk or len(data) or 1
    for start in range(0, len(data), step):
        view = memoryview(data)[start : start + step]
        while view:
            written = os.write(fd, view)
            view = view[written:]


def hang_forever() -> None:
    """Sleep until a signal ends the process (SIGTERM may be ignored by `ignore_sigterm`)."""
    while True:
        signal.pause()


class StdoutStream:
    """Writes event lines to fd 1 and applies the turn's stdout faults."""

    def __init__(
        self,
        faults: Faults,
        big_line_factory: Callable[[int], str],
        on_crash: Callable[[int], None],
        before_hang: Callable[[], None],
        fd: int = 1,
    ) -> None:
        self._faults = faults
        self._big_line_factory = big_line_factory
        self._on_crash = on_crash
        self._before_hang = before_hang
        self._fd = fd
        self.lines = 0
        self._pending_newline = False
        self._started = False

    def _raw(self, data: bytes) -> None:
        _write_all(self._fd, data, self._faults.split_writes)

    def _newline(self) -> bytes:
        if self._pending_newline:
            self._pending_newline = False
            return b"\n"
        return b""

    def _check_stops(self) -> None:
        f = self._faults
        if f.crash_after_lines is not None and self.lines >= f.crash_after_lines:
            self._on_crash(101 if f.exit_code is None else f.exit_code)
        if f.hang_after_lines is not None and self.lines >= f.hang_after_lines:
            self._raw(self._newline())
            self._before_hang()
            hang_forever()

    def _injections(self) -> None:
        for garbage in self._faults.garbage:
            if garbage.after_line == self.lines:
                data = garbage.data
                self._raw(self._newline() + (data if garbage.data[-1:] == b"\n" else data + b"\n"))
        big = self._faults.big_line
        if big is not None and big.after_line == self.lines:
            line = self._big_line_factory(int(big.mib * 1024 * 1024))
            self._raw(self._newline() + line.encode() + b"\n")

    def _start(self) -> None:
        if not self._started:
            self._started = True
            self._check_stops()
            self._injections()

    def emit(self, event: Any) -> None:
        """Write one event line (then apply faults that trigger after it)."""
        self._start()
        if self.lines and self._faults.line_delay_ms:
            time.sleep(self._faults.line_delay_ms / 1000)
        data = self._newline() + encode(event).encode()
        if self._faults.no_final_newline:
            self._pending_newline = True  # written before the next line, never after the last
        else:
            data += b"\n"
        self._raw(data)
        self.lines += 1
        self._injections()
        self._check_stops()

    def close(self) -> None:
        """End of the run: a crash/hang that was due after more lines happens now."""
        self._start()
        f = self._faults
        if f.crash_after_lines is not None or f.hang_after_lines is not None:
            self.lines = max(self.lines, f.crash_after_lines or 0, f.hang_after_lines or 0)
            self._check_stops()


def rust_backtrace(environ: Mapping[str, str]) -> str:
    """The `Stack backtrace:` block codex appends to `Error: ...` when RUST_BACKTRACE is set."""
    if environ.get("RUST_BACKTRACE", "0") in ("", "0"):
        return ""
    frames = "".join(f"  {i:>2}: <unknown>\n" for i in range(12))
    return f"\nStack backtrace:\n{frames}"


def write_stderr(text: str) -> None:
    sys.stderr.write(text)
    sys.stderr.flush()
