"""Turn inputs before codex starts: image sniffing, the structural schema check, the allow-lists,
argv order and the final message parsed as JSON."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from plexum_openai_provider.turn.inputs import (
    TurnInputError,
    check_schema,
    check_turn_inputs,
    image_kind,
    parse_structured,
)

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 16


@pytest.mark.parametrize(
    ("data", "kind"),
    [
        (PNG, "png"),
        (b"\xff\xd8\xff\xe0rest", "jpg"),
        (b"GIF89a...", "gif"),
        (b"RIFF\x10\x00\x00\x00WEBPVP8L", "webp"),
        (b"RIFF\x10\x00\x00\x00WAVEfmt ", None),
        (b"%PDF-1.7", None),
        (b"", None),
    ],
)
def test_images_are_recognised_by_their_first_bytes(data: bytes, kind: str | None) -> None:
    assert image_kind(data) == kind


@pytest.mark.parametrize(
    "schema",
    [
        {"type": "object", "properties": {"a": {"type": ["string", "null"]}}, "required": ["a"]},
        {"anyOf": [{"type": "string"}, {"$ref": "#/$defs/x"}], "$defs": {"x": {"enum": [1, 2]}}},
        {"type": "array", "items": {"type": "integer"}},
        {},
    ],
)
def test_well_formed_schemas_pass_the_structural_check(schema: dict[str, Any]) -> None:
    check_schema(schema)


@pytest.mark.parametrize(
    ("schema", "where"),
    [
        ({"type": "strin"}, "output_schema.type"),
        ({"type": ["string", 3]}, "output_schema.type"),
        ({"properties": []}, "output_schema.properties"),
        ({"properties": {"a": {"type": "nope"}}}, "output_schema.properties.a.type"),
        ({"items": "string"}, "output_schema.items"),
        ({"anyOf": []}, "output_schema.anyOf"),
        ({"anyOf": [{"type": "x"}]}, "output_schema.anyOf[0].type"),
        ({"required": "a"}, "output_schema.required"),
        ({"enum": "a"}, "output_schema.enum"),
        ({"additionalProperties": 3}, "output_schema.additionalProperties"),
    ],
)
def test_a_malformed_schema_is_refused_naming_the_place(schema: Any, where: str) -> None:
    with pytest.raises(TurnInputError) as info:
        check_schema(schema)
    assert info.value.key == where


def test_settings_are_config_args_and_files_are_file_args_images_last(tmp_path: Path) -> None:
    inputs = check_turn_inputs(
        images=(PNG, PNG),
        output_schema={"type": "object"},
        reasoning_effort="minimal",
        codex_options={"web_search": "live", "model_verbosity": "low"},
    )
    assert inputs.config_args() == [
        "-c", 'model_reasoning_effort="minimal"',
        "-c", 'model_verbosity="low"',
        "-c", 'web_search="live"',
    ]  # fmt: skip
    assert inputs.file_args(tmp_path) == [
        "--output-schema", str(tmp_path / "output-schema.json"),
        "--image", str(tmp_path / "image-1-image.png"),
        "--image", str(tmp_path / "image-2-image.png"),
    ]  # fmt: skip
    inputs.write_files(tmp_path)
    assert (tmp_path / "image-2-image.png").read_bytes() == PNG
    assert (tmp_path / "output-schema.json").read_text() == '{"type": "object"}'
    assert oct((tmp_path / "output-schema.json").stat().st_mode & 0o777) == "0o600"


def test_a_path_with_commas_and_spaces_becomes_a_safe_copy_name(tmp_path: Path) -> None:
    image = tmp_path / "my shot, final.png"
    image.write_bytes(PNG)
    ((name, data),) = check_turn_inputs(images=(image,)).images
    assert (name, data) == ("image-1-my-shot-final.png", PNG)


def test_nothing_given_means_no_files_and_no_argv() -> None:
    inputs = check_turn_inputs()
    assert (inputs.needs_files, inputs.config_args(), inputs.file_args(None)) == (False, [], [])


@pytest.mark.parametrize(
    ("kwargs", "key"),
    [
        ({"images": "a.png"}, "images"),
        ({"images": (3,)}, "images[0]"),
        ({"reasoning_effort": "HIGH"}, "reasoning_effort"),
        ({"codex_options": {"model": "gpt-5"}}, "codex_options"),
        ({"codex_options": {"model_verbosity": "low --json"}}, "codex_options.model_verbosity"),
        ({"codex_options": {"web_search": True}}, "codex_options.web_search"),
    ],
)
def test_bad_fields_are_refused_by_name(kwargs: dict[str, Any], key: str) -> None:
    with pytest.raises(TurnInputError) as info:
        check_turn_inputs(**kwargs)
    assert info.value.key == key


@pytest.mark.parametrize(
    ("text", "value", "ok"),
    [
        ('{"a": 1}', {"a": 1}, True),
        ("[1, 2]", [1, 2], True),
        ("plain words", None, False),
        ("NaN", None, False),
        (None, None, False),
    ],
)
def test_the_final_message_is_parsed_as_strict_json(text: str | None, value: Any, ok: bool) -> None:
    parsed, problem = parse_structured(text)
    assert (parsed, problem is None) == (value, ok)
