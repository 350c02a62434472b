"""The agent's sandbox: config keys (default and per agent), a turn narrowing it (never widening),
and what each backend is told (exec's flags before `resume`; app-server's policies)."""

from __future__ import annotations

from pathlib import Path

import pytest

from plexum_openai_provider.codex.argv import BASE_FLAGS, BYPASS_FLAG, build_exec_argv
from plexum_openai_provider.config import parse_config
from plexum_openai_provider.errors import ConfigError, SandboxWidened
from plexum_openai_provider.events import ErrorEvent
from plexum_openai_provider.sandbox import Sandbox
from plexum_openai_provider.turn import TurnRequest, run_turn


def test_the_default_is_todays_bypass_and_its_argv_is_unchanged() -> None:
    config = parse_config({}, "/c/config.json")
    assert config.sandbox_for("ada") == Sandbox("bypass")
    argv = build_exec_argv("codex", resume_thread_id=None, model_arg=None)
    assert argv == ["codex", "exec", *BASE_FLAGS, "--", "-"]
    assert Sandbox().exec_args() == [BYPASS_FLAG]


def test_an_agent_entry_overrides_the_default_keys_it_names() -> None:
    raw = {
        "sandbox": "workspace-write",
        "writable_roots": ["/srv/shared"],
        "agents": {"ro": {"sandbox": "read-only"}, "net": {"network_access": True}},
    }
    config = parse_config(raw, "/c/config.json")
    assert config.sandbox_for("someone") == Sandbox("workspace-write", False, ("/srv/shared",))
    assert config.sandbox_for("ro").mode == "read-only"
    assert config.sandbox_for("net") == Sandbox("workspace-write", True, ("/srv/shared",))


@pytest.mark.parametrize(
    ("raw", "key"),
    [
        ({"sandbox": "full"}, "sandbox"),
        ({"network_access": "yes"}, "network_access"),
        ({"writable_roots": ["rel/dir"]}, "writable_roots"),
        ({"approvals": "always"}, "approvals"),
        ({"approvals": "daemon"}, "approvals"),  # bypass never asks: refused, not ignored
        ({"agents": {"ada": {"model": "x"}}}, "agents.ada.model"),
        ({"agents": {"ada": {"sandbox": "bypass", "approvals": "daemon"}}}, "agents.ada.approvals"),
        ({"agents": []}, "agents"),
    ],
)
def test_a_bad_sandbox_key_is_one_error_naming_it(raw: dict[str, object], key: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config(raw, "/c/config.json")
    assert caught.value.key == key


def test_a_turn_may_narrow_its_agents_sandbox_and_never_widen_it() -> None:
    agent = Sandbox("workspace-write", True, ("/x",), "daemon")
    assert agent.narrowed(None) is agent
    assert agent.narrowed("read-only").mode == "read-only"
    with pytest.raises(SandboxWidened):
        agent.narrowed("bypass")
    with pytest.raises(SandboxWidened):
        Sandbox("read-only").narrowed("workspace-write")
    with pytest.raises(SandboxWidened, match="unknown sandbox mode"):
        agent.narrowed("danger-full-access")


def test_exec_gets_the_mode_and_its_settings_before_resume() -> None:
    sandbox = Sandbox("workspace-write", False, ("/srv/ä b",))
    argv = build_exec_argv(
        "codex",
        resume_thread_id="t-1",
        model_arg=None,
        sandbox_args=sandbox.exec_args(),
        turn_args=["--image", "/i.png"],
    )
    assert BYPASS_FLAG not in argv
    head = argv[: argv.index("resume")]
    assert head[3:5] == ["-s", "workspace-write"]
    assert "sandbox_workspace_write.network_access=false" in head
    assert "sandbox_workspace_write.exclude_slash_tmp=true" in head
    assert 'sandbox_workspace_write.writable_roots=["/srv/ä b"]' in head
    assert Sandbox("read-only").exec_args() == ["-s", "read-only"]


async def test_a_turn_that_widens_ends_with_a_config_error_before_codex_runs(
    tmp_path: Path,
) -> None:
    config = parse_config({"sandbox": "read-only", "binary": "/nonexistent/codex"}, "/c/c.json")
    request = TurnRequest(prompt="hi", workspace=tmp_path, sandbox="workspace-write")
    events = await run_turn(config, request)
    assert len(events) == 1 and isinstance(events[0], ErrorEvent)
    assert events[0].code == "config" and "only narrow" in events[0].message
