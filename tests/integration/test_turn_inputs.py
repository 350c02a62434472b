"""A turn with images, an output schema, a reasoning effort and codex options, on the fake codex:
what reaches codex's model request (the fake's `model_request` record), argv placement, the
`structured_output` event, config errors before codex starts, and no temp file left behind."""

from __future__ import annotations

import base64
import struct
import tempfile
import zlib
from pathlib import Path
from typing import Any

import pytest

from plexum_openai_provider import TurnRequest, open_turn, run_turn
from plexum_openai_provider.events import (
    CanonicalEvent,
    ErrorEvent,
    MessageEnd,
    StructuredOutput,
)

from .conftest import FAST_LIMITS, ProviderOnFake, group_alive, types


def png(width: int = 2, height: int = 2) -> bytes:
    raw = b"".join(b"\x00" + b"\x10\x20\x30" * width for _ in range(height))

    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = struct.pack(">I", zlib.crc32(kind + data))
        return struct.pack(">I", len(data)) + kind + data + crc

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(raw))
        + chunk(b"IEND", b"")
    )


SCHEMA = {
    "type": "object",
    "properties": {"answer": {"type": "string"}},
    "required": ["answer"],
    "additionalProperties": False,
}


def reply(text: str) -> dict[str, Any]:
    return {"requests": [{"output": [{"type": "message", "text": text}]}]}


@pytest.fixture
def private_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The temp root the plugin's turn folders go to, so a test can see what is left."""
    root = tmp_path / "tmproot"
    root.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(root))
    return root


async def turn(fake: ProviderOnFake, **fields: Any) -> list[CanonicalEvent]:
    request = TurnRequest(prompt=fields.pop("prompt", "look"), workspace=fake.workspace(), **fields)
    return await run_turn(fake.config, request, FAST_LIMITS)


def model_request(fake: ProviderOnFake) -> dict[str, Any]:
    record: dict[str, Any] = fake.invocations()[-1].extra["model_request"]
    return record


async def test_image_schema_and_effort_reach_the_model_request_and_the_reply_is_parsed(
    provider: ProviderOnFake, private_tmp: Path
) -> None:
    image = provider.workspace() / "shot.png"
    image.write_bytes(png())
    provider.scenario([reply('{"answer": "a red square"}')])
    events = await turn(provider, images=(image,), output_schema=SCHEMA, reasoning_effort="high")
    assert types(events) == ["text_delta", "structured_output", "message_end"]
    assert events[1] == StructuredOutput({"answer": "a red square"})
    record = model_request(provider)
    url = "data:image/png;base64," + base64.b64encode(png()).decode()
    assert record["user"][1] == {"type": "input_image", "image_url": url}
    assert record["user"][0]["text"].endswith('-shot.png">')  # the private copy's path
    assert record["user"][-1] == {"type": "input_text", "text": "look"}
    assert record["text_format"]["schema"] == SCHEMA
    assert record["reasoning_effort"] == "high"
    assert list(private_tmp.iterdir()) == []  # the turn's folder is gone


async def test_a_resumed_turn_has_its_settings_before_resume_and_its_files_after(
    provider: ProviderOnFake, private_tmp: Path
) -> None:
    provider.scenario([reply("first"), reply('{"answer": "x"}')])
    assert isinstance((await turn(provider))[-1], MessageEnd)
    events = await turn(
        provider,
        images=(png(),),
        output_schema=SCHEMA,
        reasoning_effort="low",
        codex_options={"model_verbosity": "high", "web_search": "disabled"},
    )
    assert types(events)[-2:] == ["structured_output", "message_end"]
    argv = provider.invocations()[-1].argv
    before = argv[: argv.index("resume")]
    after = argv[argv.index("resume") + 1 : argv.index("--")]
    assert before[-6:] == [
        "-c",
        'model_reasoning_effort="low"',
        "-c",
        'model_verbosity="high"',
        "-c",
        'web_search="disabled"',
    ]
    assert [after[0], after[2]] == ["--output-schema", "--image"]
    assert after[-1].endswith("image-1-image.png") and len(after) == 4
    assert model_request(provider)["user"][1]["image_url"].startswith("data:image/png;base64,")


async def test_without_the_new_fields_argv_is_unchanged(provider: ProviderOnFake) -> None:
    provider.scenario([reply("plain")])
    events = await turn(provider)
    assert types(events) == ["text_delta", "message_end"]
    argv = provider.invocations()[-1].argv
    assert not {"--image", "--output-schema"} & set(argv)
    assert model_request(provider)["text_format"] is None


async def test_a_reply_that_is_not_json_is_a_structured_output_error_and_the_thread_is_kept(
    provider: ProviderOnFake,
) -> None:
    provider.scenario([reply("sorry, no JSON today"), reply("again")])
    events = await turn(provider, output_schema=SCHEMA)
    end = events[-1]
    assert isinstance(end, ErrorEvent) and end.code == "structured_output"
    assert "not JSON" in end.message and "sorry, no JSON today" in end.message
    assert types(events).count("error") == 1
    again = await turn(provider)
    assert "resume" in provider.invocations()[-1].argv
    assert isinstance(again[-1], MessageEnd)


@pytest.mark.parametrize(
    ("fields", "key"),
    [
        ({"images": ("missing.png",)}, "images[0]"),
        ({"images": ("notes.txt",)}, "images[0]"),
        ({"images": (b"just text",)}, "images[0]"),
        ({"images": (".",)}, "images[0]"),
        ({"output_schema": {"type": "strin"}}, "output_schema.type"),
        ({"output_schema": {"properties": {"a": {"required": "a"}}}}, "output_schema.properties"),
        ({"output_schema": ["not", "an", "object"]}, "output_schema"),
        ({"output_schema": {"x": float("nan")}}, "output_schema"),
        ({"reasoning_effort": "maximum"}, "reasoning_effort"),
        ({"codex_options": {"sandbox_mode": "read-only"}}, "codex_options"),
        ({"codex_options": {"web_search": 'live" --x'}}, "codex_options.web_search"),
    ],
)
async def test_bad_inputs_are_config_errors_naming_the_field_before_codex_starts(
    provider: ProviderOnFake, private_tmp: Path, fields: dict[str, Any], key: str
) -> None:
    (provider.workspace() / "notes.txt").write_text("not an image")
    provider.scenario([reply("never")])
    events = await turn(provider, **fields)
    assert len(events) == 1
    (end,) = events
    assert isinstance(end, ErrorEvent) and end.code == "config"
    assert f"key '{key}" in end.message
    assert provider.invocations() == []
    assert list(private_tmp.iterdir()) == []


async def test_temp_files_are_removed_when_the_turn_is_cancelled(
    provider: ProviderOnFake, private_tmp: Path
) -> None:
    provider.scenario([{**reply("a"), "faults": {"hang_after_lines": 3}}])
    request = TurnRequest(
        prompt="x", workspace=provider.workspace(), images=(png(),), output_schema=SCHEMA
    )
    seen: list[str] = []
    async with open_turn(provider.config, request, FAST_LIMITS) as running:
        async for event in running:
            seen.append(event.type)
            if event.type == "text_delta":
                assert len(list(private_tmp.iterdir())) == 1
                running.cancel()
    assert seen[-1] == "error"
    assert not group_alive(provider.invocations()[0].pgid)
    assert list(private_tmp.iterdir()) == []


async def test_temp_files_are_removed_when_the_turn_times_out(
    provider: ProviderOnFake, private_tmp: Path
) -> None:
    provider.scenario([{**reply("a"), "faults": {"hang_after_lines": 1}}])
    request = TurnRequest(prompt="x", workspace=provider.workspace(), images=(png(),))
    config = provider.with_config(turn_timeout_s=1.0)
    events = await run_turn(config, request, FAST_LIMITS)
    assert isinstance(events[-1], ErrorEvent) and events[-1].code == "timeout"
    assert list(private_tmp.iterdir()) == []


async def test_temp_files_are_removed_when_codex_crashes(
    provider: ProviderOnFake, private_tmp: Path
) -> None:
    provider.scenario([{**reply("a"), "faults": {"crash_after_lines": 1}}])
    events = await turn(provider, output_schema=SCHEMA, images=(png(),))
    assert isinstance(events[-1], ErrorEvent) and events[-1].code == "exit"
    assert list(private_tmp.iterdir()) == []


async def test_leaving_the_turn_early_removes_the_temp_files(
    provider: ProviderOnFake, private_tmp: Path
) -> None:
    provider.scenario([{**reply("a"), "faults": {"hang_after_lines": 3}}])
    request = TurnRequest(prompt="x", workspace=provider.workspace(), images=(png(),))
    async with open_turn(provider.config, request, FAST_LIMITS) as running:
        async for _event in running:
            assert len(list(private_tmp.iterdir())) == 1
            break
    assert list(private_tmp.iterdir()) == []


async def test_codex_reads_a_private_copy_of_each_image_not_the_workspace_file(
    provider: ProviderOnFake, private_tmp: Path
) -> None:
    # a hostile workspace cannot swap the checked file before codex reads it
    image = provider.workspace() / "a.png"
    image.write_bytes(png())
    provider.scenario([reply("ok")])
    events = await turn(provider, images=(str(image),))
    assert isinstance(events[-1], MessageEnd)
    argv = provider.invocations()[-1].argv
    sent = argv[argv.index("--image") + 1]
    assert not sent.startswith(str(provider.workspace()))
    assert Path(sent).parent.parent == private_tmp


def test_say_sends_images_a_schema_and_an_effort_and_prints_the_structured_output(
    provider: ProviderOnFake, tmp_path: Path
) -> None:
    import json

    image, schema = tmp_path / "shot.png", tmp_path / "schema.json"
    image.write_bytes(png())
    schema.write_text(json.dumps(SCHEMA))
    provider.scenario([reply('{"answer": "red"}')])
    result = provider.cli(
        "say",
        "--json",
        "--image",
        str(image),
        "--image",
        str(image),
        "--output-schema",
        str(schema),
        "--reasoning-effort",
        "xhigh",
        "--",
        "look",
    )
    assert result.returncode == 0, result.stderr
    events = [json.loads(line) for line in result.stdout.splitlines()]
    assert events[-2] == {"type": "structured_output", "value": {"answer": "red"}}
    record = model_request(provider)
    images = [p for p in record["user"] if p["type"] == "input_image"]
    assert len(images) == 2
    assert record["reasoning_effort"] == "xhigh"
    assert record["text_format"]["schema"] == SCHEMA


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--reasoning-effort", "huge"], "reasoning_effort"),
        (["--image", "nope.png"], "images[0]"),
        (["--output-schema", "nope.json"], "--output-schema: cannot read"),
    ],
)
def test_say_refuses_bad_inputs_with_exit_2_and_never_starts_codex(
    provider: ProviderOnFake, args: list[str], needle: str
) -> None:
    provider.scenario([reply("never")])
    result = provider.cli("say", *args, "--", "look")
    assert result.returncode == 2
    assert needle in result.stderr
    assert provider.invocations() == []
