"""A cold `say`'s head start (`turn/exec/head_start.py`): codex started before the loop, adopted by
the turn only when it is the very codex the turn would start; otherwise stopped, never left."""

from __future__ import annotations

import asyncio
import fcntl
import os
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from plexum_openai_provider.cli.builtin_tools import BUILTIN_TOOLS, call_builtin
from plexum_openai_provider.codex.argv import BYPASS_FLAG
from plexum_openai_provider.events import ErrorEvent, MessageEnd, ToolResult
from plexum_openai_provider.owners import OWNER_ENV
from plexum_openai_provider.sandbox import Sandbox
from plexum_openai_provider.sessions import (
    LOCK_FILE,
    QUEUE_FILE,
    SessionStore,
    ThreadRecord,
    acquire_workspace_lock,
    try_workspace_lock,
)
from plexum_openai_provider.turn.exec.head_start import HeadStart, head_start
from plexum_openai_provider.turn.lifetime import Turn
from plexum_openai_provider.turn.request import TurnRequest

from .conftest import FAST_LIMITS, ProviderOnFake, group_alive, types
from .test_serve_lifetime import gone_within
from .test_thread_ownership_fake import HELD, foreign_turn
from .test_tools_fake import tool_turn
from .test_turn import PLAIN


def _request(workspace: Path, prompt: str = "hello") -> TurnRequest:
    return TurnRequest(prompt=prompt, workspace=workspace)


def lock_is_free(workspace: Path) -> bool:
    fd = try_workspace_lock(workspace)
    if fd is None:
        return False
    os.close(fd)
    return True


async def _run(provider: ProviderOnFake, request: TurnRequest, early: HeadStart) -> list[str]:
    try:
        async with Turn(provider.config, request, FAST_LIMITS, head_start=early) as turn:
            return types([event async for event in turn])
    finally:
        early.discard()


async def test_the_turn_adopts_the_codex_it_would_have_started(provider: ProviderOnFake) -> None:
    provider.scenario([PLAIN, PLAIN])
    workspace = provider.workspace()
    for prompt in ("first", "second"):  # a new thread, then its resume
        early = head_start(provider.config, _request(workspace, prompt))
        assert early is not None
        assert not lock_is_free(workspace)  # taken before codex started
        assert await _run(provider, _request(workspace, prompt), early) == [
            "text_delta", "message_end"
        ]  # fmt: skip
        assert early.process_taken and early.lock_taken
        assert early.popen.returncode is not None
        assert lock_is_free(workspace)
    invocations = provider.invocations()
    assert len(invocations) == 2  # one codex per turn: nothing was started twice
    assert "resume" in invocations[1].argv
    assert [inv.stdin for inv in invocations] == ["first", "second"]
    stored = SessionStore(workspace).get("default")
    assert stored is not None and stored.rollout_offset is not None


async def test_a_codex_the_turn_would_not_start_is_stopped_and_the_right_one_started(
    provider: ProviderOnFake,
) -> None:
    provider.scenario([PLAIN, PLAIN])
    workspace = provider.workspace()
    early = head_start(provider.config, _request(workspace))
    assert early is not None
    other = replace(provider.config, extra_args=("-c", "model_verbosity=low"))  # another argv
    try:
        async with Turn(other, _request(workspace), FAST_LIMITS, head_start=early) as turn:
            events = [event async for event in turn]
    finally:
        early.discard()
    assert isinstance(events[-1], MessageEnd)
    assert early.popen.returncode is not None and not group_alive(early.popen.pid)
    argvs = [inv.argv for inv in provider.invocations()]
    assert "model_verbosity=low" in argvs[-1]
    assert lock_is_free(workspace)


async def test_discarding_an_unused_head_start_stops_codex_and_releases_the_lock(
    provider: ProviderOnFake,
) -> None:
    provider.scenario([PLAIN])
    workspace = provider.workspace()
    early = head_start(provider.config, _request(workspace))
    assert early is not None
    early.discard()
    early.discard()  # twice is harmless
    assert early.popen.returncode is not None and not group_alive(early.popen.pid)
    assert lock_is_free(workspace)


async def test_with_tools_the_socket_is_bound_first_and_the_call_goes_through(
    provider: ProviderOnFake,
) -> None:
    provider.scenario([tool_turn("ada", "ping 7")], codex_version="0.135.0")
    config = replace(provider.config, socket_dir=str(provider.root / "sock"))
    workspace = provider.workspace()
    request = replace(
        _request(workspace), agent_id="ada", tools=BUILTIN_TOOLS, call_tool=call_builtin
    )
    early = head_start(config, request)
    assert early is not None and early.listener is not None
    socket_path = early.listener.path
    assert socket_path.exists()  # bound before codex started: mcp-host's connect waits for us
    try:
        async with Turn(config, request, FAST_LIMITS, head_start=early) as turn:
            events = [event async for event in turn]
    finally:
        early.discard()
    assert isinstance(events[-1], MessageEnd)
    results = [e for e in events if isinstance(e, ToolResult)]
    assert [r.block_id for r in results] == ["call_e1"] and "ping 7" in str(results[0].output)
    assert early.process_taken and len(provider.invocations()) == 1
    assert not socket_path.exists()  # the turn's server closed it


async def test_an_unused_head_start_with_tools_closes_its_socket(provider: ProviderOnFake) -> None:
    provider.scenario([PLAIN])
    config = replace(provider.config, socket_dir=str(provider.root / "sock"))
    request = replace(
        _request(provider.workspace()), agent_id="ada", tools=BUILTIN_TOOLS, call_tool=call_builtin
    )
    early = head_start(config, request)
    assert early is not None and early.listener is not None
    socket_path = early.listener.path
    early.discard()
    assert not socket_path.exists()
    assert early.popen.returncode is not None


@pytest.mark.parametrize("asked", [None, "read-only"])
async def test_a_sandboxed_agents_head_start_is_sandboxed_and_never_bypassed(
    provider: ProviderOnFake, asked: str | None
) -> None:
    # Issue 21: a sandboxed agent's codex is never started with the bypass flag, not even for the
    # moment before the turn compares it with the one it would start.
    provider.scenario([PLAIN])
    config = replace(provider.config, agents={"ada": Sandbox(mode="workspace-write")})
    workspace = provider.workspace()
    request = replace(_request(workspace), agent_id="ada", sandbox=asked)
    early = head_start(config, request)
    assert early is not None
    assert BYPASS_FLAG not in early.argv
    assert early.argv[early.argv.index("-s") + 1] == (asked or "workspace-write")
    async with Turn(config, request, FAST_LIMITS, head_start=early) as turn:
        events = [event async for event in turn]
    early.discard()
    assert isinstance(events[-1], MessageEnd) and early.process_taken  # the turn's own argv
    assert [inv.argv[1:] for inv in provider.invocations()] == [early.argv[1:]]
    wider = replace(request, sandbox="bypass")  # the turn refuses it: nothing is started
    assert head_start(config, wider) is None and len(provider.invocations()) == 1


@pytest.mark.parametrize(
    "case",
    ["tools registered globally", "app-server", "busy workspace", "model kept by the thread",
     "empty prompt"],
)  # fmt: skip
async def test_no_head_start_where_the_turn_must_decide_first(
    provider: ProviderOnFake, case: str
) -> None:
    workspace = provider.workspace()
    config, request = provider.config, _request(workspace)
    held = None
    if case == "tools registered globally":  # `codex mcp add` runs on the loop, before codex
        config = replace(config, mcp_registration="global", socket_dir=str(provider.root / "s"))
        request = replace(request, tools=BUILTIN_TOOLS, call_tool=call_builtin)
    elif case == "app-server":
        config = replace(config, backend="app-server")
    elif case == "busy workspace":
        held = try_workspace_lock(workspace)
    elif case == "model kept by the thread":
        SessionStore(workspace).put("default", ThreadRecord("019a0000-0000-7000-8000-00000000000a",
                                                            "gpt-old"))  # fmt: skip
    else:
        request = replace(request, prompt="  ")
    assert head_start(config, request) is None
    assert provider.invocations() == []
    if held is not None:
        os.close(held)
    assert lock_is_free(workspace)


async def test_a_session_model_config_does_not_allow_never_reaches_codex(
    provider: ProviderOnFake,
) -> None:
    # The session file is in the workspace, which the model can write (issue 19 #12): the head
    # start checks its model against config.json as the turn does, before anything is spawned.
    provider.scenario([PLAIN, PLAIN])
    workspace = provider.workspace()
    first = await provider.turn("one")
    assert isinstance(first[-1], MessageEnd), first[-1]
    store = SessionStore(workspace)
    record = store.get("default")
    assert record is not None
    store.put("default", replace(record, model_arg="gpt-planted"))
    config = replace(provider.config, supported_models=("codex", "gpt-ok"))
    assert not config.allows_model_arg("gpt-planted") and config.allows_model_arg("gpt-ok")
    assert head_start(config, _request(workspace)) is None
    assert len(provider.invocations()) == 1  # no codex, not even one stopped at once
    assert lock_is_free(workspace)
    # Through `say` as a user runs it: the turn warns, resumes the thread with the asked model.
    said = provider.cli("say", "--json", "--no-tools", "hi", config={"supported_models": ["codex"]})
    assert said.returncode == 0, said.stderr
    assert "gpt-planted" in said.stdout  # the warning names it
    invocation = provider.invocations()[-1]
    assert len(provider.invocations()) == 2
    assert "gpt-planted" not in invocation.argv and "--model" not in invocation.argv
    assert invocation.argv[-2:] == [record.thread_id, "-"]


async def test_no_head_start_past_a_waiting_consume_of_another_process(
    provider: ProviderOnFake,
) -> None:
    # A waiter at the head of the line holds the turnstile (`sessions.QUEUE_FILE`) until it has
    # the lock: a cold `say` arriving then must queue behind it, not take the free lock first.
    provider.scenario([PLAIN])
    workspace = provider.workspace()
    holder = await asyncio.create_subprocess_exec(
        sys.executable, "-c", TURNSTILE_HOLDER, str(workspace / QUEUE_FILE),
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
    )  # fmt: skip
    assert holder.stdin is not None and holder.stdout is not None
    try:
        async with asyncio.timeout(30):
            assert await holder.stdout.readline() == b"holding\n"
        assert _lock_file_is_free(workspace)  # the lock itself is free: only the line is not
        assert head_start(provider.config, _request(workspace)) is None
        assert provider.invocations() == []
    finally:
        holder.stdin.close()
        async with asyncio.timeout(30):
            await holder.wait()
    early = head_start(provider.config, _request(workspace))  # the line is empty again
    assert early is not None
    early.discard()


async def test_no_head_start_past_a_waiter_of_this_process(provider: ProviderOnFake) -> None:
    workspace = provider.workspace()
    running = try_workspace_lock(workspace)  # a turn of this process runs
    assert running is not None
    waiter = asyncio.ensure_future(acquire_workspace_lock(workspace))  # a consume waits for it
    async with asyncio.timeout(30):
        while _lock_file_is_free(workspace, queue=True):
            await asyncio.sleep(0.01)  # until the waiter holds the turnstile
    os.close(running)  # the turn ends; nothing awaits before the head start looks
    early = head_start(provider.config, _request(workspace))
    if early is not None:
        early.discard()
    assert early is None
    async with asyncio.timeout(30):
        os.close(await waiter)  # the consume got it
    assert provider.invocations() == []


@pytest.mark.parametrize("version", ["0.135.0", "0.150.1", "0.171.0"])
async def test_a_thread_another_codex_holds_ends_in_thread_busy(
    provider: ProviderOnFake, version: str
) -> None:
    # codex ≥ 0.150 takes a writer lock and refuses the thread (the head start may spawn it: the
    # adopted attempt reads codex's refusal); 0.135 takes none, so the head start checks the
    # rollout's writers first, as the turn does, and leaves the turn to say who holds it.
    provider.scenario(
        [said("one"), said("foreign answer", gate=HELD), said("after")],
        codex_version=version,
    )
    workspace = provider.workspace()
    first = await provider.turn("one")
    assert isinstance(first[-1], MessageEnd), first[-1]
    record = SessionStore(workspace).get("default")
    assert record is not None
    async with foreign_turn(provider, record.thread_id) as foreign:
        early = head_start(provider.config, _request(workspace, "meanwhile"))
        assert (early is None) == (version == "0.135.0")
        request = _request(workspace, "meanwhile")
        try:
            async with Turn(provider.config, request, FAST_LIMITS, head_start=early) as turn:
                events = [event async for event in turn]
        finally:
            if early is not None:
                early.discard()
        last = events[-1]
        assert isinstance(last, ErrorEvent) and last.code == "thread_busy", events
        assert f"pid {foreign.pid}" in last.message
        assert SessionStore(workspace).get("default") == record
        assert lock_is_free(workspace)


async def test_the_head_started_codex_is_marked_and_dies_with_its_starter(
    provider: ProviderOnFake, tmp_path: Path
) -> None:
    provider.scenario([said("slow", delay_ms=60_000)])
    workspace = provider.workspace()
    starter = await asyncio.create_subprocess_exec(
        sys.executable, "-c", STARTER, provider.config.binary, str(provider.config.codex_home),
        str(workspace), stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
        env=provider.fake.env,
    )  # fmt: skip
    assert starter.stdout is not None
    try:
        async with asyncio.timeout(30):
            pid_text, marker = (await starter.stdout.readline()).decode().split()
        codex = int(pid_text)
        assert _environ(codex).get(OWNER_ENV) == marker  # reaping and `serve`'s sweep find it
        assert marker.startswith(f"{starter.pid}:")
    finally:
        starter.kill()  # SIGKILL: no `finally` of the starter runs
        await starter.wait()
    assert gone_within(codex, 10), "the head-started codex outlived the say that started it"


def said(text: str, delay_ms: int = 0, gate: str | None = None) -> dict[str, Any]:
    reply: dict[str, Any] = {"output": [{"type": "message", "text": text}]}
    if delay_ms:
        reply["delay_ms"] = delay_ms
    if gate is not None:
        reply["gate"] = gate  # held until the test releases it (`foreign_turn`'s end at the latest)
    return {"requests": [reply]}


TURNSTILE_HOLDER = """
import fcntl, os, sys
fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT, 0o600)
fcntl.flock(fd, fcntl.LOCK_EX)
print("holding", flush=True)
sys.stdin.read()
"""

STARTER = """
import sys
from pathlib import Path
from plexum_openai_provider.config import HostConfig
from plexum_openai_provider.turn.exec.head_start import head_start
from plexum_openai_provider.turn.request import TurnRequest
config = HostConfig(binary=sys.argv[1], codex_home=sys.argv[2])
early = head_start(config, TurnRequest(prompt="hi", workspace=Path(sys.argv[3])))
assert early is not None
print(early.popen.pid, early.marker, flush=True)
sys.stdin.read()
"""


def _lock_file_is_free(workspace: Path, *, queue: bool = False) -> bool:
    """Whether the lock file (or, with `queue`, the turnstile) could be taken now — probed with a
    lock taken and dropped at once, not through `try_workspace_lock`."""
    fd = os.open(workspace / (QUEUE_FILE if queue else LOCK_FILE), os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    finally:
        os.close(fd)
    return True


def _environ(pid: int) -> dict[str, str]:
    with open(f"/proc/{pid}/environ", "rb") as f:
        entries = f.read().decode(errors="replace").split("\0")
    return dict(entry.partition("=")[::2] for entry in entries if "=" in entry)
