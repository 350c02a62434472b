"""The byte-exact splice: one rollout line in, the same line with targeted value bytes swapped."""

from __future__ import annotations

import pytest

from plexum_openai_provider.codex.rollout.splice import blank_line

MARKER = "...(tool called)"
BLANKED = f'"{MARKER}"'
IDS = frozenset({"c", "d"})


def output(call_id: str, value: str = '"o"') -> str:
    return f'{{"type":"function_call_output","call_id":"{call_id}","output":{value}}}'


def item(payload: str) -> str:
    return f'{{"type":"response_item","payload":{payload}}}'


def twice(first: str, second: str) -> str:
    """A line whose `payload` key appears twice (first-wins and last-wins readers differ)."""
    return f'{{"type":"response_item","payload":{first},"payload":{second}}}'


@pytest.mark.parametrize(
    "first",
    [
        '"not an object"',
        "{}",
        output("other"),
        '{"type":"local_shell_call","call_id":"c","action":{"type":"exec"}}',
    ],
    ids=["string", "empty", "other-id", "no-rule"],
)
def test_every_copy_of_a_duplicated_payload_is_examined(first: str) -> None:
    line, found = blank_line(twice(first, output("c")), IDS, MARKER)
    assert line == twice(first, output("c", BLANKED))
    assert found == {"c"}


def test_ids_in_different_copies_of_the_payload_are_all_blanked_and_reported() -> None:
    line, found = blank_line(twice(output("c"), output("d")), IDS, MARKER)
    assert line == twice(output("c", BLANKED), output("d", BLANKED))
    assert found == {"c", "d"}


@pytest.mark.parametrize(
    "text",
    ["", "   ", "[1]", 'X"type":"response_item","payload":' + output("c") + "}"],
    ids=["empty", "blank", "array", "stray-first-byte"],
)
def test_a_line_that_is_not_a_json_object_is_returned_unchanged(text: str) -> None:
    assert blank_line(text, IDS, MARKER) == (text, frozenset())


def test_a_call_id_that_is_not_a_string_never_matches() -> None:
    text = item('{"type":"function_call_output","call_id":7,"output":"o"}')
    assert blank_line(text, frozenset({"7"}), MARKER) == (text, frozenset())


def test_a_payload_without_a_type_is_reported_but_not_edited() -> None:
    text = item('{"call_id":"c","output":"o"}')
    assert blank_line(text, IDS, MARKER) == (text, frozenset({"c"}))


def test_a_non_ascii_marker_is_written_as_its_characters_like_codex_writes_text() -> None:
    line, _ = blank_line(item(output("c")), IDS, "…consumed")
    assert line == item(output("c", '"…consumed"'))


def test_a_line_nested_deeper_than_the_decoder_follows_is_left_untouched() -> None:
    deep = "[" * 100_000 + "]" * 100_000
    for text in (item(output("c", deep)), twice(deep, output("c"))):
        assert blank_line(text, IDS, MARKER) == (text, frozenset())
