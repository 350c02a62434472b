"""A turn input's refusal says exactly what is wrong and where (what the host's user reads), and
an accepted input becomes exactly the bytes, names and schema sent: the turn-input checks, case
by case (what their mutation run found unread)."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from plexum_openai_provider.errors import TurnInputError
from plexum_openai_provider.events import ErrorEvent, MessageEnd, StructuredOutput, Usage
from plexum_openai_provider.turn import inputs as t

PNG = b"\x89PNG\r\n\x1a\n" + b"\0" * 8


def refusal(**kwargs: Any) -> tuple[str | None, str]:
    with pytest.raises(TurnInputError) as info:
        t.check_turn_inputs(**kwargs)
    key = info.value.key
    return key, str(info.value).removeprefix(f"key {key!r}: ")


def test_image_files_are_read_and_named_by_index_and_a_safe_stem(tmp_path: Path) -> None:
    odd = tmp_path / "a, b ü!.png"
    odd.write_bytes(PNG)
    long = tmp_path / ("x" * 60 + ".png")
    long.write_bytes(PNG)
    dots = tmp_path / "...png"
    dots.write_bytes(PNG)
    inputs = t.check_turn_inputs(images=[odd, str(long), dots, PNG, bytearray(PNG)])
    assert [name for name, _ in inputs.images] == [
        "image-1-a-b.png",
        f"image-2-{'x' * 40}.png",
        "image-3-image.png",
        "image-4-image.png",
        "image-5-image.png",
    ]
    assert all(data == PNG for _, data in inputs.images)


def test_unreadable_images_say_why(tmp_path: Path) -> None:
    missing = tmp_path / "gone.png"
    assert refusal(images=[PNG, missing]) == (
        "images[1]",
        f"cannot read {missing}: No such file or directory",
    )
    assert refusal(images=[tmp_path]) == ("images[0]", f"{tmp_path} is not a regular file")
    fifo = tmp_path / "pipe.png"
    os.mkfifo(fifo)
    assert refusal(images=[fifo]) == ("images[0]", f"{fifo} is not a regular file")
    text = tmp_path / "notes.png"
    text.write_text("hello")
    assert refusal(images=[text]) == (
        "images[0]",
        f"{text} is not a PNG, JPEG, GIF or WebP image (checked by its first bytes)",
    )
    assert refusal(images=[b"hello"]) == (
        "images[0]",
        "the bytes is not a PNG, JPEG, GIF or WebP image (checked by its first bytes)",
    )
    assert refusal(images=[3.5]) == ("images[0]", "must be a file path or bytes, not float")
    assert refusal(images=PNG) == ("images", "must be a list of paths or bytes, not a single value")
    assert refusal(images=tmp_path) == (
        "images",
        "must be a list of paths or bytes, not a single value",
    )


def test_an_image_over_the_size_limit_is_refused_and_one_at_it_is_read(tmp_path: Path) -> None:
    big = tmp_path / "big.png"
    big.write_bytes(PNG + b"\0" * (t.MAX_IMAGE_BYTES - len(PNG)))
    assert len(t.check_turn_inputs(images=[big]).images[0][1]) == t.MAX_IMAGE_BYTES
    with big.open("ab") as fh:
        fh.write(b"\0")
    assert refusal(images=[big]) == (
        "images[0]",
        f"{big} is larger than {t.MAX_IMAGE_BYTES} bytes",
    )


@pytest.mark.parametrize(
    ("data", "kind"),
    [
        (b"RIFF\0\0\0\0WEBPVP8 ", "webp"),
        (b"RIFF\0\0\0\0WEBX", None),
        (b"RIFF\0\0\0\0WEB", None),
        (b"GIF87a", "gif"),
        (b"\xff\xd8\xff\xe0", "jpg"),
    ],
)
def test_image_kinds_at_their_edges(data: bytes, kind: str | None) -> None:
    assert t.image_kind(data) == kind


def test_the_schema_is_copied_and_its_problems_named() -> None:
    schema = {"type": "object", "properties": {"a": {"type": ["string", "null"]}}}
    inputs = t.check_turn_inputs(output_schema=schema)
    assert inputs.output_schema == schema and inputs.output_schema is not schema
    assert refusal(output_schema=[1]) == (
        "output_schema",
        'must be a JSON Schema object (e.g. {"type": "object", ...})',
    )
    key, message = refusal(output_schema={"type": "object", "x": float("nan")})
    assert key == "output_schema" and message.startswith("is not JSON-serialisable: ")
    key, message = refusal(output_schema={"type": "object", "x": {1, 2}})
    assert key == "output_schema" and message.startswith("is not JSON-serialisable: ")
    huge = {"type": "object", "description": "x" * t.MAX_SCHEMA_BYTES}
    assert refusal(output_schema=huge) == (
        "output_schema",
        f"is larger than {t.MAX_SCHEMA_BYTES} bytes",
    )


@pytest.mark.parametrize(
    ("schema", "key", "message"),
    [
        ([], "output_schema", "a schema must be a JSON object (or true/false)"),
        ({"type": "text"}, "output_schema.type", "'text' is not a JSON Schema type"),
        ({"type": ["string", 3]}, "output_schema.type", "3 is not a JSON Schema type"),
        ({"properties": []}, "output_schema.properties", "must be an object of schemas"),
        (
            {"properties": {"a": {"type": "nope"}}},
            "output_schema.properties.a.type",
            "'nope' is not a JSON Schema type",
        ),
        (
            {"$defs": {"d": 3}},
            "output_schema.$defs.d",
            "a schema must be a JSON object (or true/false)",
        ),
        ({"anyOf": []}, "output_schema.anyOf", "must be a non-empty list of schemas"),
        ({"oneOf": {}}, "output_schema.oneOf", "must be a non-empty list of schemas"),
        (
            {"allOf": [True, {"type": 1}]},
            "output_schema.allOf[1].type",
            "1 is not a JSON Schema type",
        ),
        ({"items": 5}, "output_schema.items", "a schema must be a JSON object (or true/false)"),
        ({"not": {"type": "x"}}, "output_schema.not.type", "'x' is not a JSON Schema type"),
        ({"required": "a"}, "output_schema.required", "must be a list of property names"),
        ({"required": ["a", 1]}, "output_schema.required", "must be a list of property names"),
        ({"enum": "a"}, "output_schema.enum", "must be a list"),
    ],
)
def test_each_malformed_schema_keyword_is_named_with_its_problem(
    schema: Any, key: str, message: str
) -> None:
    with pytest.raises(TurnInputError) as info:
        t.check_schema(schema)
    assert info.value.key == key
    assert str(info.value) == f"key {key!r}: {message}"


def test_good_schema_keywords_pass() -> None:
    t.check_schema(True)
    t.check_schema(
        {
            "type": "object",
            "required": [],
            "enum": [],
            "additionalProperties": False,
            "patternProperties": {"^x": {"type": "integer"}},
            "prefixItems": [{"type": "number"}],
            "if": {},
            "then": {},
            "else": {},
        }
    )


def test_efforts_and_options_say_what_is_allowed() -> None:
    assert refusal(reasoning_effort="HIGH") == (
        "reasoning_effort",
        "'HIGH' is not one of none, minimal, low, medium, high, xhigh",
    )
    assert refusal(reasoning_effort=3) == (
        "reasoning_effort",
        "3 is not one of none, minimal, low, medium, high, xhigh",
    )
    assert refusal(codex_options={"model": "x"}) == (
        "codex_options",
        "unknown option 'model'; allowed: web_search, model_reasoning_summary, model_verbosity",
    )
    assert refusal(codex_options={"web_search": "indexed"}) == (
        "codex_options.web_search",
        "'indexed' is not one of disabled, cached, live",
    )
    inputs = t.check_turn_inputs(
        reasoning_effort="xhigh",
        codex_options={"model_verbosity": "low", "web_search": "live"},
    )
    assert inputs.reasoning_effort == "xhigh"
    assert inputs.codex_options == (("model_verbosity", "low"), ("web_search", "live"))


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        (None, "the turn produced no final message"),
        ("1e999", "the final message is not finite JSON"),
        ("-1e999", "the final message is not finite JSON"),
        ("Infinity", None),
    ],
)
def test_a_final_message_that_is_not_json_says_why(text: str | None, problem: str | None) -> None:
    value, why = t.parse_structured(text)
    if problem is None:
        assert (
            value is None and why is not None and why.startswith("the final message is not JSON (")
        )
        assert why.endswith(": 'Infinity'") and "Infinity is not JSON" in why
    else:
        assert (value, why) == (None, problem)


def test_a_long_non_json_message_is_quoted_to_200_characters() -> None:
    _, why = t.parse_structured("x" * 300)
    assert why is not None and why.endswith(repr("x" * 200))


def test_the_turn_end_with_and_without_a_schema() -> None:
    end = MessageEnd("th", Usage(), Usage())
    assert t.turn_end(end, None, "{}") == [end]
    other = ErrorEvent("exit", "boom")
    assert t.turn_end(other, {"type": "object"}, "{}") == [other]
    assert t.turn_end(end, {"type": "object"}, '{"a": 1}') == [StructuredOutput({"a": 1}), end]
    (error,) = t.turn_end(end, {"type": "object"}, None)
    assert isinstance(error, ErrorEvent) and error.code == "structured_output"
    assert error.message == (
        "the turn had an output schema, but the turn produced no final message. The thread is "
        "kept; ask again (the model usually complies) or relax the schema."
    )


def test_edges_of_names_kinds_and_sizes(tmp_path: Path) -> None:
    assert t.image_kind(b"RIFF\0\0\0\0WEBP") == "webp"  # exactly 12 bytes
    xray = tmp_path / "Xray.png"
    xray.write_bytes(PNG)
    assert t.check_turn_inputs(images=[xray]).images[0][0] == "image-1-Xray.png"
    base = {"type": "object", "description": ""}
    room = t.MAX_SCHEMA_BYTES - len(json.dumps(base).encode())
    at_limit = {"type": "object", "description": "x" * room}
    assert t.check_turn_inputs(output_schema=at_limit).output_schema == at_limit


def test_the_private_copies_never_overwrite_or_follow_what_is_there(tmp_path: Path) -> None:
    inputs = t.check_turn_inputs(images=[PNG])
    target = tmp_path / "elsewhere"
    (tmp_path / "image-1-image.png").symlink_to(target)
    with pytest.raises(OSError):
        inputs.write_files(tmp_path)
    assert not target.exists()
