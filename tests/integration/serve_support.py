"""`serve` under test: a config for the fake codex, and a schema check on every message crossing
the pipe (both directions) that the fixtures install in every connection, so no test can skip it."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator

from plexum_openai_provider.plugin.client import Direction, PluginConnection, serve_argv
from plexum_openai_provider.plugin.host import DEMO_TOOLS, HostTool, ReferenceHost

from .conftest import FakeCodex

ROOT = Path(__file__).parents[2]
SCHEMA = json.loads((ROOT / "docs" / "protocol.schema.json").read_text())
RESPONSE_DEFS = {
    "initialize": "initializeResponse",
    "turn": "turnResponse",
    "cancel": "cancelResponse",
    "consume": "consumeResponse",
    "shutdown": "shutdownResponse",
    "tools/call": "toolsCallResponse",
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


@dataclass
class ServeWorld:
    """One test's `serve` setup on the fake codex."""

    fake: FakeCodex
    check: SchemaCheck
    config_path: Path

    def write_config(self, **extra: Any) -> Path:
        body = {
            "binary": self.fake.config.binary,
            "codex_home": self.fake.config.codex_home,
            "socket_dir": str(self.fake.root / "sock"),
            "idle_timeout_s": 30,
            "turn_timeout_s": 60,
            **extra,
        }
        self.config_path.write_text(json.dumps(body))
        return self.config_path

    def argv(self, *extra: str) -> list[str]:
        return serve_argv(self.config_path, *extra)

    async def connection(self, *extra: str, on_tools_call: Any = None) -> PluginConnection:
        return await PluginConnection.start(
            self.argv(*extra), on_tools_call=on_tools_call, observe=self.check
        )

    def host(self, tools: tuple[HostTool, ...] = DEMO_TOOLS, data: str = "host-data") -> Any:
        return ReferenceHost.start(
            self.fake.root / data, config_path=self.config_path, tools=tools, observe=self.check
        )


async def initialized(conn: PluginConnection) -> dict[str, Any]:
    result: dict[str, Any] = await conn.request(
        "initialize", {"protocol_version": "1", "host": {"name": "tests", "version": "0"}}
    )
    return result


async def aiter_events(conn: PluginConnection, turn_id: str) -> AsyncIterator[dict[str, Any]]:
    queue = conn.subscribe(turn_id)
    while True:
        note = await queue.get()
        yield note["event"]
