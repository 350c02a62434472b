"""A resumed turn with an image, an output schema, an effort and a codex option sent through
`serve` to the REAL codex: the fake Responses server sees all of them, the daemon gets the
`structured_output` event. Every message crossing the pipe is checked against the schema."""

from __future__ import annotations

import base64
import json
import struct
import zlib
from pathlib import Path
from typing import Any

import pytest

from fake_codex.testing.fakes import RealCodex
from plexum_openai_provider.daemon.client import PluginConnection, serve_argv

from ..protocol_schema import SchemaCheck

pytestmark = pytest.mark.e2e
SCHEMA = {
    "type": "object",
    "properties": {"count": {"type": "integer"}},
    "required": ["count"],
    "additionalProperties": False,
}


def png() -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = struct.pack(">I", zlib.crc32(kind + data))
        return struct.pack(">I", len(data)) + kind + data + crc

    header = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"\x00\xff\x00\x00"))
        + chunk(b"IEND", b"")
    )


def message(text: str) -> dict[str, Any]:
    return {"output": [{"type": "message", "text": text}]}


@pytest.mark.parametrize("real_codex_version", ["0.150.1", "0.169.0"])
async def test_serve_sends_a_resumed_turns_inputs_to_the_real_codex(
    real_codex: RealCodex, tmp_path: Path
) -> None:
    workspace = tmp_path / "ws"
    workspace.mkdir()
    (workspace / "shot.png").write_bytes(png())
    check = SchemaCheck()
    real_codex.write_scenario(
        [{"requests": [message("hi")]}, {"requests": [message('{"count": 1}')]}]
    )
    config = tmp_path / "config.json"
    config.write_text(
        json.dumps(
            {
                "binary": str(real_codex.binary),
                "codex_home": str(real_codex.home),
                "extra_args": real_codex.config_args,
                "socket_dir": str(tmp_path / "sock"),
            }
        )
    )
    conn = await PluginConnection.start(serve_argv(config), observe=check)
    try:
        await conn.request(
            "initialize", {"protocol_version": "1", "host": {"name": "t", "version": "0"}}
        )
        base = {"agent": {"id": "a", "workspace": str(workspace)}, "session_id": "s"}
        first = await conn.turn({**base, "turn_id": "t-1", "input": "hello"})
        second = await conn.turn(
            {
                **base,
                "turn_id": "t-2",
                "input": "count the dots",
                "images": [{"path": str(workspace / "shot.png")}],
                "output_schema": SCHEMA,
                "reasoning_effort": "high",
                "codex_options": {"model_verbosity": "high"},
            }
        )
    finally:
        assert await conn.close() == 0
    bodies = [r.body for r in real_codex.requests]
    assert first.events[-1]["type"] == "message_end"
    assert second.events[-2] == {"type": "structured_output", "value": {"count": 1}}
    assert second.events[-1]["thread_id"] == first.events[-1]["thread_id"]
    body = bodies[1]
    user = next(i for i in reversed(body["input"]) if i.get("role") == "user")["content"]
    url = "data:image/png;base64," + base64.b64encode(png()).decode()
    assert [p["image_url"] for p in user if p["type"] == "input_image"] == [url]
    assert body["text"]["format"]["schema"] == SCHEMA
    assert body["text"]["verbosity"] == "high"
    assert body["reasoning"]["effort"] == "high"
    assert check.failures == [], "\n".join(check.failures)
