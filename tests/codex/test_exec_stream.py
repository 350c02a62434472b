"""parse_exec_line: one codex exec --json line → one typed event, never an exception."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from plexum_openai_provider.codex.exec_stream import (
    EXCERPT_CHARS,
    ItemEvent,
    MalformedLine,
    StreamError,
    ThreadStarted,
    TurnCompleted,
    TurnFailed,
    TurnStarted,
    UnknownEvent,
    is_reconnect_notice,
    parse_exec_line,
)

FIXTURES = Path(__file__).parents[1] / "fixtures"
EVENT_TYPES = (
    ThreadStarted,
    TurnStarted,
    ItemEvent,
    TurnCompleted,
    TurnFailed,
    StreamError,
    UnknownEvent,
    MalformedLine,
)


def fixture_lines(name: str) -> list[bytes]:
    return (FIXTURES / name).read_bytes().splitlines()


def test_thread_started_carries_the_thread_id() -> None:
    line = b'{"type":"thread.started","thread_id":"01a200d5-7643-79c3-937e-c20948695ecb"}'
    assert parse_exec_line(line) == ThreadStarted("01a200d5-7643-79c3-937e-c20948695ecb")


def test_item_fields_are_everything_but_id_and_type() -> None:
    line = fixture_lines("basic.stdout.jsonl")[2]
    assert parse_exec_line(line) == ItemEvent(
        "completed", "item_0", "agent_message", {"text": "Hello from fake model"}
    )


def test_web_search_keeps_the_first_id_so_started_and_completed_correlate() -> None:
    lines = fixture_lines("tools_gpt55.stdout.jsonl")
    started, completed = parse_exec_line(lines[7]), parse_exec_line(lines[8])
    assert isinstance(started, ItemEvent) and isinstance(completed, ItemEvent)
    assert (started.phase, completed.phase) == ("started", "completed")
    assert started.item_id == completed.item_id == "item_3"
    assert started.item_type == "web_search"
    assert started.fields == {
        "provider_id": "ws_1",
        "query": "weather in paris",
        "action": {"type": "search", "query": "weather in paris"},
    }


def test_turn_completed_keeps_the_raw_usage_mapping() -> None:
    line = fixture_lines("v135_basic.stdout.jsonl")[3]
    assert parse_exec_line(line) == TurnCompleted(
        {"input_tokens": 12, "cached_input_tokens": 3, "output_tokens": 5,
         "reasoning_output_tokens": 1}
    )  # fmt: skip


def test_turn_failed_and_error_carry_their_messages() -> None:
    lines = fixture_lines("err_429.stdout.jsonl")
    text = "exceeded retry limit, last status: 429 Too Many Requests"
    assert parse_exec_line(lines[2]) == StreamError(text)
    assert parse_exec_line(lines[3]) == TurnFailed(text)


def test_a_turn_failed_without_message_still_fails_the_turn() -> None:
    assert isinstance(parse_exec_line(b'{"type":"turn.failed"}'), TurnFailed)
    assert isinstance(parse_exec_line(b'{"type":"turn.failed","error":"boom"}'), TurnFailed)


@pytest.mark.parametrize(
    ("line", "message"),
    [
        (b'{"type":"turn.failed"}', "codex reported turn.failed without a message"),
        (
            b'{"type":"turn.failed","error":{"message":7}}',
            "codex reported turn.failed without a message",
        ),
        (b'{"type":"turn.failed","error":"boom"}', "boom"),
    ],
)
def test_a_turn_failed_says_what_codex_said_or_that_it_said_nothing(
    line: bytes, message: str
) -> None:
    assert parse_exec_line(line) == TurnFailed(message)


def test_a_turn_completed_without_usage_still_completes_the_turn() -> None:
    assert parse_exec_line(b'{"type":"turn.completed"}') == TurnCompleted({})


def test_unknown_event_types_are_skipped_not_fatal() -> None:
    line = b'{"type":"item.plan.delta","item_id":"item_1","delta":"x"}'
    assert parse_exec_line(line) == UnknownEvent("item.plan.delta")


@pytest.mark.parametrize(
    ("line", "reason_start"),
    [
        (b"\xff\xfe{}", "invalid UTF-8"),
        (b"Reading prompt from stdin...", "not JSON"),
        (b"", "empty line"),
        (b"   ", "empty line"),
        (b"[1,2]", "JSON list"),
        (b'"text"', "JSON str"),
        (b'{"no":"type"}', "no string `type`"),
        (b'{"type":7}', "no string `type`"),
        (b'{"type":"thread.started"}', "thread.started without"),
        (b'{"type":"thread.started","thread_id":""}', "thread.started without"),
        (b'{"type":"item.completed","item":[]}', "item.completed without"),
        (b'{"type":"item.started","item":{"type":"x"}}', "item.started item without"),
        (b'{"type":"error"}', "error event without"),
        (b"[" * 100_000, "not JSON"),
        (b'{"n":' + b"9" * 5000 + b"}", "not JSON"),
    ],
)
def test_malformed_lines_say_why(line: bytes, reason_start: str) -> None:
    event = parse_exec_line(line)
    assert isinstance(event, MalformedLine)
    assert event.reason.startswith(reason_start)


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        (b"Reading prompt from stdin...", "not JSON: JSONDecodeError"),
        (b"[" * 100_000, "not JSON: RecursionError"),
        (b'{"n":' + b"9" * 5000 + b"}", "not JSON: ValueError"),
    ],
    ids=["text", "deep", "huge-int"],
)
def test_a_line_that_is_not_json_names_the_decoder_error(line: bytes, reason: str) -> None:
    event = parse_exec_line(line)
    assert isinstance(event, MalformedLine)
    assert event.reason == reason


def test_malformed_excerpt_is_bounded_and_never_the_whole_line() -> None:
    event = parse_exec_line(b"x" * 1_000_000)
    assert isinstance(event, MalformedLine)
    assert event.excerpt == "x" * EXCERPT_CHARS


def test_invalid_utf8_is_shown_with_replacement_characters() -> None:
    event = parse_exec_line(b"ok\xffok")
    assert event == MalformedLine("invalid UTF-8 at byte 2", "ok\ufffdok")


def test_reconnect_notices_are_recognised_and_fatal_texts_are_not() -> None:
    lines = fixture_lines("err_500_defaultretries.stdout.jsonl")
    events = [parse_exec_line(x) for x in lines]
    assert [is_reconnect_notice(e) for e in events] == [False, False] + [True] * 5 + [False] * 2
    waiting = parse_exec_line(fixture_lines("err_conn_refused.stdout.jsonl")[2])
    assert is_reconnect_notice(waiting)


def test_every_captured_line_parses_to_a_known_event() -> None:
    for path in sorted(FIXTURES.glob("*.stdout.jsonl")):
        for line in path.read_bytes().splitlines():
            event = parse_exec_line(line)
            assert not isinstance(event, MalformedLine | UnknownEvent), (path.name, event)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=10),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3)
    ),
    max_leaves=10,
)
KNOWN_TYPES = ["thread.started", "turn.started", "item.started", "item.updated", "item.completed",
               "turn.completed", "turn.failed", "error", "mystery"]  # fmt: skip
event_like = st.fixed_dictionaries(
    {"type": st.sampled_from(KNOWN_TYPES)},
    optional={
        "thread_id": json_values,
        "item": json_values
        | st.fixed_dictionaries({}, optional={"id": json_values, "type": json_values}),
        "usage": json_values,
        "error": json_values,
        "message": json_values,
    },
)


@given(
    st.one_of(
        st.binary(max_size=300),
        st.text(max_size=100).map(str.encode),
        json_values.map(lambda v: json.dumps(v).encode()),
        event_like.map(lambda v: json.dumps(v).encode()),
    )
)
def test_parsing_never_raises_on_any_input(line: bytes) -> None:
    event = parse_exec_line(line)
    assert isinstance(event, EVENT_TYPES)
    if isinstance(event, MalformedLine):
        assert len(event.excerpt) <= EXCERPT_CHARS


def _dump(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":")).encode()


@given(item_id=st.text(min_size=1, max_size=8), second=st.text(max_size=8))
def test_a_duplicate_id_never_replaces_the_first(item_id: str, second: str) -> None:
    line = (
        b'{"type":"item.completed","item":{"id":' + _dump(item_id)
        + b',"type":"web_search","id":' + _dump(second) + b"}}"
    )  # fmt: skip
    event = parse_exec_line(line)
    assert isinstance(event, ItemEvent)
    assert event.item_id == item_id
    assert event.fields == {"provider_id": second}


def test_a_third_id_does_not_replace_the_provider_id() -> None:
    line = (
        b'{"type":"item.completed","item":{"id":"item_3","type":"web_search","id":"ws_1","id":"x"}}'
    )
    event = parse_exec_line(line)
    assert isinstance(event, ItemEvent)
    assert (event.item_id, event.fields) == ("item_3", {"provider_id": "ws_1"})


def test_a_repeated_key_other_than_id_keeps_its_first_value_and_adds_nothing() -> None:
    line = (
        b'{"type":"item.completed","item":{"id":"i","type":"agent_message","text":"a","text":"b"}}'
    )
    assert parse_exec_line(line) == ItemEvent("completed", "i", "agent_message", {"text": "a"})


@pytest.mark.parametrize(
    "line",
    [
        b'x{"type":"turn.started"}',  # one stray byte before an event
        b'{"type":"turn.started"} {"type":"turn.started"}',  # two values on one line
    ],
)
def test_a_line_holding_more_than_one_json_value_is_malformed_not_an_event(line: bytes) -> None:
    event = parse_exec_line(line)
    assert isinstance(event, MalformedLine)
    assert event.reason.startswith("not JSON: JSONDecodeError")
