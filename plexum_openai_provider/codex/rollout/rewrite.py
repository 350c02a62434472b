"""Rewriting a rollout: blank the payloads of given tool calls, atomically and in bounded memory.

Only `response_item` lines (what `codex exec resume` replays to the model) whose payload `call_id`
is asked for change: `function_call.arguments` → `"{}"`, `custom_tool_call.input` → `""`,
`tool_search_call.arguments` → `{}`, `tool_search_output.tools` → `[]` (an array must stay an
array), every other `*_output.output` → the marker string, even where it was an array. Every
occurrence of a reused call_id is consumed. `event_msg` lines (`item_completed`, 0.135's
`mcp_tool_call_end`, ...), `compacted.replacement_history` and codex's sqlite stores KEEP their
copy: the model never sees them on resume, but they are not scrubbed. `local_shell_call.action` is
left alone (structure resume needs); its output is consumed.

Every other byte stays as it was: a changed line has just the value bytes swapped (see
`splice`), an unterminated last line is copied untouched. The new file is written next to the old
one as `.consume-<pid>-<random>.tmp` (never matching `rollout-*.jsonl`), fsynced, renamed over it
with `os.replace`, and the directory fsynced; the file mode is kept (temp files of a killed
consume are removed by the next one). Nothing is written when
nothing changes, so consume is idempotent and cheap to repeat. No locking here: the caller must
hold the thread's lock so codex is not appending (a rename under codex's open handle loses lines);
a size/mtime change seen during the copy aborts with `RolloutChangedError`.
"""

from __future__ import annotations

import bisect
import contextlib
import io
import json
import mmap
import os
import re
import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from plexum_openai_provider.codex.rollout.splice import DEFAULT_MARKER, blank_line
from plexum_openai_provider.errors import RolloutChangedError, RolloutError
from plexum_openai_provider.files import fsync_dir

# The mapped window: larger means fewer re-scans at window edges (measured: 4 MiB 2.3x, 16 MiB
# 1.9x a `cp` + fsync of the same file), and still well under the 64 MB memory budget.
CHUNK = 1 << 24
# The envelope's own `type` comes within the first bytes of a codex rollout line.
_HEAD = 512
_TOP_TYPE = re.compile(rb'"type"[ \t\r\n]*:[ \t\r\n]*"([^"\\]*)"')
# A `"call_id": "<id>"` member; the id literal is decoded, so any escaping of it still matches.
_CALL_ID = re.compile(rb'"call_id"[ \t\r\n]*:[ \t\r\n]*"((?:[^"\\\n]|\\.)*)"')


@dataclass(frozen=True)
class ConsumeResult:
    """Which ids were found (and blanked), which were not, and the translated offsets."""

    consumed: frozenset[str]
    unknown: frozenset[str]
    offsets: tuple[int, ...]

    def to_json(self) -> dict[str, list[str]]:
        return {"consumed": sorted(self.consumed), "unknown": sorted(self.unknown)}


@dataclass(frozen=True)
class _Change:
    start: int  # offset of the line in the old file
    old_len: int
    new_len: int


def consume_rollout(
    path: Path,
    block_ids: Iterable[str],
    *,
    marker: str = DEFAULT_MARKER,
    offsets: Sequence[int] = (),
    chunk_size: int = CHUNK,
) -> ConsumeResult:
    """Blank the calls `block_ids` in `path`; see the module docstring."""
    ids = frozenset(block_ids)
    try:
        _remove_stale_temps(path.parent)
        changes, found = _rewrite(path, ids, marker, chunk_size)
    except OSError as exc:
        raise RolloutError(f"cannot consume: {exc.strerror or exc}", path=str(path)) from exc
    return ConsumeResult(
        consumed=found,
        unknown=ids - found,
        offsets=tuple(translate_offset(changes, o) for o in offsets),
    )


def translate_offset(changes: Sequence[_Change], offset: int) -> int:
    """Where old-file byte `offset` lands in the new file (inside a changed line: its start)."""
    shift = 0
    for change in changes[: bisect.bisect_right([c.start for c in changes], offset)]:
        if offset >= change.start + change.old_len:
            shift += change.new_len - change.old_len
        elif offset > change.start:
            return change.start + shift
    return offset + shift


class _Output:
    """The temp file, created only when the first line changes (with the old prefix copied)."""

    def __init__(self, path: Path, src_fd: int, mode: int) -> None:
        self.path = path
        self.src_fd = src_fd
        self.mode = mode
        self.fd = -1
        self.tmp: Path | None = None
        self.done = 0  # old-file bytes already represented in the output

    def open(self) -> None:
        name = f".consume-{os.getpid()}-{secrets.token_hex(6)}.tmp"
        self.tmp = self.path.with_name(name)
        self.fd = os.open(self.tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
        os.fchmod(self.fd, self.mode)

    def copy_upto(self, offset: int) -> None:
        """Copy the old file's bytes from where the output stands up to `offset`, unchanged."""
        _copy_range(self.src_fd, self.fd, self.done, offset - self.done)
        self.done = offset

    def write(self, data: bytes | memoryview) -> None:
        view = memoryview(data)
        while view:
            view = view[os.write(self.fd, view) :]

    def discard(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1
        if self.tmp is not None:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self.tmp)
            self.tmp = None


def _rewrite(
    path: Path, ids: frozenset[str], marker: str, chunk_size: int
) -> tuple[list[_Change], frozenset[str]]:
    changes: list[_Change] = []
    found: set[str] = set()
    with open(path, "rb", buffering=0) as src:
        before = os.fstat(src.fileno())
        out = _Output(path, src.fileno(), before.st_mode & 0o7777)
        try:
            _scan(src, before.st_size, ids, marker, chunk_size, out, changes, found)
            if out.fd < 0:
                return [], frozenset(found)
            after = os.stat(path)
            if (after.st_size, after.st_mtime_ns, after.st_ino) != (
                before.st_size,
                before.st_mtime_ns,
                before.st_ino,
            ):
                raise RolloutChangedError(
                    "the rollout changed while being consumed (is codex running this thread?)",
                    path=str(path),
                )
            os.fsync(out.fd)
            os.close(out.fd)
            out.fd = -1
            assert out.tmp is not None
            os.replace(out.tmp, path)
            out.tmp = None
        finally:
            out.discard()
    fsync_dir(path.parent)
    return changes, frozenset(found)


def _scan(
    src: io.FileIO,
    size: int,
    ids: frozenset[str],
    marker: str,
    chunk_size: int,
    out: _Output,
    changes: list[_Change],
    found: set[str],
) -> None:
    """Scan the first `size` bytes (appends after we started are not ours) and edit call lines.

    The file is mapped one window at a time (RSS stays ~ one window; a window only grows for a
    line longer than itself), and unchanged bytes are copied kernel-side by `out`, so they are
    neither read into Python nor written from it.
    """
    gran = mmap.ALLOCATIONGRANULARITY
    window = max(gran, -(-chunk_size // gran) * gran)
    base = 0  # old-file offset of the first line not yet scanned
    while base < size:
        map_start = base - base % gran
        length = min(size - map_start, window)
        at_end = map_start + length == size
        with mmap.mmap(src.fileno(), length, access=mmap.ACCESS_READ, offset=map_start) as mm:
            rel = base - map_start
            cut = mm.rfind(b"\n", rel, length) + 1
            if cut == 0:
                if at_end:
                    break  # only an unterminated last line is left: copied, never edited
                window *= 2  # a line longer than the window
                continue
            if ids:
                for start, end in _call_lines(mm, rel, cut, ids):
                    _edit_line(mm, map_start, start, end, ids, marker, out, changes, found)
        base = map_start + cut
    if out.fd >= 0:
        out.copy_upto(size)


def _call_lines(buf: mmap.mmap, begin: int, cut: int, ids: frozenset[str]) -> list[tuple[int, int]]:
    """Spans (start, end without the newline) of the lines in buf[begin:cut] naming a wanted id.

    Lines whose top-level `type` is not `response_item` (event_msg copies of big outputs, mostly)
    are stepped over with a newline search alone: that keeps the scan near `memchr` speed.
    """
    spans: list[tuple[int, int]] = []
    start = begin
    while start < cut:
        newline = buf.find(b"\n", start, cut)
        end = cut if newline < 0 else newline
        if _may_hold_calls(buf, start, end) and _names_wanted_id(buf, start, end, ids):
            spans.append((start, end))
        start = end + 1
    return spans


def _may_hold_calls(buf: mmap.mmap, start: int, end: int) -> bool:
    """False only when the line's top-level `type` is visibly something else than response_item."""
    head = buf[start : min(end, start + _HEAD)]
    match = _TOP_TYPE.search(head)
    if match is None or head.count(b"{", 0, match.start()) != 1:
        return True  # an unusual layout: look at the whole line
    return match.group(1) == b"response_item"


def _names_wanted_id(buf: mmap.mmap, start: int, end: int, ids: frozenset[str]) -> bool:
    # codex writes an output's `call_id` before the output itself: when the head of the line
    # names one, the (possibly huge) rest need not be searched. A call's arguments come first,
    # so without a `call_id` in the head the whole line is searched.
    head_end = min(end, start + _HEAD)
    if buf.find(b'"call_id"', start, head_end) >= 0:
        return _wanted_in(buf, start, end, ids, keys_before=head_end)
    return _wanted_in(buf, start, end, ids, keys_before=end)


def _wanted_in(
    buf: mmap.mmap, start: int, end: int, ids: frozenset[str], *, keys_before: int
) -> bool:
    """Whether a `call_id` member starting before `keys_before` names a wanted id."""
    at = buf.find(b'"call_id"', start, keys_before)
    while at >= 0:
        match = _CALL_ID.match(buf, at, end)
        at = buf.find(b'"call_id"', at + 9, keys_before)
        if match is None:
            continue
        raw = match.group(1)
        try:
            value = raw.decode("utf-8") if b"\\" not in raw else json.loads(b'"' + raw + b'"')
        except ValueError:
            continue
        if value in ids:
            return True
    return False


def _edit_line(
    buf: mmap.mmap,
    base: int,
    start: int,
    end: int,
    ids: frozenset[str],
    marker: str,
    out: _Output,
    changes: list[_Change],
    found: set[str],
) -> None:
    raw = bytes(buf[start:end])
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return  # not a line codex could read either: leave it be
    new_text, hit = blank_line(text, ids, marker)
    found |= hit
    if new_text == text:
        return
    new = new_text.encode("utf-8")
    if out.fd < 0:
        out.open()
    out.copy_upto(base + start)
    out.write(new)
    out.done = base + end
    changes.append(_Change(base + start, len(raw), len(new)))


def _copy_range(src_fd: int, dst_fd: int, offset: int, count: int) -> None:
    """Copy old-file bytes [offset, offset+count) to the output (in the kernel when it can)."""
    while count > 0:
        try:
            n = os.copy_file_range(src_fd, dst_fd, min(count, 1 << 30), offset)
        except OSError:
            n = 0
        if n <= 0:  # unsupported here, or a short read: fall back to plain reads
            data = os.pread(src_fd, min(count, CHUNK), offset)
            if not data:
                raise RolloutError("rollout shrank while being consumed", path=f"fd {src_fd}")
            view = memoryview(data)
            while view:
                view = view[os.write(dst_fd, view) :]
            n = len(data)
        offset += n
        count -= n


def _remove_stale_temps(directory: Path) -> None:
    """Drop temp files left by a consume that was killed (its pid no longer runs)."""
    for tmp in directory.glob(".consume-*-*.tmp"):
        pid = tmp.name.split("-")[1]
        if not pid.isdigit() or int(pid) == os.getpid():
            continue
        try:
            os.kill(int(pid), 0)
        except ProcessLookupError:
            with contextlib.suppress(OSError):
                tmp.unlink()
        except OSError:
            continue  # alive under another user, or unknowable: leave it
