"""The order codex leaves undefined (concurrent MCP calls) is settled; every other order is kept."""

from __future__ import annotations

from typing import Any

from conformance.concurrent import (
    exec_call,
    provider_call,
    settle,
    settle_event_types,
    settle_outputs,
)


def item(phase: str, item_id: str, text: str) -> dict[str, Any]:
    body = {"id": item_id, "type": "mcp_tool_call", "server": "echo", "tool": "echo"}
    return {"type": f"item.{phase}", "item": {**body, "arguments": {"text": text}}}


def message(item_id: str) -> dict[str, Any]:
    return {"type": "item.completed", "item": {"id": item_id, "type": "agent_message"}}


def provider(phase: str, item_id: str, text: str) -> dict[str, Any]:
    detail = {"server": "echo", "tool": "echo", "arguments": {"text": text}}
    return {
        "type": "item",
        "kind": "mcp_tool_call",
        "item_id": item_id,
        "phase": phase,
        "detail": detail,
    }


LEFT_FIRST = [
    {"type": "turn.started"},
    item("started", "item_0", "left"),
    item("completed", "item_0", "left"),
    item("started", "item_1", "right"),
    item("completed", "item_1", "right"),
    message("item_2"),
]
RIGHT_FIRST = [
    {"type": "turn.started"},
    item("started", "item_0", "right"),
    item("started", "item_1", "left"),
    item("completed", "item_1", "left"),
    item("completed", "item_0", "right"),
    message("item_2"),
]


def test_two_concurrent_calls_started_in_the_other_order_compare_equal() -> None:
    assert settle(RIGHT_FIRST, exec_call) == settle(LEFT_FIRST, exec_call) == LEFT_FIRST


def test_a_different_set_of_calls_still_differs() -> None:
    other = [*RIGHT_FIRST]
    other[1] = item("started", "item_0", "middle")
    other[4] = item("completed", "item_0", "middle")
    assert settle(other, exec_call) != settle(LEFT_FIRST, exec_call)


def test_item_numbering_is_still_compared() -> None:
    renumbered = [
        e if e.get("item", {}).get("type") != "mcp_tool_call" else _with_id(e, "item_5")
        for e in LEFT_FIRST
    ]
    assert settle(renumbered, exec_call) != settle(LEFT_FIRST, exec_call)


def _with_id(event: dict[str, Any], item_id: str) -> dict[str, Any]:
    number = int(event["item"]["id"][-1]) + int(item_id[-1])
    return {**event, "item": {**event["item"], "id": f"item_{number}"}}


def test_a_call_still_starts_before_it_completes() -> None:
    completed_first = [LEFT_FIRST[0], LEFT_FIRST[2], LEFT_FIRST[1], *LEFT_FIRST[3:]]
    assert settle(completed_first, exec_call) != settle(LEFT_FIRST, exec_call)


def test_calls_separated_by_another_event_keep_their_order() -> None:
    sequential = [LEFT_FIRST[3], LEFT_FIRST[4], message("item_9"), LEFT_FIRST[1], LEFT_FIRST[2]]
    assert settle(sequential, exec_call) == sequential


def test_provider_item_events_of_concurrent_calls_compare_equal_in_either_order() -> None:
    left = [provider(p, "item_0", "left") for p in ("started", "completed")]
    right = [provider(p, "item_1", "right") for p in ("started", "completed")]
    swapped_right = [provider(p, "item_0", "right") for p in ("started", "completed")]
    swapped_left = [provider(p, "item_1", "left") for p in ("started", "completed")]
    assert settle(swapped_right + swapped_left, provider_call) == left + right
    other = [provider(p, "item_1", "other") for p in ("started", "completed")]
    assert settle(left + other, provider_call) != left + right


def test_adjacent_rollout_outputs_are_sorted_but_calls_keep_the_model_order() -> None:
    calls = [
        {"type": "function_call", "call_id": "b"},
        {"type": "function_call", "call_id": "a"},
    ]
    outputs = [
        {"type": "function_call_output", "call_id": "a", "output": "A"},
        {"type": "function_call_output", "call_id": "b", "output": "B"},
    ]
    assert settle_outputs(calls + outputs[::-1]) == calls + outputs
    assert settle_outputs(calls[::-1] + outputs) != calls + outputs
    changed = [outputs[1], {**outputs[0], "output": "C"}]
    assert settle_outputs(calls + changed) != calls + outputs


def test_rollout_begin_end_notices_of_concurrent_calls_are_settled_not_dropped() -> None:
    interleaved = ["task_started", "mcp_tool_call_begin", "mcp_tool_call_begin"]
    interleaved += ["mcp_tool_call_end", "mcp_tool_call_end", "token_count"]
    serial = ["task_started", "mcp_tool_call_begin", "mcp_tool_call_end"]
    serial += ["mcp_tool_call_begin", "mcp_tool_call_end", "token_count"]
    assert settle_event_types(interleaved) == settle_event_types(serial)
    assert settle_event_types(serial[:3] + serial[5:]) == serial[:3] + serial[5:]
    assert settle_event_types(serial[:3] + serial[5:]) != settle_event_types(serial)
