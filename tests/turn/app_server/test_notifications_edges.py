"""The notification mapper at its edges (what its mutation run found untested): each usage field
read from its own key, malformed params ignored without a trace, retried and final errors, the
end of a turn and everything after it, a message's deltas per item, what counts as busy."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from plexum_openai_provider.events import Item, Reasoning, TextDelta, Usage, WarningEvent
from plexum_openai_provider.turn.app_server.notifications import (
    NotificationMapper,
    TurnEnded,
    usage_from,
)

BREAKDOWN = {
    "inputTokens": 11,
    "cachedInputTokens": 3,
    "cacheWriteInputTokens": 2,
    "outputTokens": 5,
    "reasoningOutputTokens": 1,
    "totalTokens": 16,
}


def test_each_usage_field_comes_from_its_own_key() -> None:
    assert usage_from(BREAKDOWN) == Usage(
        input_tokens=11,
        cached_input_tokens=3,
        cache_write_input_tokens=2,
        output_tokens=5,
        reasoning_output_tokens=1,
    )


@pytest.mark.parametrize("raw", [None, [], "x", 3])
def test_usage_that_is_not_an_object_is_zero(raw: object) -> None:
    assert usage_from(raw) == Usage()


def test_missing_booleans_and_non_integers_count_as_zero() -> None:
    raw = {"inputTokens": True, "outputTokens": "5", "cachedInputTokens": 2.5}
    assert usage_from(raw) == Usage()
    assert usage_from({"outputTokens": 4}) == Usage(output_tokens=4)


def test_a_new_mapper_knows_nothing_yet() -> None:
    mapper = NotificationMapper()
    assert (mapper.turn_id, mapper.ended, mapper.usage, mapper.thread_usage) == (
        None,
        None,
        None,
        None,
    )
    assert (mapper.failure, mapper.last_text, mapper.busy) == (None, None, False)


def test_usage_notifications_without_an_object_change_nothing() -> None:
    mapper = NotificationMapper()
    assert mapper.feed("thread/tokenUsage/updated", {"tokenUsage": "x"}) == []
    assert (mapper.usage, mapper.thread_usage) == (None, None)
    mapper.feed("thread/tokenUsage/updated", {"tokenUsage": {"last": BREAKDOWN, "total": {}}})
    assert mapper.usage == usage_from(BREAKDOWN) and mapper.thread_usage == Usage()


@pytest.mark.parametrize(
    "params",
    [
        {"itemId": 1, "delta": "x"},
        {"itemId": "m", "delta": 2},
        {"itemId": "m", "delta": ""},
        {"delta": "x"},
        {"itemId": "m"},
    ],
)
def test_a_malformed_delta_is_ignored(params: dict[str, Any]) -> None:
    mapper = NotificationMapper()
    assert mapper.feed("item/agentMessage/delta", params) == []
    # ...and it was not counted as streamed: the whole message still arrives at the end.
    done = {"item": {"type": "agentMessage", "id": "m", "text": "xy"}}
    assert mapper.feed("item/completed", done) == [TextDelta("xy")]


def test_deltas_are_kept_per_message() -> None:
    mapper = NotificationMapper()
    assert mapper.feed("item/agentMessage/delta", {"itemId": "a", "delta": "he"}) == [
        TextDelta("he")
    ]
    mapper.feed("item/agentMessage/delta", {"itemId": "b", "delta": "wo"})
    a_done = mapper.feed(
        "item/completed", {"item": {"type": "agentMessage", "id": "a", "text": "hello"}}
    )
    assert a_done == [TextDelta("llo")]
    b_done = mapper.feed(
        "item/completed", {"item": {"type": "agentMessage", "id": "b", "text": "wo"}}
    )
    assert b_done == []
    assert mapper.last_text == "wo"
    # A completed message forgets its deltas: the same id again is a new message.
    again = mapper.feed(
        "item/completed", {"item": {"type": "agentMessage", "id": "a", "text": "he"}}
    )
    assert again == [TextDelta("he")]


def test_a_final_text_that_disagrees_with_the_deltas_adds_nothing_and_says_so(
    caplog: pytest.LogCaptureFixture,
) -> None:
    mapper = NotificationMapper()
    mapper.feed("item/agentMessage/delta", {"itemId": "m", "delta": "abc"})
    with caplog.at_level(logging.WARNING):
        done = mapper.feed(
            "item/completed", {"item": {"type": "agentMessage", "id": "m", "text": "xyz"}}
        )
    assert done == []
    assert [r.getMessage() for r in caplog.records] == [
        "agent message m: streamed text differs from the final text"
    ]
    assert mapper.last_text == "xyz"


def test_a_message_without_text_sends_nothing_and_keeps_the_last_text() -> None:
    mapper = NotificationMapper()
    mapper.feed("item/completed", {"item": {"type": "agentMessage", "id": "a", "text": "one"}})
    assert mapper.feed("item/completed", {"item": {"type": "agentMessage", "id": "b"}}) == []
    assert mapper.last_text == "one"
    started = {"item": {"type": "agentMessage", "id": "c", "text": "soon"}}
    assert mapper.feed("item/started", started) == []


@pytest.mark.parametrize(
    "item",
    [
        "not an item",
        {"type": 3, "id": "x"},
        {"type": "commandExecution", "id": 4},
        {"type": "commandExecution"},
        {"type": "somethingNew", "id": "n"},
    ],
)
def test_items_codex_may_send_that_are_not_shown_are_skipped(item: Any) -> None:
    mapper = NotificationMapper()
    assert mapper.feed("item/started", {"item": item}) == []
    assert mapper.feed("item/completed", {"item": item}) == []
    assert not mapper.busy


def test_an_unknown_item_type_and_method_are_logged_at_debug(
    caplog: pytest.LogCaptureFixture,
) -> None:
    mapper = NotificationMapper()
    with caplog.at_level(logging.DEBUG):
        mapper.feed("item/started", {"item": {"type": "somethingNew", "id": "n"}})
        mapper.feed("thread/goal/cleared", {"threadId": "t"})
    assert [r.getMessage() for r in caplog.records] == [
        "skipping app-server item type 'somethingNew' (n)",
        "skipping app-server notification thread/goal/cleared",
    ]


@pytest.mark.parametrize(
    ("item", "expected"),
    [
        ({"summary": "not a list"}, []),
        ({"summary": [1, None]}, []),
        ({"summary": ["a", 2, "b"]}, [Reasoning("a\nb")]),
        ({}, []),
    ],
)
def test_reasoning_is_its_string_summary_parts(item: dict[str, Any], expected: list[Any]) -> None:
    full = {"type": "reasoning", "id": "rs", **item}
    mapper = NotificationMapper()
    assert mapper.feed("item/started", {"item": full}) == []
    assert mapper.feed("item/completed", {"item": full}) == expected


@pytest.mark.parametrize(
    ("item_type", "kind", "busy"),
    [
        ("commandExecution", "command_execution", True),
        ("mcpToolCall", "mcp_tool_call", True),
        ("fileChange", "file_change", False),
        ("webSearch", "web_search", False),
    ],
)
def test_each_tool_item_kind_and_whether_it_keeps_the_turn_busy(
    item_type: str, kind: str, busy: bool
) -> None:
    mapper = NotificationMapper()
    item = {"type": item_type, "id": "i1", "status": "inProgress", "extra": [1]}
    assert mapper.feed("item/started", {"item": item}) == [
        Item("started", "i1", kind, {"status": "inProgress", "extra": [1]})
    ]
    assert mapper.busy is busy
    other = {**item, "id": "i2"}
    mapper.feed("item/completed", {"item": other})  # another item's end changes nothing
    assert mapper.busy is busy
    assert mapper.feed("item/completed", {"item": item})[0] == Item(
        "completed", "i1", kind, {"status": "inProgress", "extra": [1]}
    )
    assert not mapper.busy


@pytest.mark.parametrize(
    "params",
    [
        {"error": "text"},
        {"error": {"message": ""}},
        {"error": {"message": 5}},
        {"error": {}},
        {},
    ],
)
def test_an_error_without_a_message_is_ignored(params: dict[str, Any]) -> None:
    mapper = NotificationMapper()
    assert mapper.feed("error", {**params, "willRetry": False}) == []
    assert mapper.failure is None


def test_only_a_true_will_retry_makes_an_error_a_warning() -> None:
    mapper = NotificationMapper()
    retried = mapper.feed("error", {"error": {"message": "again"}, "willRetry": True})
    assert retried == [WarningEvent("again")] and mapper.failure is None
    assert mapper.feed("error", {"error": {"message": "final"}, "willRetry": "true"}) == []
    assert mapper.failure == "final"
    assert mapper.feed("error", {"error": {"message": "later"}}) == []
    assert mapper.failure == "later"


def test_a_warning_is_a_warning_event() -> None:
    assert NotificationMapper().feed("warning", {"message": "careful"}) == [WarningEvent("careful")]


@pytest.mark.parametrize("message", [None, "", 3])
def test_a_warning_without_text_is_ignored(message: object) -> None:
    assert NotificationMapper().feed("warning", {"message": message}) == []


def test_the_turn_id_is_the_first_started_turns() -> None:
    mapper = NotificationMapper()
    mapper.feed("turn/started", {"turn": "x"})
    mapper.feed("turn/started", {"turn": {"id": 5}})
    assert mapper.turn_id is None
    mapper.feed("turn/started", {"turn": {"id": "t1"}})
    mapper.feed("turn/started", {"turn": {"id": "t2"}})
    assert mapper.turn_id == "t1"


def test_the_end_of_a_turn_and_nothing_after_it() -> None:
    mapper = NotificationMapper()
    assert mapper.feed("turn/completed", {"turn": "x"}) == [] and mapper.ended is None
    mapper.feed("error", {"error": {"message": "boom"}, "willRetry": False})
    assert mapper.feed("turn/completed", {"turn": {"status": 7}}) == []
    assert mapper.ended == TurnEnded("failed", "boom")
    # Ended: every later notification is ignored.
    assert mapper.feed("item/agentMessage/delta", {"itemId": "m", "delta": "late"}) == []
    assert mapper.feed("warning", {"message": "late"}) == []


def test_the_turns_own_error_message_wins_over_an_earlier_error() -> None:
    mapper = NotificationMapper()
    mapper.feed("error", {"error": {"message": "earlier"}, "willRetry": False})
    turn = {"status": "failed", "error": {"message": "the turn's"}}
    mapper.feed("turn/completed", {"turn": turn})
    assert mapper.ended == TurnEnded("failed", "the turn's")
    done = NotificationMapper()
    done.feed("turn/completed", {"turn": {"status": "completed", "error": {"message": 4}}})
    assert done.ended == TurnEnded("completed", None)
