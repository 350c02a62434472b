"""LineFramer: lines out of arbitrarily chunked bytes, with a hard cap on line size."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from plexum_openai_provider.jsonrpc.framing import HEAD_BYTES, Line, LineFramer, OversizedLine

MAX = 16


def frame(data: bytes, cuts: list[int], max_line_bytes: int = MAX) -> list[bytes | OversizedLine]:
    framer = LineFramer(max_line_bytes)
    out: list[bytes | OversizedLine] = []
    prev = 0
    for cut in [*sorted(set(cuts)), len(data)]:
        out += framer.feed(data[prev:cut])
        assert framer.pending <= max_line_bytes
        prev = cut
    return out + framer.finish()


def expected(lines: list[bytes], max_line_bytes: int = MAX) -> list[bytes | OversizedLine]:
    return [OversizedLine(len(x)) if len(x) > max_line_bytes else x for x in lines]


line_bytes = st.binary(max_size=40).map(lambda b: b.replace(b"\n", b"").replace(b"\r", b""))


def test_complete_lines_are_returned_without_their_newline() -> None:
    framer = LineFramer()
    assert framer.feed(b'{"a":1}\n{"b":2}\n') == [b'{"a":1}', b'{"b":2}']
    assert framer.finish() == []


def test_crlf_line_endings_are_tolerated() -> None:
    framer = LineFramer()
    assert framer.feed(b"one\r\ntwo\r\n") == [b"one", b"two"]


def test_a_final_line_without_newline_is_flushed_by_finish() -> None:
    framer = LineFramer()
    assert framer.feed(b"first\nlast") == [b"first"]
    assert framer.finish() == [b"last"]
    assert framer.finish() == []


def test_a_line_split_across_chunks_is_joined() -> None:
    framer = LineFramer()
    assert framer.feed(b'{"type":') == []
    assert framer.feed(b'"turn.started"}') == []
    assert framer.feed(b"\n") == [b'{"type":"turn.started"}']


def test_empty_lines_are_reported_as_empty_bytes() -> None:
    assert LineFramer().feed(b"\n\n") == [b"", b""]


def test_an_oversized_line_fed_whole_is_reported_once_and_the_next_line_survives() -> None:
    framer = LineFramer(max_line_bytes=4)
    assert framer.feed(b"12345\nok\n") == [OversizedLine(5), b"ok"]


def test_an_oversized_line_is_dropped_without_being_buffered() -> None:
    framer = LineFramer(max_line_bytes=10)
    assert framer.feed(b"x" * 11) == []
    assert framer.pending == 0
    for _ in range(1000):
        assert framer.feed(b"y" * 100) == []
        assert framer.pending == 0
    assert framer.feed(b"zz\nnext\n") == [OversizedLine(11 + 100_000 + 2), b"next"]


def test_an_oversized_last_line_without_newline_is_reported_by_finish() -> None:
    framer = LineFramer(max_line_bytes=3)
    assert framer.feed(b"abcdef") == []
    assert framer.finish() == [OversizedLine(6)]


def test_a_line_of_exactly_the_maximum_is_kept() -> None:
    framer = LineFramer(max_line_bytes=3)
    assert framer.feed(b"abc") == []
    assert framer.feed(b"\n") == [b"abc"]


def test_a_limit_below_one_byte_is_refused_with_the_minimum_named() -> None:
    with pytest.raises(ValueError, match=r"^max_line_bytes must be at least 1$"):
        LineFramer(max_line_bytes=0)


def test_a_one_byte_limit_frames_one_byte_lines() -> None:
    framer = LineFramer(max_line_bytes=1)
    assert framer.feed(b"a\nbc\n") == [b"a", OversizedLine(2)]


def test_an_empty_line_stays_empty_when_a_carriage_return_is_pending_behind_it() -> None:
    # The CR check looks at the byte before the line's end, which for an empty line is not part
    # of the line at all.
    framer = LineFramer()
    assert framer.feed(b"\nx\r") == [b""]
    assert framer.finish() == [b"x"]


def test_a_framer_is_reusable_after_finish() -> None:
    framer = LineFramer()
    assert framer.feed(b"first stream, no newline") == []
    assert framer.finish() == [b"first stream, no newline"]
    assert framer.feed(b"\nsecond\n") == [b"", b"second"]
    assert framer.finish() == []


def test_a_long_line_in_tiny_chunks_is_scanned_in_linear_time() -> None:
    # 2 MB in 64-byte chunks: a framer that re-scanned its buffer on every feed would search
    # ~32 GB here and hit the test timeout; scanning each byte once takes milliseconds.
    framer = LineFramer()
    payload = b"a" * 2_000_000
    for i in range(0, len(payload), 64):
        assert framer.feed(payload[i : i + 64]) == []
    assert framer.feed(b"\n") == [payload]


@given(lines=st.lists(line_bytes, max_size=12), cuts=st.lists(st.integers(0, 600), max_size=20))
def test_output_does_not_depend_on_how_the_stream_is_chunked(
    lines: list[bytes], cuts: list[int]
) -> None:
    data = b"".join(x + b"\n" for x in lines)
    cuts = [c for c in cuts if c <= len(data)]
    assert frame(data, cuts) == expected(lines)


@given(
    lines=st.lists(line_bytes, min_size=1, max_size=12),
    cuts=st.lists(st.integers(0, 600), max_size=20),
)
def test_a_missing_final_newline_changes_nothing_but_the_flush(
    lines: list[bytes], cuts: list[int]
) -> None:
    data = b"".join(x + b"\n" for x in lines)[:-1]
    cuts = [c for c in cuts if c <= len(data)]
    want = expected(lines)
    if lines[-1] == b"":
        want = want[:-1]  # an empty last line without its newline is no line at all
    assert frame(data, cuts) == want


@given(
    lines=st.lists(
        st.one_of(line_bytes, st.integers(MAX + 1, 200).map(lambda n: b"x" * n)), max_size=10
    ),
    cuts=st.lists(st.integers(0, 1500), max_size=30),
)
def test_each_oversized_line_is_reported_exactly_once_and_neighbours_stay_intact(
    lines: list[bytes], cuts: list[int]
) -> None:
    data = b"".join(x + b"\n" for x in lines)
    cuts = [c for c in cuts if c <= len(data)]
    out = frame(data, cuts)
    assert out == expected(lines)
    assert sum(isinstance(x, OversizedLine) for x in out) == sum(len(x) > MAX for x in lines)


def test_an_oversized_line_keeps_its_first_bytes_whatever_the_chunking() -> None:
    line = b'{"id":7,"result":' + b"x" * 500 + b"}"
    data = line + b"\nok\n"
    for cut in (1, 5, 64, 300, len(data)):
        framer = LineFramer(300)  # over HEAD_BYTES, as every real limit is
        out: list[Line] = []
        for i in range(0, len(data), cut):
            out += framer.feed(data[i : i + cut])
        assert out == [OversizedLine(len(line)), b"ok"]
        assert isinstance(out[0], OversizedLine) and out[0].head == line[:HEAD_BYTES]
