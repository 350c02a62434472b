"""A turn's images, output schema, reasoning effort and codex options through `serve` on the fake
codex: what reaches the model request (the fake's `model_request` record), the
`structured_output` event, and a bad value ending the turn in `error{config}` before codex runs."""

from __future__ import annotations

import base64
import struct
import zlib
from typing import Any

from plexum_openai_provider.daemon.client import PluginConnection

from .serve_support import ServeWorld, initialized

SCHEMA = {
    "type": "object",
    "properties": {"count": {"type": "integer"}},
    "required": ["count"],
    "additionalProperties": False,
}


def png() -> bytes:
    raw = b"\x00\x00\x80\xff"

    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = struct.pack(">I", zlib.crc32(kind + data))
        return struct.pack(">I", len(data)) + kind + data + crc

    header = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(raw))
        + chunk(b"IEND", b"")
    )


def params(world: ServeWorld, turn_id: str, **over: Any) -> dict[str, Any]:
    return {
        "turn_id": turn_id,
        "agent": {"id": "a", "workspace": str(world.fake.workspace())},
        "session_id": "s",
        "input": "how many?",
        **over,
    }


async def test_serve_passes_images_schema_effort_and_options_to_codex(
    serve_world: ServeWorld,
) -> None:
    image = serve_world.fake.workspace() / "shot.png"
    image.write_bytes(png())
    serve_world.fake.scenario(
        [{"requests": [{"output": [{"type": "message", "text": '{"count": 4}'}]}]}]
    )
    conn = await serve_world.connection()
    try:
        await initialized(conn)
        outcome = await conn.turn(
            params(
                serve_world,
                "t-1",
                images=[{"path": str(image)}, {"data": base64.b64encode(png()).decode()}],
                output_schema=SCHEMA,
                reasoning_effort="xhigh",
                codex_options={"model_verbosity": "low"},
            )
        )
    finally:
        assert await conn.close() == 0
    assert [e["type"] for e in outcome.events] == ["text_delta", "structured_output", "message_end"]
    assert outcome.events[1] == {"type": "structured_output", "value": {"count": 4}}
    record = serve_world.fake.invocations()[-1].extra["model_request"]
    url = "data:image/png;base64," + base64.b64encode(png()).decode()
    assert [p.get("image_url") for p in record["user"] if p["type"] == "input_image"] == [url] * 2
    assert record["text_format"]["schema"] == SCHEMA
    assert record["reasoning_effort"] == "xhigh"
    argv = serve_world.fake.invocations()[-1].argv
    assert 'model_verbosity="low"' in argv


async def test_a_well_typed_but_unusable_input_ends_the_turn_in_a_config_error(
    serve_world: ServeWorld,
) -> None:
    # not schema-observed: the effort below is outside the schema's enum on purpose
    conn = await PluginConnection.start(serve_world.argv())
    try:
        await initialized(conn)
        bad = [
            ({"images": [{"path": "/nonexistent/shot.png"}]}, "images[0]"),
            ({"images": [{"data": base64.b64encode(b"plain text").decode()}]}, "images[0]"),
            ({"output_schema": {"type": "strin"}}, "output_schema.type"),
            ({"reasoning_effort": "maximum"}, "reasoning_effort"),
            ({"codex_options": {"sandbox_mode": "read-only"}}, "codex_options"),
        ]
        for i, (over, field) in enumerate(bad):
            outcome = await conn.turn(params(serve_world, f"t-bad-{i}", **over))
            (event,) = outcome.events
            assert event["type"] == "error" and event["code"] == "config", over
            assert f"key '{field}" in event["message"], (over, event)
    finally:
        assert await conn.close() == 0
    assert serve_world.fake.invocations() == []
