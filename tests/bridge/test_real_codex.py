"""Against the REAL codex 0.169.0 (offline, fake Responses server, throwaway CODEX_HOME).

Registration goes through codex's own `mcp get/add` only; a real `codex exec` turn calls a
Plexum tool through `mcp-host` → socket → warm server → host callback, in both registration
modes. A codex that cannot be installed fails the test (the plugin's `real_codex_installs`), it
never skips.
"""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
from syrupy.assertion import SnapshotAssertion
from syrupy.extensions.json import JSONSnapshotExtension

from conformance.codex_run import CodexRun
from fake_codex.responses.server import ResponsesServer
from fake_codex.testing.plugin import RealCodexInstalls
from fake_codex.testing.real_env import codex_env, exec_argv
from plexum_openai_provider.bridge.mcp_server import ToolSpec, serve_tools
from plexum_openai_provider.bridge.names import namespace, server_name
from plexum_openai_provider.bridge.peers import descends_from
from plexum_openai_provider.bridge.registration import (
    current_entry,
    default_plugin_command,
    ensure_registered,
)
from plexum_openai_provider.bridge.socket_path import stable_socket_path
from plexum_openai_provider.codex.mcp_entry import exec_overrides, per_turn_overrides

pytestmark = pytest.mark.e2e
VERSION = "0.169.0"
PLUGIN = default_plugin_command()
ECHO = ToolSpec(
    "echo",
    "Return `text` unchanged.",
    {"type": "object", "properties": {"text": {"type": "string"}}, "required": ["text"]},
)


@pytest.fixture
def codex_bin(real_codex_installs: RealCodexInstalls) -> Path:
    """The native codex, installed once by the plugin (fails the test when it cannot be)."""
    return real_codex_installs.binary(VERSION)


@pytest.fixture
def home(codex_home: Path) -> Path:
    """The plugin's throwaway CODEX_HOME, empty: registration writes its config.toml here."""
    return codex_home


def masked_config(home: Path, sock_dir: Path) -> str:
    text = (home / "config.toml").read_text()
    return text.replace(str(sock_dir), "<sockets>").replace(PLUGIN[0], "<python>")


async def test_registration_adds_then_is_a_no_op_then_repairs_a_stale_entry(
    codex_bin: Path, home: Path, sock_dir: Path, snapshot: SnapshotAssertion
) -> None:
    env = codex_env(home)
    path = stable_socket_path("agent-1", socket_dir=sock_dir)
    first = await ensure_registered(codex_bin, "agent-1", path, PLUGIN, env=env)
    assert first.action == "added" and first.name == server_name("agent-1")
    config = (home / "config.toml").read_bytes()
    assert masked_config(home, sock_dir) == snapshot.use_extension(JSONSnapshotExtension)

    second = await ensure_registered(codex_bin, "agent-1", path, PLUGIN, env=env)
    assert second.action == "unchanged"
    assert (home / "config.toml").read_bytes() == config

    moved = stable_socket_path("agent-1", socket_dir=sock_dir / "moved")
    third = await ensure_registered(codex_bin, "agent-1", moved, PLUGIN, env=env)
    assert third.action == "replaced"
    entry, exists = await current_entry(str(codex_bin), first.name, env)
    assert exists and entry == third.entry
    assert entry.env["PLEXUM_MCP_SOCKET"] == str(moved)


async def test_registration_keeps_other_servers_and_uses_codex_home(
    codex_bin: Path, tmp_path: Path, home: Path, sock_dir: Path
) -> None:
    (home / "config.toml").write_text('# mine\nmodel = "x"\n')
    env = codex_env(tmp_path / "elsewhere")  # codex_home wins over the env's CODEX_HOME
    path = stable_socket_path("b", socket_dir=sock_dir)
    await ensure_registered(codex_bin, "b", path, PLUGIN, env=env, codex_home=home)
    text = (home / "config.toml").read_text()
    assert text.startswith('# mine\nmodel = "x"\n')
    assert "[mcp_servers.plexum-host-b]" in text


def echo_turn(name: str, text: str) -> list[dict[str, Any]]:
    call = {"type": "function_call", "namespace": namespace(name), "name": "echo",
            "arguments": {"text": text}, "call_id": "call_1"}  # fmt: skip
    return [{"output": [call]}, {"output": [{"type": "message", "text": "done"}]}]


class CodexTree:
    """allow_peer for one agent's turn: the caller must descend from that turn's codex process."""

    def __init__(self) -> None:
        self.pid: int | None = None

    def __call__(self, pid: int) -> bool:
        return self.pid is not None and descends_from(pid, self.pid)


async def run_turn(
    codex_bin: Path, home: Path, work: Path, base_url: str, extra: Sequence[str], tree: CodexTree
) -> CodexRun:
    """One exec, stdin fed and closed; `tree` learns codex's pid before MCP servers start."""
    proc = await asyncio.create_subprocess_exec(
        *exec_argv(codex_bin, base_url, VERSION, extra=extra),
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE, env=codex_env(home), cwd=work, start_new_session=True,
    )  # fmt: skip
    tree.pid = proc.pid
    try:
        async with asyncio.timeout(60):
            out, err = await proc.communicate(b"call the echo tool")
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    events = [json.loads(line) for line in out.decode().splitlines() if line.strip()]
    return CodexRun(proc.returncode or 0, events, err.decode(errors="replace"))


def mcp_items(run: CodexRun) -> list[dict[str, Any]]:
    return [
        e["item"] for e in run.of_type("item.completed") if e["item"]["type"] == "mcp_tool_call"
    ]


@pytest.mark.parametrize("mode", ["per-turn", "global"])
async def test_a_real_codex_turn_calls_the_host_tool_through_mcp_host(
    mode: str, codex_bin: Path, home: Path, tmp_path: Path, sock_dir: Path
) -> None:
    agent, name = "agent-1", server_name("agent-1")
    path = stable_socket_path(agent, socket_dir=sock_dir / "s")
    if mode == "global":
        await ensure_registered(codex_bin, agent, path, PLUGIN, env=codex_env(home))
        extra = exec_overrides(name)
    else:
        extra = per_turn_overrides(name, path, agent, PLUGIN)
    calls: list[tuple[str, dict[str, Any]]] = []

    async def host(tool: str, arguments: dict[str, Any]) -> str:
        calls.append((tool, arguments))
        return f"echo: {arguments['text']}"

    work = tmp_path / "work"
    work.mkdir()
    tree = CodexTree()
    async with (
        ResponsesServer(echo_turn(name, "ping 42")) as srv,
        serve_tools(path, [ECHO], host, agent_id=agent, allow_peer=tree) as server,
    ):
        run = await run_turn(codex_bin, home, work, srv.base_url, extra, tree)
    assert run.returncode == 0, run.stderr
    assert calls == [("echo", {"text": "ping 42"})]
    [item] = mcp_items(run)
    assert item["server"] == name and item["status"] == "completed"
    assert item["result"]["content"] == [{"type": "text", "text": "echo: ping 42"}]
    # `required = true` made codex wait for mcp-host: the namespace is in the FIRST request.
    assert namespace(name) in json.dumps(srv.model_requests[0].body)
    assert server.accepted == 1 and server.refused == 0
    if mode == "per-turn":
        assert not (home / "config.toml").exists()  # nothing written to the user's config


async def test_in_global_mode_another_agents_codex_is_refused_by_a_running_turn(
    codex_bin: Path, home: Path, tmp_path: Path, sock_dir: Path
) -> None:
    """B's turn is listening; A's exec starts B's mcp-host too, and B's server refuses it."""
    env = codex_env(home)
    path_a = stable_socket_path("a", socket_dir=sock_dir / "s")
    path_b = stable_socket_path("b", socket_dir=sock_dir / "s")
    await ensure_registered(codex_bin, "a", path_a, PLUGIN, env=env)
    await ensure_registered(codex_bin, "b", path_b, PLUGIN, env=env)
    calls: dict[str, list[str]] = {"a": [], "b": []}

    def host_of(agent: str) -> Any:
        async def host(tool: str, arguments: dict[str, Any]) -> str:
            calls[agent].append(tool)
            return "ok"

        return host

    work = tmp_path / "work"
    work.mkdir()
    name_a = server_name("a")
    tree_a = CodexTree()
    # B's turn has its own "codex": a separate process whose tree A's codex is not part of.
    b_codex = await asyncio.create_subprocess_exec(
        sys.executable, "-c", "import sys; sys.stdin.read()", stdin=asyncio.subprocess.PIPE
    )
    tree_b = CodexTree()
    tree_b.pid = b_codex.pid
    try:
        async with (
            ResponsesServer(echo_turn(name_a, "hi")) as srv,
            serve_tools(path_a, [ECHO], host_of("a"), agent_id="a", allow_peer=tree_a),
            serve_tools(path_b, [ECHO], host_of("b"), agent_id="b", allow_peer=tree_b) as srv_b,
        ):
            run = await run_turn(
                codex_bin, home, work, srv.base_url, exec_overrides(name_a), tree_a
            )
    finally:
        await b_codex.communicate(b"")
    assert run.returncode == 0, run.stderr
    assert calls == {"a": ["echo"], "b": []}
    assert srv_b.refused == 1 and srv_b.accepted == 0
    # B's namespace never reached A's model.
    assert all(namespace(server_name("b")) not in json.dumps(r.body) for r in srv.model_requests)


@pytest.mark.parametrize("required", [True, False])
async def test_required_makes_codex_wait_for_a_slow_mcp_host_before_the_first_request(
    required: bool, codex_bin: Path, home: Path, tmp_path: Path, sock_dir: Path
) -> None:
    """codex gives optional servers ~1 s; `required = true` waits (up to startup_timeout_sec)."""
    slow = tmp_path / "slow-mcp-host"
    slow.write_text(
        f'#!/bin/sh\nsleep 2\nexec {PLUGIN[0]} -m plexum_openai_provider.bridge.relay "$@"\n'
    )
    slow.chmod(0o755)
    agent, name = "slow", server_name("slow")
    path = stable_socket_path(agent, socket_dir=sock_dir / "s")
    extra = per_turn_overrides(name, path, agent, [str(slow)])
    if not required:
        extra += ["-c", f"mcp_servers.{name}.required=false"]
    calls: list[str] = []

    async def host(tool: str, arguments: dict[str, Any]) -> str:
        calls.append(tool)
        return "ok"

    work = tmp_path / "work"
    work.mkdir()
    tree = CodexTree()
    async with (
        ResponsesServer(echo_turn(name, "x")) as srv,
        serve_tools(path, [ECHO], host, agent_id=agent, allow_peer=tree),
    ):
        run = await run_turn(codex_bin, home, work, srv.base_url, extra, tree)
    assert run.returncode == 0, run.stderr
    in_first_request = namespace(name) in json.dumps(srv.model_requests[0].body)
    assert in_first_request is required
    assert calls == (["echo"] if required else [])
