"""A cold `say`'s head start (`turn/exec/head_start.py`): codex started before the loop, adopted by
the turn only when it is the very codex the turn would start; otherwise stopped, never left."""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path

import pytest

from plexum_openai_provider.cli.builtin_tools import BUILTIN_TOOLS, call_builtin
from plexum_openai_provider.events import MessageEnd, ToolResult
from plexum_openai_provider.sessions import SessionStore, ThreadRecord, try_workspace_lock
from plexum_openai_provider.turn.exec.head_start import HeadStart, head_start
from plexum_openai_provider.turn.lifetime import Turn
from plexum_openai_provider.turn.request import TurnRequest

from .conftest import FAST_LIMITS, ProviderOnFake, group_alive, types
from .test_tools_fake import tool_turn
from .test_turn import PLAIN


def _request(workspace: Path, prompt: str = "hello") -> TurnRequest:
    return TurnRequest(prompt=prompt, workspace=workspace)


def _lock_is_free(workspace: Path) -> bool:
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
        assert not _lock_is_free(workspace)  # taken before codex started
        assert await _run(provider, _request(workspace, prompt), early) == [
            "text_delta", "message_end"
        ]  # fmt: skip
        assert early.process_taken and early.lock_taken
        assert early.popen.returncode is not None
        assert _lock_is_free(workspace)
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
    assert _lock_is_free(workspace)


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
    assert _lock_is_free(workspace)


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
    assert _lock_is_free(workspace)
