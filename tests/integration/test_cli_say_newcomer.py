"""`say` as a new user meets it: errors a machine can read with `--json`, tool calls a person can
see, agents kept apart per workspace, and a config variable that must name a real file."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from plexum_openai_provider.bridge.names import namespace, server_name
from plexum_openai_provider.cli.say import default_agent_id
from plexum_openai_provider.config import CONFIG_ENV
from plexum_openai_provider.events import ErrorEvent

from .conftest import ProviderOnFake


def echo_call(agent: str, text: str, call_id: str) -> dict[str, Any]:
    return {
        "type": "function_call",
        "namespace": namespace(server_name(agent)),
        "name": "echo",
        "arguments": {"text": text},
        "call_id": call_id,
    }


def json_lines(stdout: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stdout.splitlines()]


# -- errors with --json ---------------------------------------------------------------------------


def test_a_config_error_is_a_json_error_event_with_json(provider: ProviderOnFake) -> None:
    result = provider.cli("say", "--json", "x", config={"turn_timeout": 5})
    assert result.returncode == 2
    (event,) = json_lines(result.stdout)
    assert event["type"] == "error" and event["code"] == "config"
    assert "'turn_timeout'" in event["message"] and "unknown key" in event["message"]
    assert event == ErrorEvent("config", event["message"]).to_json()
    assert "unknown key" in result.stderr  # people still read it on stderr


def test_an_unsupported_model_is_a_json_error_event_with_json(provider: ProviderOnFake) -> None:
    result = provider.cli("say", "--json", "--model", "o3", "x")
    assert result.returncode == 2
    (event,) = json_lines(result.stdout)
    assert (event["type"], event["code"]) == ("error", "config")
    assert "supported models: codex" in event["message"]


def test_a_missing_workspace_is_a_json_error_event_with_json(
    provider: ProviderOnFake, tmp_path: Path
) -> None:
    result = provider.cli("say", "--json", "x", workspace=tmp_path / "nope")
    assert result.returncode == 2
    (event,) = json_lines(result.stdout)
    assert (event["type"], event["code"]) == ("error", "config")
    assert "not a directory" in event["message"]


def test_an_unreadable_output_schema_is_a_json_error_event_with_json(
    provider: ProviderOnFake,
) -> None:
    result = provider.cli("say", "--json", "--output-schema", "nope.json", "x")
    assert result.returncode == 2
    (event,) = json_lines(result.stdout)
    assert (event["type"], event["code"]) == ("error", "config")
    assert event["message"].startswith("--output-schema: cannot read")


def test_without_json_a_config_error_stays_off_stdout(provider: ProviderOnFake) -> None:
    result = provider.cli("say", "x", config={"turn_timeout": 5})
    assert result.returncode == 2 and result.stdout == ""


# -- tool calls for people ------------------------------------------------------------------------


def test_human_mode_shows_tool_calls_and_results_with_their_block_ids(
    provider: ProviderOnFake,
) -> None:
    workspace = provider.workspace()
    agent = default_agent_id(workspace)
    turn = {
        "requests": [
            {"output": [echo_call(agent, "ping 42", "call_e1")]},
            {"output": [{"type": "message", "text": "done"}]},
        ]
    }
    provider.scenario([turn], codex_version="0.135.0")
    config = {"socket_dir": str(provider.root / "sock")}
    result = provider.cli("say", "call echo", config=config, workspace=workspace)
    assert result.returncode == 0, result.stderr
    lines = result.stderr.splitlines()
    call = next(line for line in lines if line.startswith("[tool call]"))
    output = next(line for line in lines if line.startswith("[tool result]"))
    assert "echo" in call and "call_e1" in call and "ping 42" in call
    assert "call_e1" in output and "ping 42" in output
    assert result.stdout.strip() == "done"


# -- one agent per workspace ----------------------------------------------------------------------


def test_two_says_with_tools_in_different_workspaces_run_at_once(provider: ProviderOnFake) -> None:
    """Each turn runs a shell command that waits (bounded) until the other's has started, so both
    hold their tool sockets at the same time; then each calls echo through its own socket."""
    rendezvous = provider.root / "meet"
    rendezvous.mkdir()
    config_path = provider.root / "config.json"
    config = {
        "binary": provider.config.binary,
        "codex_home": provider.config.codex_home,
        "socket_dir": str(provider.root / "sock"),
    }
    config_path.write_text(json.dumps(config))
    procs = []
    for me, other in (("a", "b"), ("b", "a")):
        workspace = provider.workspace(f"ws-{me}")
        wait = (
            f"touch {rendezvous}/{me}; i=0; "
            f"while [ ! -f {rendezvous}/{other} ] && [ $i -lt 400 ]; do sleep 0.05; i=$((i+1)); "
            f"done; test -f {rendezvous}/{other}"
        )
        shell = {
            "type": "function_call",
            "name": "exec_command",
            "arguments": {"cmd": wait},
            "call_id": f"call_wait_{me}",
        }
        turn = {
            "requests": [
                {"output": [shell]},
                {"output": [echo_call(default_agent_id(workspace), f"from {me}", f"call_{me}")]},
                {"output": [{"type": "message", "text": f"done {me}"}]},
            ]
        }
        scenario = provider.root / f"scenario-{me}.json"
        scenario.write_text(json.dumps({"schema_version": 1, "turns": [turn]}))
        env = {**os.environ, "FAKE_CODEX_SCENARIO": str(scenario)}
        argv = [sys.executable, "-m", "plexum_openai_provider", "say", "--json"]
        argv += ["--config", str(config_path), "--workspace", str(workspace), "go"]
        procs.append(
            subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        )
    for me, proc in zip("ab", procs, strict=True):
        out, err = proc.communicate(timeout=90)
        assert proc.returncode == 0, err.decode()
        events = json_lines(out.decode())
        results = {e["block_id"]: e for e in events if e["type"] == "tool_result"}
        wait_output = json.dumps(results[f"call_wait_{me}"]["output"])
        assert "exited with code 0" in wait_output  # the other turn was running meanwhile
        assert "from " + me in json.dumps(results[f"call_{me}"]["output"])


def test_the_default_agent_id_is_stable_per_workspace_and_differs_between_them(
    tmp_path: Path,
) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    first = default_agent_id(tmp_path / "a")
    assert first == default_agent_id(tmp_path / "a" / ".." / "a")
    assert first != default_agent_id(tmp_path / "b")
    assert first.startswith("cli-")


def test_an_explicit_agent_still_wins(provider: ProviderOnFake) -> None:
    turn = {
        "requests": [
            {"output": [echo_call("mine", "x", "call_m")]},
            {"output": [{"type": "message", "text": "ok"}]},
        ]
    }
    provider.scenario([turn], codex_version="0.135.0")
    config = {"socket_dir": str(provider.root / "sock")}
    result = provider.cli("say", "--json", "--agent", "mine", "go", config=config)
    assert result.returncode == 0, result.stderr
    results = [e for e in json_lines(result.stdout) if e["type"] == "tool_result"]
    assert results and results[0]["is_error"] is False


# -- the config variable ---------------------------------------------------------------------------


def test_a_config_variable_naming_a_missing_file_is_an_error(
    provider: ProviderOnFake, tmp_path: Path
) -> None:
    missing = tmp_path / "nowhere" / "config.json"
    env = {**os.environ, CONFIG_ENV: str(missing)}
    argv = [sys.executable, "-m", "plexum_openai_provider", "say", "--json", "x"]
    argv += ["--workspace", str(provider.workspace())]
    result = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    (event,) = json_lines(result.stdout)
    assert event["code"] == "config"
    assert str(missing) in event["message"] and CONFIG_ENV in event["message"]
    assert provider.invocations() == []  # codex was never started
