"""Canonical events: usage arithmetic and the wire form."""

from __future__ import annotations

from pathlib import Path

from plexum_openai_provider.events import ERROR_CODES, MessageEnd, ToolCall, Usage


def test_per_turn_usage_is_the_difference_of_totals_and_never_negative() -> None:
    total = Usage(input_tokens=36, cached_input_tokens=9, output_tokens=15)
    before = Usage(input_tokens=24, cached_input_tokens=10, output_tokens=10)
    assert total.minus(before) == Usage(input_tokens=12, cached_input_tokens=0, output_tokens=5)


def test_usage_from_codex_zero_fills_missing_and_odd_fields() -> None:
    raw = {"input_tokens": 5, "output_tokens": True, "cached_input_tokens": "3"}
    assert Usage.from_mapping(raw) == Usage(input_tokens=5)
    assert Usage.from_mapping(None) == Usage()


def test_the_wire_form_puts_every_usage_key_in_both_figures() -> None:
    end = MessageEnd(thread_id="t", usage=Usage(input_tokens=1), thread_usage=Usage(input_tokens=2))
    wire = end.to_json()
    assert wire["type"] == "message_end"
    assert set(wire["usage"]) == set(wire["thread_usage"]) == {
        "input_tokens", "cached_input_tokens", "cache_write_input_tokens", "output_tokens",
        "reasoning_output_tokens",
    }  # fmt: skip


def test_a_tool_call_lists_its_inner_calls_as_a_json_array() -> None:
    call = ToolCall(block_id="call_1", kind="custom_tool_call", name="exec",
                    inner_calls=({"tool": "echo"},))  # fmt: skip
    assert call.to_json()["inner_calls"] == [{"tool": "echo"}]


def test_the_error_codes_are_the_documented_list() -> None:
    readme = (Path(__file__).parents[1] / "README.md").read_text()
    for code in ERROR_CODES:
        assert f"`{code}`" in readme, f"error code {code} is not documented in the README"
