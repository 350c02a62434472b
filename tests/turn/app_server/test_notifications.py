"""app-server notifications → canonical events (pure): deltas concatenate to the message, items,
usage from `last`/`total`, retried errors as warnings, one end per turn."""

from __future__ import annotations

from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from plexum_openai_provider.events import Item, Reasoning, TextDelta, Usage, WarningEvent
from plexum_openai_provider.turn.app_server.notifications import NotificationMapper, TurnEnded


def delta(text: str, item: str = "msg_0") -> tuple[str, dict[str, Any]]:
    return "item/agentMessage/delta", {
        "threadId": "t",
        "turnId": "u",
        "itemId": item,
        "delta": text,
    }


def message_done(text: str, item: str = "msg_0") -> tuple[str, dict[str, Any]]:
    return "item/completed", {"item": {"type": "agentMessage", "id": item, "text": text}}


def feed_all(mapper: NotificationMapper, notes: list[tuple[str, dict[str, Any]]]) -> list[Any]:
    return [event for method, params in notes for event in mapper.feed(method, params)]


@given(st.lists(st.text(min_size=1, max_size=8), min_size=1, max_size=10), st.integers(0, 10))
def test_the_deltas_of_a_message_concatenate_to_the_message(pieces: list[str], cut: int) -> None:
    text = "".join(pieces)
    streamed = pieces[: min(cut, len(pieces))]  # some deltas may be missing before the end
    events = feed_all(NotificationMapper(), [*(delta(p) for p in streamed), message_done(text)])
    assert all(isinstance(e, TextDelta) for e in events)
    assert "".join(e.text for e in events) == text


def test_a_message_with_no_deltas_arrives_whole() -> None:
    assert feed_all(NotificationMapper(), [message_done("whole")]) == [TextDelta("whole")]


def test_tool_items_are_items_and_make_the_turn_busy_until_completed() -> None:
    mapper = NotificationMapper()
    item = {"type": "commandExecution", "id": "call_1", "command": "ls", "status": "inProgress"}
    started = mapper.feed("item/started", {"item": item})
    assert started == [
        Item("started", "call_1", "command_execution", {"command": "ls", "status": "inProgress"})
    ]
    assert mapper.busy
    done = mapper.feed("item/completed", {"item": {**item, "status": "completed"}})
    assert done[0].phase == "completed" and not mapper.busy  # type: ignore[union-attr]


def test_reasoning_summaries_become_one_reasoning_event() -> None:
    item = {"type": "reasoning", "id": "rs_0", "summary": ["a", "b"], "content": []}
    assert NotificationMapper().feed("item/completed", {"item": item}) == [Reasoning("a\nb")]


def test_usage_adds_up_the_turns_requests_and_total_is_the_threads() -> None:
    mapper = NotificationMapper()
    usage = {
        "last": {
            "inputTokens": 5,
            "cachedInputTokens": 1,
            "outputTokens": 2,
            "reasoningOutputTokens": 0,
            "totalTokens": 7,
        },
        "total": {
            "inputTokens": 9,
            "cachedInputTokens": 1,
            "outputTokens": 4,
            "reasoningOutputTokens": 0,
            "totalTokens": 13,
            "cacheWriteInputTokens": 3,
        },
    }
    assert mapper.feed("thread/tokenUsage/updated", {"tokenUsage": usage}) == []
    assert mapper.usage == Usage(input_tokens=5, cached_input_tokens=1, output_tokens=2)
    assert mapper.thread_usage == Usage(9, 1, 3, 4, 0)
    # A second model request in the same turn (after a tool call) adds its `last`.
    mapper.feed("thread/tokenUsage/updated", {"tokenUsage": usage})
    assert mapper.usage == Usage(input_tokens=10, cached_input_tokens=2, output_tokens=4)


def test_a_retried_error_is_a_warning_and_a_final_one_is_the_failure() -> None:
    mapper = NotificationMapper()
    retry = {"error": {"message": "Reconnecting... 1/5"}, "willRetry": True}
    final = {"error": {"message": "unexpected status 500"}, "willRetry": False}
    assert mapper.feed("error", retry) == [WarningEvent("Reconnecting... 1/5")]
    assert mapper.feed("error", final) == []
    mapper.feed("turn/completed", {"turn": {"id": "u", "status": "failed", "error": None}})
    assert mapper.ended == TurnEnded("failed", "unexpected status 500")


def test_nothing_is_mapped_after_the_turn_completed() -> None:
    mapper = NotificationMapper()
    mapper.feed("turn/completed", {"turn": {"id": "u", "status": "completed"}})
    assert mapper.ended == TurnEnded("completed", None)
    assert mapper.feed(*delta("late")) == []


def test_unknown_notifications_and_malformed_params_are_skipped() -> None:
    mapper = NotificationMapper()
    notes = [
        ("thread/status/changed", {"status": {"type": "active"}}),
        ("item/started", {"item": "not an object"}),
        ("item/completed", {"item": {"type": "somethingNew", "id": "x"}}),
        ("item/agentMessage/delta", {"itemId": 3, "delta": "x"}),
        ("warning", {"message": ""}),
    ]
    assert feed_all(mapper, notes) == []
    assert mapper.ended is None


def test_the_context_is_the_last_requests_total_of_the_models_window() -> None:
    mapper = NotificationMapper()
    for total, window in ((300, None), (1200, 272000)):
        last = {"inputTokens": 1000, "outputTokens": 150, "totalTokens": total}
        note = {"tokenUsage": {"last": last, "total": last, "modelContextWindow": window}}
        mapper.feed("thread/tokenUsage/updated", note)
    assert (mapper.context_tokens, mapper.context_window) == (1200, 272000)
    without_total = {"last": {"inputTokens": 40, "outputTokens": 2}, "total": {}}
    mapper.feed("thread/tokenUsage/updated", {"tokenUsage": without_total})
    assert (mapper.context_tokens, mapper.context_window) == (42, 272000)
