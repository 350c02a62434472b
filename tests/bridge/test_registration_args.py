"""The `-c` overrides that define or tune the agent's MCP server on one exec (pure)."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from plexum_openai_provider.codex.mcp_entry import (
    exec_overrides,
    per_turn_overrides,
    toml_string,
)

PLUGIN = ["/opt/venv/bin/python", "-m", "plexum_openai_provider.bridge.relay"]


def parse_override(arg: str) -> dict[str, object]:
    key, _, value = arg.partition("=")
    return tomllib.loads(f"v = {value}")["v"] | {"__key__": key}  # type: ignore[no-any-return]


@given(st.text())
def test_toml_strings_round_trip_through_a_toml_parser(text: str) -> None:
    assert tomllib.loads(f"v = {toml_string(text)}")["v"] == text


def test_per_turn_overrides_define_the_whole_server_entry() -> None:
    argv = per_turn_overrides(
        "plexum-host-a", Path("/tmp/plexum-0/x.sock"), 'a "quoted" id', PLUGIN
    )
    assert argv[0] == "-c" and len(argv) == 2
    table = parse_override(argv[1])
    assert table == {
        "__key__": "mcp_servers.plexum-host-a",
        "command": "/opt/venv/bin/python",
        "args": ["-m", "plexum_openai_provider.bridge.relay", "mcp-host"],
        "env": {
            "PLEXUM_MCP_SOCKET": "/tmp/plexum-0/x.sock",
            "PLEXUM_MCP_AGENT_ID": 'a "quoted" id',
        },
        "startup_timeout_sec": 10,
        "tool_timeout_sec": 600,
        "required": True,
        "default_tools_approval_mode": "approve",
    }


def test_exec_overrides_set_only_what_mcp_add_cannot_write() -> None:
    argv = exec_overrides("plexum-host-a")
    pairs = [argv[i + 1].partition("=") for i in range(0, len(argv), 2)]
    assert all(argv[i] == "-c" for i in range(0, len(argv), 2))
    assert {k: tomllib.loads(f"v = {v}")["v"] for k, _, v in pairs} == {
        "mcp_servers.plexum-host-a.startup_timeout_sec": 10,
        "mcp_servers.plexum-host-a.tool_timeout_sec": 600,
        "mcp_servers.plexum-host-a.required": True,
        "mcp_servers.plexum-host-a.default_tools_approval_mode": "approve",
    }


def test_a_relative_plugin_command_is_refused() -> None:
    with pytest.raises(ValueError, match="absolute path"):
        per_turn_overrides("n", Path("/tmp/x.sock"), "a", ["plexum-openai-provider"])
