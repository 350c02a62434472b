"""`serve` under test on the fake codex: its config, and connections whose every message crossing
the pipe (both directions) goes through the schema check (tests/protocol_schema.py)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from plexum_openai_provider.daemon.client import PluginConnection, serve_argv
from plexum_openai_provider.daemon.host import DEMO_TOOLS, HostTool, ReferenceHost

from ..protocol_schema import SchemaCheck
from .conftest import ProviderOnFake


@dataclass
class ServeWorld:
    """One test's `serve` setup on the fake codex."""

    fake: ProviderOnFake
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

    def host(
        self, tools: tuple[HostTool, ...] = DEMO_TOOLS, data: str = "host-data", **extra: Any
    ) -> Any:
        return ReferenceHost.start(
            self.fake.root / data,
            config_path=self.config_path,
            tools=tools,
            observe=self.check,
            **extra,
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
