"""What the provider sends app-server: exec's bypass as thread policy, the MCP config on every
start AND resume, the model only when one is chosen, a turn's images before its text."""

from __future__ import annotations

from pathlib import Path

from plexum_openai_provider.sandbox import Sandbox
from plexum_openai_provider.turn.app_server.params import (
    EXCLUDE_TURNS_FROM,
    codex_version,
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
        "approvalPolicy": "never",
        "sandboxPolicy": {"type": "dangerFullAccess"},
    }
    assert turn_start_params("t-1", "hi") == {
        "threadId": "t-1",
        "input": [{"type": "text", "text": "hi"}],
        "approvalPolicy": "never",
        "sandboxPolicy": {"type": "dangerFullAccess"},
    }


def test_a_resume_asks_codex_to_leave_the_history_out_only_where_the_version_takes_it() -> None:
    assert thread_resume_params("t-1", Path("/w"), None, {}, exclude_turns=True)["excludeTurns"]
    assert "excludeTurns" not in thread_resume_params("t-1", Path("/w"), None, {})
    takes = {
        agent: (codex_version(agent) or (0, 0, 0)) >= EXCLUDE_TURNS_FROM
        for agent in (
            "plexum-openai-provider/0.135.0 (Debian 12.0.0; x86_64) xterm (p; 1)",
            "plexum-openai-provider/0.150.1 (Debian 12.0.0; x86_64) xterm (p; 1)",
            "plexum-openai-provider/0.169.0 (Debian 12.0.0; x86_64) xterm (p; 1)",
            "x/0.171.0 (fake-codex)",
            "no version here",
        )
    }
    assert list(takes.values()) == [False, False, True, True, False]


def test_a_sandboxed_turn_carries_its_policy_on_the_thread_and_on_every_turn() -> None:
    sandbox = Sandbox("workspace-write", writable_roots=("/shared",), approvals="daemon")
    start = thread_start_params(Path("/w"), None, {}, sandbox=sandbox)
    assert (start["sandbox"], start["approvalPolicy"]) == ("workspace-write", "on-request")
    assert turn_start_params("t-1", "hi", sandbox=sandbox)["sandboxPolicy"] == {
        "type": "workspaceWrite",
        "writableRoots": ["/shared"],
        "networkAccess": False,
        "excludeSlashTmp": True,
        "excludeTmpdirEnvVar": True,
    }
    read_only = turn_start_params("t-1", "hi", sandbox=Sandbox("read-only"))
    assert read_only["sandboxPolicy"] == {"type": "readOnly", "networkAccess": False}
    assert read_only["approvalPolicy"] == "never"
