"""A turn's images, output schema, reasoning effort and codex options on the REAL codex: what the
fake Responses server receives, on a new thread and on a resumed one, through the runner and
through `say`. 0.150.1 is in the set on purpose: it drops every `-c` before `resume` once one
follows it, so a misplaced effort would cost the provider settings (the request would never come
here)."""

from __future__ import annotations

import asyncio
import base64
import json
import struct
import sys
import zlib
from pathlib import Path
from typing import Any

import pytest

from fake_codex.testing.fakes import RealCodex
from plexum_openai_provider import StructuredOutput, TurnRequest, run_turn
from plexum_openai_provider.events import MessageEnd

from .test_provider_turns import LIMITS, config_for, reply

pytestmark = pytest.mark.e2e
VERSIONS = ("0.135.0", "0.150.1", "0.169.0")
SCHEMA = {
    "type": "object",
    "properties": {"shape": {"type": "string"}, "count": {"type": "integer"}},
    "required": ["shape", "count"],
    "additionalProperties": False,
}


def png() -> bytes:
    raw = b"".join(b"\x00" + b"\xff\x00\x00\x00\xff\x00" for _ in range(2))

    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = struct.pack(">I", zlib.crc32(kind + data))
        return struct.pack(">I", len(data)) + kind + data + crc

    header = struct.pack(">IIBBBBB", 2, 2, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(raw))
        + chunk(b"IEND", b"")
    )


def last_user_parts(body: dict[str, Any]) -> list[dict[str, Any]]:
    for item in reversed(body["input"]):
        if item.get("role") == "user":
            parts: list[dict[str, Any]] = item["content"]
            return parts
    raise AssertionError("no user message in the request")


def image_urls(body: dict[str, Any]) -> list[str]:
    return [p["image_url"] for p in last_user_parts(body) if p["type"] == "input_image"]


@pytest.mark.parametrize("real_codex_version", VERSIONS)
async def test_a_resumed_turn_sends_its_image_schema_effort_and_options_to_the_model(
    real_codex: RealCodex, tmp_path: Path
) -> None:
    ws = tmp_path / "ws"
    ws.mkdir()
    (ws / "shot.png").write_bytes(png())
    replies = [reply("plain"), reply('{"shape": "square", "count": 4}'), reply("plain again")]
    real_codex.write_scenario([{"requests": [r]} for r in replies])
    config = config_for(real_codex)
    first = await run_turn(config, TurnRequest(prompt="hi", workspace=ws), LIMITS)
    second = await run_turn(
        config,
        TurnRequest(
            prompt="count them",
            workspace=ws,
            images=(ws / "shot.png", png()),
            output_schema=SCHEMA,
            reasoning_effort="high",
            codex_options={"model_verbosity": "high"},
        ),
        LIMITS,
    )
    third = await run_turn(config, TurnRequest(prompt="and now?", workspace=ws), LIMITS)
    assert isinstance(first[-1], MessageEnd) and isinstance(third[-1], MessageEnd)
    assert second[-2:] == [
        StructuredOutput({"shape": "square", "count": 4}),
        second[-1],
    ]
    end = second[-1]
    assert isinstance(end, MessageEnd) and end.thread_id == first[-1].thread_id
    plain, inputs, after = (r.body for r in real_codex.requests)
    url = "data:image/png;base64," + base64.b64encode(png()).decode()
    assert image_urls(inputs) == [url, url]
    assert last_user_parts(inputs)[-1] == {"type": "input_text", "text": "count them"}
    assert inputs["text"]["format"] == {
        "type": "json_schema",
        "strict": True,
        "schema": SCHEMA,
        "name": "codex_output_schema",
    }
    assert inputs["text"]["verbosity"] == "high"
    assert inputs["reasoning"]["effort"] == "high"
    # per turn: the turns around it carry none of it
    for body in (plain, after):
        assert "format" not in body["text"] and body["reasoning"]["effort"] != "high"
    assert image_urls(after) == []


@pytest.mark.parametrize("real_codex_version", ["0.169.0"])
async def test_say_sends_an_image_a_schema_and_an_effort_to_the_real_codex(
    real_codex: RealCodex, tmp_path: Path
) -> None:
    ws = tmp_path / "ws"
    ws.mkdir()
    (tmp_path / "shot.png").write_bytes(png())
    (tmp_path / "schema.json").write_text(json.dumps(SCHEMA))
    real_codex.write_scenario([{"requests": [reply('{"shape": "dot", "count": 1}')]}])
    config = {
        "binary": str(real_codex.binary),
        "codex_home": str(real_codex.home),
        "extra_args": real_codex.config_args,
    }
    (tmp_path / "config.json").write_text(json.dumps(config))
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "plexum_openai_provider.cli",
        "say",
        "--config",
        str(tmp_path / "config.json"),
        "--workspace",
        str(ws),
        "--json",
        "--no-tools",
        "--image",
        str(tmp_path / "shot.png"),
        "--output-schema",
        str(tmp_path / "schema.json"),
        "--reasoning-effort",
        "minimal",
        "--",
        "what is it?",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode == 0, err.decode()
    events = [json.loads(line) for line in out.decode().splitlines()]
    assert events[-2] == {"type": "structured_output", "value": {"shape": "dot", "count": 1}}
    (body,) = (r.body for r in real_codex.requests)
    assert image_urls(body) == ["data:image/png;base64," + base64.b64encode(png()).decode()]
    assert body["text"]["format"]["schema"] == SCHEMA
    assert body["reasoning"]["effort"] == "minimal"
