"""What the provider sends app-server, validated against the JSON Schema each pinned codex binary
generates for its own protocol (`codex app-server generate-json-schema`), and the notifications
it reads present in each: the method subset of docs/app-server.md, checked, not remembered."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from conformance.installs import VERSIONS, CodexNotInstalledError, binary
from fake_codex.testing.real_env import codex_env
from plexum_openai_provider.turn.app_server import params

pytestmark = pytest.mark.e2e
READ_NOTIFICATIONS = (
    "turn/started",
    "turn/completed",
    "item/started",
    "item/completed",
    "item/agentMessage/delta",
    "thread/tokenUsage/updated",
    "error",
    "warning",
)
MCP = {"plexum-host-a": {"command": "/usr/bin/python3", "args": ["-m", "relay", "mcp-host"]}}


def generated(version: str, tmp: Path) -> Path:
    try:
        codex = binary(version)
    except CodexNotInstalledError as exc:
        pytest.fail(str(exc), pytrace=False)
    out, home = tmp / "schema", tmp / "home"
    home.mkdir()
    subprocess.run(
        [str(codex), "app-server", "generate-json-schema", "--out", str(out)],
        env=codex_env(home),
        capture_output=True,
        check=True,
        timeout=120,
    )
    return out


def requests() -> list[dict[str, Any]]:
    ws, thread = Path("/w"), "01a232b3-0000-7000-8000-000000000000"
    sent = [
        ("initialize", params.initialize_params()),
        (
            "thread/start",
            params.thread_start_params(ws, "gpt-5.5", MCP, {"model_verbosity": "high"}),
        ),
        ("thread/start", params.thread_start_params(ws, None, {})),
        ("thread/resume", params.thread_resume_params(thread, ws, "gpt-5.5", MCP)),
        (
            "turn/start",
            params.turn_start_params(
                thread,
                "hi",
                image_paths=(Path("/i/a.png"),),
                effort="high",
                output_schema={"type": "object"},
            ),
        ),
        ("turn/start", params.turn_start_params(thread, "hi")),
        ("turn/interrupt", params.turn_interrupt_params(thread, "turn-1")),
        ("thread/archive", params.thread_params(thread)),
        ("thread/unarchive", params.thread_params(thread)),
    ]
    return [{"id": n, "method": m, "params": p} for n, (m, p) in enumerate(sent)]


def methods(schema: dict[str, Any]) -> set[str]:
    found: set[str] = set()
    for variant in schema.get("oneOf", []):
        found.update(variant.get("properties", {}).get("method", {}).get("enum", []))
    return found


@pytest.mark.parametrize("version", VERSIONS)
def test_every_request_the_provider_sends_is_valid_for_the_binarys_own_schema(
    version: str, tmp_path: Path
) -> None:
    out = generated(version, tmp_path)
    schema = json.loads((out / "ClientRequest.json").read_text())
    validator = jsonschema.validators.validator_for(schema)(schema)
    for message in requests():
        errors = [e.message for e in validator.iter_errors(message)]
        assert errors == [], (message["method"], errors[:3])
    # ... and a request it does not know is refused by the same check (the check can fail).
    assert list(validator.iter_errors({"id": 1, "method": "thread/nonsense", "params": {}}))
    no_input = {"id": 1, "method": "turn/start", "params": {"threadId": "t"}}
    assert list(validator.iter_errors(no_input))
    notifications = json.loads((out / "ServerNotification.json").read_text())
    assert set(READ_NOTIFICATIONS) <= methods(notifications)
    assert {"initialized"} <= methods(json.loads((out / "ClientNotification.json").read_text()))
