"""The `app-server` backend on the REAL codex and the fake Responses server: text streams as
several deltas, the warm process serves the next turn, a tool call is mirrored with codex's call id,
consume works while the warm process has the thread, cancel interrupts, shutdown leaves nothing."""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from conformance.installs import VERSIONS as INSTALLED_VERSIONS
from conformance.installs import CodexNotInstalledError, binary
from fake_codex.responses.server import ResponsesServer
from fake_codex.testing.real_env import codex_env, provider_args
from plexum_openai_provider.bridge.names import namespace, server_name
from plexum_openai_provider.bridge.spec import ToolReply
from plexum_openai_provider.cli.builtin_tools import BUILTIN_TOOLS
from plexum_openai_provider.config import HostConfig
from plexum_openai_provider.consume import consume_blocks
from plexum_openai_provider.events import ErrorEvent, MessageEnd, TextDelta, ToolCall, ToolResult
from plexum_openai_provider.turn import TurnLimits, TurnRequest, close_backends, open_turn, run_turn
from plexum_openai_provider.turn.app_server import pool as appserver

pytestmark = pytest.mark.e2e
LIMITS = TurnLimits(kill_grace_s=1.0, post_exit_drain_s=0.5)
VERSIONS = INSTALLED_VERSIONS  # every pinned version


def require_codex(version: str) -> Path:
    """The installed native codex; a missing install FAILS the test (never skips)."""
    try:
        return binary(version)
    except CodexNotInstalledError as exc:
        pytest.fail(str(exc), pytrace=False)


AGENT = "agent-e2e"


@pytest.fixture(params=VERSIONS)
def version(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
async def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Path]:
    path = tmp_path / "codex-home"
    path.mkdir()
    for key in list(os.environ):
        if key not in ("PATH", "LANG", "TZ", "TMPDIR"):
            monkeypatch.delenv(key)
    for key, value in codex_env(path).items():
        monkeypatch.setenv(key, value)
    yield path
    await close_backends()


def config_for(version: str, home: Path, server: ResponsesServer, tmp: Path) -> HostConfig:
    return HostConfig(
        binary=str(require_codex(version)),
        codex_home=str(home),
        idle_timeout_s=30,
        turn_timeout_s=60,
        extra_args=tuple(provider_args(server.base_url, version)),
        supported_models=("codex", "gpt"),
        model_args={"gpt": "gpt-5.5"},
        socket_dir=str(tmp / "sock"),
        backend="app-server",
    )


def streamed(text: str, pieces: int = 5, tokens: int = 12) -> dict[str, Any]:
    size = -(-len(text) // pieces)
    deltas = [text[i : i + size] for i in range(0, len(text), size)]
    return {
        "output": [{"type": "message", "text": text, "deltas": deltas}],
        "usage": {"input_tokens": tokens, "output_tokens": 3},
    }


async def test_text_streams_as_deltas_and_the_warm_process_serves_the_next_turn(
    version: str, home: Path, tmp_path: Path
) -> None:
    replies = [streamed("the first answer, streamed"), streamed("the second one", tokens=20)]
    async with ResponsesServer(replies) as server:
        config = config_for(version, home, server, tmp_path)
        first = await run_turn(config, TurnRequest(prompt="--help", workspace=tmp_path), LIMITS)
        pid = appserver.find(config).pid  # type: ignore[union-attr]
        second = await run_turn(config, TurnRequest(prompt="-m x", workspace=tmp_path), LIMITS)
        assert appserver.find(config).pid == pid  # type: ignore[union-attr]
    deltas = [e.text for e in first if isinstance(e, TextDelta)]
    assert len(deltas) == 5 and "".join(deltas) == "the first answer, streamed"
    assert first.index(TextDelta(deltas[-1])) < len(first) - 1
    assert "".join(e.text for e in second if isinstance(e, TextDelta)) == "the second one"
    end1, end2 = first[-1], second[-1]
    assert isinstance(end1, MessageEnd) and isinstance(end2, MessageEnd)
    assert end1.thread_id == end2.thread_id
    assert (end1.usage.input_tokens, end2.usage.input_tokens) == (12, 20)
    assert end2.thread_usage.input_tokens == 32


async def host(name: str, arguments: dict[str, Any]) -> ToolReply:
    return ToolReply.text(f"host says: {arguments.get('text')}")


async def test_tool_call_is_mirrored_with_codexs_call_id_and_consume_works_while_loaded(
    version: str, home: Path, tmp_path: Path
) -> None:
    ns = namespace(server_name(AGENT))
    call = {
        "type": "function_call",
        "namespace": ns,
        "name": "echo",
        "arguments": {"text": "HEAVY_PAYLOAD_42"},
        "call_id": "call_echo1",
    }
    replies = [{"output": [call]}, streamed("done"), streamed("resumed")]
    request = TurnRequest(
        prompt="use echo",
        workspace=tmp_path,
        model="gpt",
        agent_id=AGENT,
        tools=BUILTIN_TOOLS,
        call_tool=host,
    )
    async with ResponsesServer(replies) as server:
        config = config_for(version, home, server, tmp_path)
        first = await run_turn(config, request, LIMITS)
        assert isinstance(first[-1], MessageEnd), first[-1]
        warm = appserver.find(config)
        assert warm is not None and first[-1].thread_id in warm.loaded
        mirrored = [e for e in first if isinstance(e, ToolCall | ToolResult)]
        assert [(type(e).__name__, e.block_id) for e in mirrored] == [
            ("ToolCall", "call_echo1"),
            ("ToolResult", "call_echo1"),
        ]
        assert "host says: HEAVY_PAYLOAD_42" in json.dumps(mirrored[1].output)  # type: ignore[union-attr]
        result = await consume_blocks(config, tmp_path, "default", ["call_echo1"])
        assert result.consumed == {"call_echo1"}
        assert first[-1].thread_id not in warm.loaded
        second = await run_turn(
            config, TurnRequest(prompt="again", workspace=tmp_path, model="gpt"), LIMITS
        )
        assert isinstance(second[-1], MessageEnd), second[-1]
        assert second[-1].thread_id == first[-1].thread_id
        assert appserver.find(config) is warm
        last_body = json.dumps(server.model_requests[-1].body)
    assert "HEAVY_PAYLOAD_42" not in last_body
    assert "...(tool called)" in last_body


async def test_cancel_interrupts_the_turn_and_the_next_turn_works(
    home: Path, tmp_path: Path
) -> None:
    version = "0.169.0"
    held = {"output": [{"type": "message", "text": "held"}], "gate": "model"}
    async with ResponsesServer([held, streamed("after")]) as server:
        config = config_for(version, home, server, tmp_path)
        request = TurnRequest(prompt="hi", workspace=tmp_path)
        gate = server.gate("model")
        async with open_turn(config, request, LIMITS) as turn:
            events = asyncio.create_task(_collect(turn))
            await gate.reached(timeout=20)  # codex is streaming the reply, the model holds
            pid = appserver.find(config).pid  # type: ignore[union-attr]
            turn.cancel()
            result = await asyncio.wait_for(events, 20)
        gate.release()
        assert result[-1] == ErrorEvent("cancelled", "the turn was cancelled")
        after = await run_turn(config, request, LIMITS)
    assert isinstance(after[-1], MessageEnd), after[-1]
    assert appserver.find(config).pid == pid  # type: ignore[union-attr]  # interrupted, not killed


async def test_shutdown_leaves_no_app_server_process(home: Path, tmp_path: Path) -> None:
    async with ResponsesServer([streamed("hello")]) as server:
        config = config_for("0.169.0", home, server, tmp_path)
        await run_turn(config, TurnRequest(prompt="hi", workspace=tmp_path), LIMITS)
        warm = appserver.find(config)
        assert warm is not None
        pid = warm.pid
        await close_backends()
    assert warm.proc.returncode is not None
    assert group_members(pid) == [], group_members(pid)


def group_members(pgid: int) -> list[tuple[int, str]]:
    """Live (not zombie) processes of a process group, from /proc."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        state, group = fields[0], int(fields[2])
        if group == pgid and state != "Z":
            found.append((int(entry.name), state))
    return found


async def _collect(turn: Any) -> list[Any]:
    return [event async for event in turn]


def app_server_processes(home: Path) -> set[int]:
    """Live `codex app-server` processes running on this test's CODEX_HOME."""
    found = set()
    wanted = b"CODEX_HOME=" + str(home).encode()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            argv = (entry / "cmdline").read_bytes().split(b"\0")
            state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
            environ = (entry / "environ").read_bytes().split(b"\0")
        except OSError:
            continue
        if state != "Z" and argv[1:2] == [b"app-server"] and wanted in environ:
            found.add(int(entry.name))
    return found


@pytest.mark.parametrize("version", ["0.135.0", "0.169.0"])
async def test_through_serve_text_streams_tools_mirror_and_consume_reaches_the_next_request(
    version: str, home: Path, tmp_path: Path
) -> None:
    from plexum_openai_provider.daemon.host import ReferenceHost

    ns = namespace(server_name(AGENT))
    report = "\n".join(f"report row {i:04d}" for i in range(1, 81))
    replies = [
        streamed("hello from the warm codex, in pieces"),
        {
            "output": [
                {
                    "type": "function_call",
                    "namespace": ns,
                    "name": "echo",
                    "arguments": {"text": report},
                    "call_id": "call_report",
                }
            ]
        },
        streamed("I read the report"),
        streamed("the report is gone from my context"),
    ]
    workspace = tmp_path / "ws"
    workspace.mkdir()
    async with ResponsesServer(replies) as server:
        config = tmp_path / "config.json"
        config.write_text(
            json.dumps(
                {
                    "binary": str(require_codex(version)),
                    "codex_home": str(home),
                    "extra_args": provider_args(server.base_url, version),
                    "supported_models": ["gpt"],
                    "model_args": {"gpt": "gpt-5.5"},
                    "socket_dir": str(tmp_path / "sock"),
                    "idle_timeout_s": 30,
                    "turn_timeout_s": 90,
                    "backend": "app-server",
                }
            )
        )
        async with ReferenceHost.start(tmp_path / "host-data", config_path=config) as host:
            first = await host.turn(AGENT, workspace, "s1", "say hello", model="gpt")
            assert first.terminal["type"] == "message_end", first.events
            deltas = [e["text"] for e in first.events if e["type"] == "text_delta"]
            assert len(deltas) == 5 and "".join(deltas) == "hello from the warm codex, in pieces"
            assert first.events[-1]["type"] == "message_end"
            assert len(app_server_processes(home)) == 1
            second = await host.turn(AGENT, workspace, "s1", "read the report", model="gpt")
            assert second.terminal["type"] == "message_end", second.events
            assert second.terminal["thread_id"] == first.terminal["thread_id"]
            blocks = {b["id"]: b for b in host.blocks(AGENT, "s1") if b["kind"] == "tool"}
            assert set(blocks) == {"call_report"}
            assert "report row 0080" in json.dumps(blocks["call_report"]["output"])
            # The warm process still has the thread loaded: consume unloads it first.
            result = await host.consume(AGENT, workspace, "s1", lambda b: True)
            assert result == {"consumed": ["call_report"], "unknown": []}
            third = await host.turn(AGENT, workspace, "s1", "what do you remember?", model="gpt")
            assert third.terminal["type"] == "message_end", third.events
            assert third.terminal["thread_id"] == first.terminal["thread_id"]
        bodies = [json.dumps(r.body) for r in server.model_requests]
    assert len(bodies) == 4
    assert "report row 0080" in bodies[2]
    assert "report row 0080" not in bodies[3] and "report row 0001" not in bodies[3]
    assert "...(tool called)" in bodies[3]
    deadline = asyncio.get_running_loop().time() + 5
    while app_server_processes(home) and asyncio.get_running_loop().time() < deadline:
        await asyncio.sleep(0.05)
    assert app_server_processes(home) == set()  # serve ended its warm app-server


async def test_a_warm_turn_sends_its_image_schema_effort_and_options_and_only_effort_sticks(
    version: str, home: Path, tmp_path: Path
) -> None:
    from plexum_openai_provider.events import StructuredOutput

    from .test_provider_turn_inputs import SCHEMA, image_urls, last_user_parts, png

    ws = tmp_path / "ws"
    ws.mkdir()
    (ws / "shot.png").write_bytes(png())
    replies = [streamed("plain"), streamed('{"shape": "square", "count": 4}'), streamed("again")]
    async with ResponsesServer(replies) as server:
        config = config_for(version, home, server, tmp_path)
        first = await run_turn(config, TurnRequest(prompt="hi", workspace=ws), LIMITS)
        second = await run_turn(
            config,
            TurnRequest(
                prompt="count them",
                workspace=ws,
                images=(ws / "shot.png", png()),
                output_schema=SCHEMA,
                reasoning_effort="high",
                codex_options={"model_verbosity": "high"},
            ),
            LIMITS,
        )
        third = await run_turn(config, TurnRequest(prompt="and now?", workspace=ws), LIMITS)
    assert isinstance(first[-1], MessageEnd) and isinstance(third[-1], MessageEnd)
    assert second[-2] == StructuredOutput({"shape": "square", "count": 4}), second
    end = second[-1]
    assert isinstance(end, MessageEnd) and end.thread_id == first[-1].thread_id
    plain, inputs, after = (r.body for r in server.model_requests)
    assert len(image_urls(inputs)) == 2
    assert last_user_parts(inputs)[-1] == {"type": "input_text", "text": "count them"}
    assert inputs["text"]["format"]["schema"] == SCHEMA
    assert inputs["text"]["verbosity"] == "high"
    assert inputs["reasoning"]["effort"] == "high"
    for body in (plain, after):  # per turn: the turns around it carry none of it ...
        assert "format" not in body["text"] and body["text"].get("verbosity") != "high"
    assert image_urls(after) == []
    # ... but the effort: app-server keeps a turn's effort for the thread's later turns, and a
    # resume restores it from the rollout (docs/app-server.md). Pinned here so a change shows.
    assert plain["reasoning"]["effort"] != "high" and after["reasoning"]["effort"] == "high"
