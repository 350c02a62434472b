"""What the provider sends app-server, validated against the JSON Schema each pinned codex binary
generates for its own protocol (`codex app-server generate-json-schema`), and the notifications
it reads present in each: the method subset of docs/app-server.md, checked, not remembered."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from conformance.app_server_drift import PROVIDER_NOTIFICATIONS
from conformance.app_server_schema import Schema
from conformance.installs import VERSIONS
from plexum_openai_provider.sandbox import Sandbox
from plexum_openai_provider.turn.app_server import params

pytestmark = pytest.mark.e2e
WRITE = Sandbox("workspace-write", True, ("/srv/shared",), approvals="daemon")
READ = Sandbox("read-only")
MCP = {"plexum-host-a": {"command": "/usr/bin/python3", "args": ["-m", "relay", "mcp-host"]}}


def excludes_turns(version: str) -> bool:
    """What the provider decides from the version codex reports (`pool.AppServer`)."""
    return (params.codex_version(f"x/{version} (y)") or (0, 0, 0)) >= params.EXCLUDE_TURNS_FROM


def requests(version: str) -> list[dict[str, Any]]:
    ws, thread = Path("/w"), "01a232b3-0000-7000-8000-000000000000"
    exclude = excludes_turns(version)
    sent = [
        ("initialize", params.initialize_params()),
        (
            "thread/start",
            params.thread_start_params(ws, "gpt-5.5", MCP, {"model_verbosity": "high"}),
        ),
        ("thread/start", params.thread_start_params(ws, None, {})),
        (
            "thread/resume",
            params.thread_resume_params(thread, ws, "gpt-5.5", MCP, exclude_turns=exclude),
        ),
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
        ("thread/start", params.thread_start_params(ws, None, {}, sandbox=WRITE)),
        ("thread/resume", params.thread_resume_params(thread, ws, None, {}, sandbox=READ)),
        ("turn/start", params.turn_start_params(thread, "hi", sandbox=WRITE)),
        ("turn/start", params.turn_start_params(thread, "hi", sandbox=READ)),
        ("turn/interrupt", params.turn_interrupt_params(thread, "turn-1")),
        ("turn/steer", params.turn_steer_params(thread, "turn-1", "and this")),
        ("thread/fork", params.thread_fork_params(thread, ws)),
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
    version: str, app_server_schemas: Callable[[str, str], Schema]
) -> None:
    out = app_server_schemas(version, "stable").root  # generated once per session
    schema = json.loads((out / "ClientRequest.json").read_text())
    validator = jsonschema.validators.validator_for(schema)(schema)
    for message in requests(version):
        errors = [e.message for e in validator.iter_errors(message)]
        assert errors == [], (message["method"], errors[:3])
    # ... and a request it does not know is refused by the same check (the check can fail).
    assert list(validator.iter_errors({"id": 1, "method": "thread/nonsense", "params": {}}))
    no_input = {"id": 1, "method": "turn/start", "params": {"threadId": "t"}}
    assert list(validator.iter_errors(no_input))
    # `excludeTurns` is sent exactly where the binary's stable schema has it.
    resume = json.loads((out / "v2" / "ThreadResumeParams.json").read_text())
    assert ("excludeTurns" in resume["properties"]) == excludes_turns(version)
    notifications = json.loads((out / "ServerNotification.json").read_text())
    assert set(PROVIDER_NOTIFICATIONS) <= methods(notifications)
    assert {"initialized"} <= methods(json.loads((out / "ClientNotification.json").read_text()))
