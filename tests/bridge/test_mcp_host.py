"""`mcp-host` driven by the official `mcp` client SDK: offline (no tools) and relaying to a turn.

Every test starts the real `mcp-host` process; the warm server runs in this test's event loop on a
real unix socket, so the path codex takes (stdio → relay → socket → SDK server → host) is the same.
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import Any

import pytest
from mcp.shared.exceptions import MCPError

from plexum_openai_provider.bridge.mcp_server import ToolReply, ToolSpec, serve_tools
from plexum_openai_provider.bridge.peers import descends_from
from plexum_openai_provider.bridge.registration import turn_plugin_command
from plexum_openai_provider.bridge.socket_path import stable_socket_path
from tests.bridge.mcp_client import mcp_host_session

ECHO = ToolSpec(
    "echo",
    "Return `text` unchanged.",
    {"type": "object", "properties": {"text": {"type": "string"}}, "required": ["text"]},
)
BOOM = ToolSpec("boom", "Always fails on the host.")


class Host:
    """A test host: records calls; `echo` echoes, `boom` raises."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []

    async def __call__(self, name: str, arguments: dict[str, Any]) -> ToolReply | str:
        self.calls.append((name, arguments))
        if name == "boom":
            raise RuntimeError("the host tool exploded")
        return str(arguments["text"])


def text_of(result: Any) -> str:
    return "".join(getattr(block, "text", "") for block in result.content)


async def test_with_no_listener_mcp_host_serves_an_empty_tool_list(sock_dir: Path) -> None:
    missing = stable_socket_path("nobody-home", socket_dir=sock_dir)
    async with mcp_host_session(missing, "nobody-home") as session:
        init = await session.initialize()
        assert init.server_info.name == "plexum-host"
        assert init.capabilities.tools is not None
        assert (await session.list_tools()).tools == []
        await session.send_ping()
        with pytest.raises(MCPError, match="no Plexum turn is running for agent 'nobody-home'"):
            await session.call_tool("echo", {"text": "x"})


async def test_a_stale_socket_file_is_treated_like_no_listener(sock_dir: Path) -> None:
    import socket

    stale = sock_dir / "stale.sock"
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.bind(str(stale))  # bound, never listening: connect gets ECONNREFUSED
        async with mcp_host_session(stale, "a") as session:
            await session.initialize()
            assert (await session.list_tools()).tools == []


async def test_without_the_socket_variable_mcp_host_still_answers(sock_dir: Path) -> None:
    async with mcp_host_session(None, "") as session:
        await session.initialize()
        assert (await session.list_tools()).tools == []


async def test_the_relay_lists_the_turns_tools_and_echo_returns_its_text(sock_dir: Path) -> None:
    path = stable_socket_path("alice", socket_dir=sock_dir / "s")
    host = Host()
    async with serve_tools(path, [ECHO, BOOM], host, agent_id="alice") as server:
        async with mcp_host_session(path, "alice") as session:
            await session.initialize()
            tools = (await session.list_tools()).tools
            assert [(t.name, t.description, t.input_schema) for t in tools] == [
                (ECHO.name, ECHO.description, ECHO.input_schema),
                (BOOM.name, BOOM.description, BOOM.input_schema),
            ]
            result = await session.call_tool("echo", {"text": "ping 42"})
            assert not result.is_error and text_of(result) == "ping 42"
        assert server.accepted == 1
    assert host.calls == [("echo", {"text": "ping 42"})]
    assert not path.exists()


async def test_a_raising_host_tool_gives_is_error_and_the_session_goes_on(sock_dir: Path) -> None:
    path = stable_socket_path("alice", socket_dir=sock_dir / "s")
    async with (
        serve_tools(path, [ECHO, BOOM], Host(), agent_id="alice"),
        mcp_host_session(path, "alice") as session,
    ):
        await session.initialize()
        failed = await session.call_tool("boom", {})
        assert failed.is_error
        assert "RuntimeError: the host tool exploded" in text_of(failed)
        unknown = await session.call_tool("nope", {})
        assert unknown.is_error and "unknown tool 'nope'" in text_of(unknown)
        after = await session.call_tool("echo", {"text": "still here"})
        assert not after.is_error and text_of(after) == "still here"


async def test_structured_results_and_host_error_results_pass_through(sock_dir: Path) -> None:
    path = stable_socket_path("alice", socket_dir=sock_dir / "s")

    async def host(name: str, arguments: dict[str, Any]) -> ToolReply:
        if name == "echo":
            return ToolReply(({"type": "text", "text": "t"},), structured_content={"result": "t"})
        return ToolReply.text("refused by host", is_error=True)

    async with (
        serve_tools(path, [ECHO, BOOM], host, agent_id="alice"),
        mcp_host_session(path, "alice") as session,
    ):
        await session.initialize()
        ok = await session.call_tool("echo", {"text": "t"})
        assert ok.structured_content == {"result": "t"}
        bad = await session.call_tool("boom", {})
        assert bad.is_error and text_of(bad) == "refused by host"


async def test_calls_after_the_turn_ended_get_a_clear_error(sock_dir: Path) -> None:
    path = stable_socket_path("alice", socket_dir=sock_dir / "s")
    host = Host()
    async with (
        serve_tools(path, [ECHO], host, agent_id="alice") as server,
        mcp_host_session(path, "alice") as session,
    ):
        await session.initialize()
        server.end_turn()
        late = await session.call_tool("echo", {"text": "late"})
        assert late.is_error
        assert "the Plexum turn of agent 'alice' has ended" in text_of(late)
    assert host.calls == []


async def test_a_caller_refused_by_allow_peer_gets_an_error_naming_the_agent(
    sock_dir: Path,
) -> None:
    path = stable_socket_path("bob", socket_dir=sock_dir / "s")
    host = Host()
    async with serve_tools(path, [ECHO], host, agent_id="bob", allow_peer=lambda pid: False) as srv:
        async with mcp_host_session(path, "bob") as session:
            with pytest.raises(MCPError, match="serves only the running turn of agent 'bob'"):
                await session.initialize()
        assert srv.refused == 1 and srv.accepted == 0
    assert host.calls == []


async def test_two_agents_at_once_never_see_each_others_tools_or_calls(sock_dir: Path) -> None:
    """Global mode: A's codex also starts B's mcp-host; B's server must refuse it."""
    pidfile = {agent: sock_dir / f"{agent}.pid" for agent in ("a", "b", "a-on-b")}

    def codex_of(agent: str) -> Any:
        def allow(pid: int) -> bool:
            return descends_from(pid, int(pidfile[agent].read_text()))

        return allow

    hosts = {"a": Host(), "b": Host()}
    path_a = stable_socket_path("a", socket_dir=sock_dir / "s")
    path_b = stable_socket_path("b", socket_dir=sock_dir / "s")
    tool_a, tool_b = ToolSpec("only_a", "A's tool"), ToolSpec("only_b", "B's tool")

    async def own_turn(agent: str, path: Path, tool: str) -> list[str]:
        async with mcp_host_session(path, agent, launcher_pidfile=pidfile[agent]) as session:
            await session.initialize()
            names = [t.name for t in (await session.list_tools()).tools]
            await session.call_tool(tool, {"text": agent})
            return names

    async def a_probes_b() -> str:
        # A process of A's codex tree (not B's) starting B's mcp-host.
        launcher = pidfile["a-on-b"]
        async with mcp_host_session(path_b, "b", launcher_pidfile=launcher) as session:
            with pytest.raises(MCPError) as info:
                await session.initialize()
            return str(info.value)

    async def echo_a(name: str, args: dict[str, Any]) -> ToolReply | str:
        return await hosts["a"](name, args)

    async def echo_b(name: str, args: dict[str, Any]) -> ToolReply | str:
        return await hosts["b"](name, args)

    async with (
        serve_tools(path_a, [tool_a], echo_a, agent_id="a", allow_peer=codex_of("a")),
        serve_tools(path_b, [tool_b], echo_b, agent_id="b", allow_peer=codex_of("b")) as srv_b,
    ):
        seen_a, seen_b, refusal = await asyncio.gather(
            own_turn("a", path_a, "only_a"), own_turn("b", path_b, "only_b"), a_probes_b()
        )
    assert seen_a == ["only_a"] and seen_b == ["only_b"]
    assert hosts["a"].calls == [("only_a", {"text": "a"})]
    assert hosts["b"].calls == [("only_b", {"text": "b"})]
    assert "serves only the running turn of agent 'b'" in refusal
    assert srv_b.refused == 1


async def test_mcp_host_exits_when_the_server_closes_the_connection(sock_dir: Path) -> None:
    path = stable_socket_path("alice", socket_dir=sock_dir / "s")
    async with (
        serve_tools(path, [ECHO], Host(), agent_id="alice") as server,
        mcp_host_session(path, "alice") as session,
    ):
        await session.initialize()
        await server.close()  # the turn is over: every session is cut
        with pytest.raises(MCPError):
            await session.list_tools()


def test_mcp_host_runs_as_a_module_and_rejects_unknown_arguments() -> None:
    import subprocess
    import sys

    proc = subprocess.run(
        [sys.executable, "-m", "plexum_openai_provider.bridge.relay", "--bogus"],
        capture_output=True, timeout=30, env={**os.environ, "PLEXUM_MCP_SOCKET": ""},
    )  # fmt: skip
    assert proc.returncode == 2 and b"takes no arguments" in proc.stderr


@pytest.mark.parametrize(
    ("route", "ours_expected"),
    [
        (
            ["-m", "plexum_openai_provider.bridge.relay"],
            {"", ".version", ".bridge", ".codex", ".codex.mcp_entry"},
        ),
        (
            ["-m", "plexum_openai_provider.cli", "mcp-host"],
            {"", ".version", ".cli", ".bridge", ".bridge.relay", ".codex", ".codex.mcp_entry"},
        ),
        (
            turn_plugin_command()[1:],  # what codex runs for one turn's tools: no site, no runpy
            {"", ".version", ".bridge", ".bridge.relay", ".codex", ".codex.mcp_entry"},
        ),
    ],
    ids=["module", "console-command", "turn-command"],
)
def test_mcp_host_imports_only_the_standard_library_on_its_way_in(
    route: list[str], ours_expected: set[str]
) -> None:
    import subprocess
    import sys

    proc = subprocess.run(
        [sys.executable, "-X", "importtime", *route],
        input=b"", capture_output=True, timeout=30,
        env={**os.environ, "PLEXUM_MCP_SOCKET": "/nonexistent/x.sock"},
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    imported = {
        line.split("|")[-1].strip()
        for line in proc.stderr.decode().splitlines()
        if line.startswith("import time:") and "imported package" not in line
    }
    ours = {m for m in imported if m.split(".")[0] == "plexum_openai_provider"}
    # The module run with -m is `__main__`, not imported under its own name.
    assert ours == {"plexum_openai_provider" + suffix for suffix in ours_expected}
    site_hooks = {"sitecustomize", "usercustomize", "_distutils_hack"}
    foreign = {
        m for m in imported - ours - site_hooks if m.split(".")[0] not in sys.stdlib_module_names
    }
    assert foreign == set()
    # What codex waits for on every turn with tools: not the `socket` wrapper (it loads selectors
    # and enum, ~5 ms).
    assert {"socket", "selectors"} & imported == set()
    if "-S" in route:
        assert {"site", "runpy"} & imported == set()
