"""Every message crossing the `serve` pipe in the tests is checked here against
docs/protocol.schema.json: by direction, and responses by the method they answer."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator

from plexum_openai_provider.daemon.client import Direction

ROOT = Path(__file__).parents[1]
SCHEMA = json.loads((ROOT / "docs" / "protocol.schema.json").read_text())
RESPONSE_DEFS = {
    "initialize": "initializeResponse",
    "turn": "turnResponse",
    "cancel": "cancelResponse",
    "consume": "consumeResponse",
    "shutdown": "shutdownResponse",
    "steer": "steerResponse",
    "fork": "forkResponse",
    "tools/call": "toolsCallResponse",
    "approval/request": "approvalResponse",
}


def validator(definition: str) -> Draft202012Validator:
    return Draft202012Validator(SCHEMA).evolve(schema={"$ref": f"#/$defs/{definition}"})


TO_PLUGIN = validator("toPlugin")
TO_DAEMON = validator("toDaemon")
BY_DEF = {name: validator(name) for name in set(RESPONSE_DEFS.values())}


def schema_problems(
    direction: Direction, message: Mapping[str, Any], method: str | None
) -> list[str]:
    """Why `message` breaks the schema (empty when it is valid)."""
    checks = [TO_PLUGIN if direction == "to_plugin" else TO_DAEMON]
    is_response = "method" not in message and "result" in message
    if is_response and method in RESPONSE_DEFS:
        checks.append(BY_DEF[RESPONSE_DEFS[method]])
    return [
        f"{direction} {json.dumps(message)[:300]}: {error.message[:300]}"
        for check in checks
        for error in check.iter_errors(message)
    ]


@dataclass
class SchemaCheck:
    """The observer of a connection: validates each message, keeps the failures for teardown."""

    messages: list[tuple[Direction, dict[str, Any]]] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)

    def __call__(
        self, direction: Direction, message: Mapping[str, Any], method: str | None
    ) -> None:
        self.messages.append((direction, dict(message)))
        self.failures.extend(schema_problems(direction, message, method))

    def count(self, direction: Direction) -> int:
        return sum(1 for d, _ in self.messages if d == direction)
