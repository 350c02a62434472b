"""What the provider sends app-server: exec's bypass as thread policy, the MCP config on every
start AND resume, the model only when one is chosen, a turn's images before its text."""

from __future__ import annotations

from pathlib import Path

from plexum_openai_provider.turn.app_server.params import (
    thread_resume_params,
    thread_start_params,
    turn_start_params,
)

MCP = {"plexum-host-a": {"command": "/usr/bin/python3", "args": ["-m", "relay", "mcp-host"]}}


def test_a_thread_starts_in_the_workspace_with_execs_bypass_and_the_turns_tools() -> None:
    params = thread_start_params(Path("/w"), "gpt-5.5", MCP)
    assert params == {
        "cwd": "/w",
        "approvalPolicy": "never",
        "sandbox": "danger-full-access",
        "model": "gpt-5.5",
        "config": {"mcp_servers": MCP},
    }


def test_a_resume_carries_the_same_overrides_since_codex_does_not_store_them() -> None:
    resume = thread_resume_params("t-1", Path("/w"), None, MCP)
    assert resume == {"threadId": "t-1", **thread_start_params(Path("/w"), None, MCP)}
    assert "model" not in resume  # the default model id passes none, as on exec


def test_no_tools_means_no_config_key() -> None:
    assert "config" not in thread_start_params(Path("/w"), None, {})


def test_a_turn_sends_images_first_then_the_text_and_its_own_effort_and_schema() -> None:
    schema = {"type": "object"}
    params = turn_start_params(
        "t-1", "--look", image_paths=(Path("/i/a.png"),), effort="high", output_schema=schema
    )
    assert params == {
        "threadId": "t-1",
        "input": [{"type": "localImage", "path": "/i/a.png"}, {"type": "text", "text": "--look"}],
        "effort": "high",
        "outputSchema": schema,
    }
    assert turn_start_params("t-1", "hi") == {
        "threadId": "t-1",
        "input": [{"type": "text", "text": "hi"}],
    }
