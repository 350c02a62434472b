"""The tool-less MCP answers of `mcp-host` when no turn listens (pure function, no process)."""

from __future__ import annotations

from typing import Any

from plexum_openai_provider.bridge.relay import answer_offline


def ask(message: Any) -> Any:
    return answer_offline(message, "agent-7", "9.9")


def test_initialize_echoes_a_supported_protocol_version_and_names_plexum_host() -> None:
    reply = ask({"jsonrpc": "2.0", "id": 1, "method": "initialize",
                 "params": {"protocolVersion": "2025-06-18", "capabilities": {}}})  # fmt: skip
    result = reply["result"]
    assert result["protocolVersion"] == "2025-06-18"
    assert result["serverInfo"] == {"name": "plexum-host", "version": "9.9"}
    assert result["capabilities"] == {"tools": {}}


def test_initialize_with_an_unknown_version_offers_the_newest_supported_one() -> None:
    reply = ask({"jsonrpc": "2.0", "id": 1, "method": "initialize",
                 "params": {"protocolVersion": "2099-01-01"}})  # fmt: skip
    assert reply["result"]["protocolVersion"] == "2025-11-25"


def test_tools_list_is_empty_and_ping_answers() -> None:
    assert ask({"jsonrpc": "2.0", "id": "a", "method": "tools/list"})["result"] == {"tools": []}
    assert ask({"jsonrpc": "2.0", "id": 2, "method": "ping"})["result"] == {}


def test_tools_call_is_an_error_naming_the_agent() -> None:
    reply = ask({"jsonrpc": "2.0", "id": 3, "method": "tools/call", "params": {"name": "echo"}})
    assert "no Plexum turn is running for agent 'agent-7'" in reply["error"]["message"]


def test_notifications_and_stray_responses_get_no_reply() -> None:
    assert ask({"jsonrpc": "2.0", "method": "notifications/initialized"}) is None
    assert ask({"jsonrpc": "2.0", "id": 9, "result": {}}) is None


def test_unknown_methods_and_non_jsonrpc_messages_are_errors() -> None:
    assert ask({"jsonrpc": "2.0", "id": 4, "method": "resources/list"})["error"]["code"] == -32601
    assert ask([1, 2])["error"]["code"] == -32600
