"""The turn's invariant, as a property: whatever fails, wherever, a turn ends with exactly one
terminal event (last), codex's process group reaped, the workspace lock released, no task of its
own left running and no file the project owns half-written. Same for consume.

Faults are injected at the seams between the turn's steps by wrapping one function with a
wrapper that raises (an error, or a CancelledError as a host's `task.cancel()` would) on its
n-th call; the turn runs on the fake codex.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import json
import os
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import plexum_openai_provider.bridge.mcp_server as bridge_server
import plexum_openai_provider.consume as consume_mod
import plexum_openai_provider.sessions as sessions_mod
import plexum_openai_provider.turn.backend as backend_mod
import plexum_openai_provider.turn.exec.exec_attempt as attempt_mod
import plexum_openai_provider.turn.exec.stdout_loop as stream_mod
import plexum_openai_provider.turn.lifetime as turn_mod
from plexum_openai_provider import (
    CanonicalEvent,
    ToolSpec,
    TurnRequest,
    consume_blocks,
    is_terminal,
    run_turn,
)

from .conftest import FAST_LIMITS, ProviderOnFake, group_alive

LOCK = ".plexum-codex-session.lock"
SESSION = ".plexum-codex-session"
ECHO = ToolSpec("echo", "echo back", {"type": "object", "properties": {"text": {"type": "string"}}})
SHELL = {
    "type": "function_call",
    "name": "exec_command",
    "arguments": {"cmd": "echo PAYLOAD"},
    "call_id": "call_inv",
}
TOOL_TURN = {
    "requests": [
        {"output": [{"type": "reasoning", "summary": ["r"]}, SHELL]},
        {"output": [{"type": "message", "text": "one"}, {"type": "message", "text": "two"}]},
    ]
}


async def echo_tool(name: str, arguments: dict[str, Any]) -> Any:
    return arguments.get("text", "")


class Injected(Exception):
    """The fault a seam raises."""


@dataclass
class Seam:
    """One function of the turn, replaced by a wrapper that fails on its n-th call."""

    owner: Any
    name: str
    is_async: bool
    calls: int = 0
    fired: bool = False

    def wrap(self, fail_on: int, error: BaseException) -> Callable[..., Any]:
        real = getattr(self.owner, self.name)

        def should_fail() -> bool:
            self.calls += 1
            if self.calls == fail_on and not self.fired:
                self.fired = True
                return True
            return False

        if self.is_async:

            async def async_wrapper(*args: Any, **kwargs: Any) -> Any:
                if should_fail():
                    raise error
                return await real(*args, **kwargs)

            return async_wrapper

        if self.name == "offer_tools" or self.name == "serve_tools":
            # Async context managers: fail when the block is entered.
            @contextlib.asynccontextmanager
            async def cm_wrapper(*args: Any, **kwargs: Any) -> Any:
                if should_fail():
                    raise error
                async with real(*args, **kwargs) as value:
                    yield value

            return cm_wrapper

        def wrapper(*args: Any, **kwargs: Any) -> Any:
            if should_fail():
                raise error
            return real(*args, **kwargs)

        return wrapper


# seam name → (module or class, attribute, async?)
TURN_SEAMS: dict[str, tuple[Any, str, bool]] = {
    "lock": (turn_mod, "acquire_workspace_lock", True),
    "session_read": (sessions_mod.SessionStore, "get", False),
    "session_write": (sessions_mod.SessionStore, "put", False),
    "tool_offering": (bridge_server, "serve_tools", False),
    "spawn": (attempt_mod, "spawn", True),
    "prompt_write": (attempt_mod, "write_and_close", True),
    "stdout_line": (stream_mod, "parse_exec_line", False),
    "mirror": (backend_mod, "mirror_turn", False),
    "teardown": (attempt_mod, "terminate_group", True),
}

ERRORS: dict[str, Callable[[], BaseException]] = {
    "bug": lambda: Injected("injected bug"),
    "os_error": lambda: OSError(5, "injected I/O error"),
    "cancel": asyncio.CancelledError,
}


@dataclass
class Spy:
    """Records every codex this test's turns started (their pids are their group ids)."""

    pids: list[int] = field(default_factory=list)


@contextlib.contextmanager
def spy_on_spawn(monkeypatch: pytest.MonkeyPatch) -> Iterator[Spy]:
    spy = Spy()
    real = getattr(attempt_mod, "spawn")  # noqa: B009 (not re-exported)

    async def spawn(*args: Any, **kwargs: Any) -> Any:
        proc = await real(*args, **kwargs)
        spy.pids.append(proc.pid)
        return proc

    monkeypatch.setattr(attempt_mod, "spawn", spawn)
    yield spy


def assert_lock_free(ws: Path) -> None:
    fd = os.open(ws / LOCK, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # raises if anyone still holds it
    finally:
        os.close(fd)


def assert_no_half_written_files(ws: Path) -> None:
    leftovers = [p.name for p in ws.iterdir() if p.name.endswith(".tmp")]
    assert leftovers == [], leftovers
    if (ws / SESSION).exists():
        json.loads((ws / SESSION).read_text())  # whole, valid JSON


def assert_one_terminal_event_last(events: list[CanonicalEvent]) -> None:
    terminal = [i for i, e in enumerate(events) if is_terminal(e)]
    assert terminal == [len(events) - 1], [e.type for e in events]


async def no_tasks_left() -> None:
    for _ in range(3):  # let cancelled helpers finish their last step
        await asyncio.sleep(0)
    others = asyncio.all_tasks() - {asyncio.current_task()}
    assert not others, others


@pytest.mark.timeout(600)  # a loaded machine slows every fake turn down
@pytest.mark.parametrize("seam", sorted(TURN_SEAMS))
@settings(max_examples=4, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    error=st.sampled_from(sorted(ERRORS)),
    fail_on=st.integers(1, 3),
    tools=st.booleans(),
    resume=st.booleans(),
)
def test_a_turn_holds_its_invariant_whatever_fails_at_any_seam(
    provider: ProviderOnFake,
    monkeypatch: pytest.MonkeyPatch,
    seam: str,
    error: str,
    fail_on: int,
    tools: bool,
    resume: bool,
) -> None:
    provider.scenario([TOOL_TURN, TOOL_TURN])
    ws_path = provider.workspace(f"ws-{seam}-{error}-{fail_on}-{tools}-{resume}")
    shutil.rmtree(ws_path)
    ws_path.mkdir()
    config = provider.with_config(socket_dir=str(provider.root / "sock"))
    request = TurnRequest(
        prompt="hi",
        workspace=ws_path,
        tools=(ECHO,) if tools else (),
        call_tool=echo_tool if tools else None,
    )

    async def scenario() -> None:
        with monkeypatch.context() as patch, spy_on_spawn(patch) as spy:
            if resume:
                await run_turn(config, request, FAST_LIMITS)  # a thread to resume
            owner, name, is_async = TURN_SEAMS[seam]
            target = Seam(owner, name, is_async)
            patch.setattr(owner, name, target.wrap(fail_on, ERRORS[error]()))
            try:
                events = await run_turn(config, request, FAST_LIMITS)
            except asyncio.CancelledError:
                assert error == "cancel" and target.fired
            else:
                assert_one_terminal_event_last(events)
                # A fault before the outcome is known must show; the mirror, the session write
                # and the final sweep may fail after it and cost at most a warning.
                before_outcome = seam not in ("mirror", "session_write", "teardown")
                if target.fired and error != "cancel" and before_outcome:
                    assert events[-1].type == "error", events[-1]
        await no_tasks_left()
        for pid in spy.pids:
            assert not group_alive(pid), f"codex group {pid} left running"
        assert_lock_free(ws_path)
        assert_no_half_written_files(ws_path)

    asyncio.run(scenario())


@pytest.mark.timeout(600)
@settings(max_examples=12, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(after_s=st.floats(0.0, 1.5), tools=st.booleans())
def test_cancelling_a_turns_task_at_any_moment_leaves_nothing_behind(
    provider: ProviderOnFake, monkeypatch: pytest.MonkeyPatch, after_s: float, tools: bool
) -> None:
    turn = {**TOOL_TURN, "faults": {"line_delay_ms": 100}}
    provider.scenario([turn])
    ws_path = provider.workspace(f"cancel-{after_s:.3f}-{tools}")
    config = provider.with_config(socket_dir=str(provider.root / "sock"))
    request = TurnRequest(
        prompt="hi",
        workspace=ws_path,
        tools=(ECHO,) if tools else (),
        call_tool=echo_tool if tools else None,
    )

    async def scenario() -> None:
        with monkeypatch.context() as patch, spy_on_spawn(patch) as spy:
            task = asyncio.create_task(run_turn(config, request, FAST_LIMITS))
            await asyncio.wait({task}, timeout=after_s)
            task.cancel()
            try:
                events = await task
            except asyncio.CancelledError:
                pass
            else:  # it ended before the cancel arrived
                assert_one_terminal_event_last(events)
        await no_tasks_left()
        for pid in spy.pids:
            assert not group_alive(pid), f"codex group {pid} left running"
        assert_lock_free(ws_path)
        assert_no_half_written_files(ws_path)

    asyncio.run(scenario())


CONSUME_SEAMS: dict[str, tuple[Any, str, bool]] = {
    "lock": (consume_mod, "acquire_workspace_lock", True),
    "session_read": (sessions_mod.SessionStore, "get", False),
    "locate": (consume_mod, "locate_rollout", False),
    "rewrite": (consume_mod, "consume_rollout", False),
    "fsync": (os, "fsync", False),
    "rename": (os, "replace", False),
    "session_write": (sessions_mod.SessionStore, "put", False),
}


@dataclass(frozen=True)
class Consumable:
    """A workspace whose thread has one tool call, and its rollout before and after consume."""

    workspace: Path
    record: dict[str, Any]
    rollout: Path
    old: bytes
    new: bytes

    def restore(self) -> None:
        self.rollout.write_bytes(self.old)
        body = {"version": 1, "threads": {"default": self.record}}
        (self.workspace / SESSION).write_text(json.dumps(body))


async def consumable(fake: ProviderOnFake) -> Consumable:
    """One real turn per test (not per example): the examples restore its files instead."""
    ws_path = fake.workspace("consume")
    if not (ws_path / SESSION).exists():
        fake.scenario([TOOL_TURN])
        events = await fake.turn(workspace=ws_path)
        assert events[-1].type == "message_end", events[-1]
        (ws_path / f"{SESSION}.orig").write_text((ws_path / SESSION).read_text())
    record = json.loads((ws_path / f"{SESSION}.orig").read_text())["threads"]["default"]
    rollout = Path(record["rollout_path"])
    if not (rollout.parent / "orig").exists():
        (rollout.parent / "orig").write_bytes(rollout.read_bytes())
    old = (rollout.parent / "orig").read_bytes()
    made = Consumable(ws_path, record, rollout, old, b"")
    made.restore()
    # What a successful consume makes of it, for comparison.
    await consume_blocks(fake.config, ws_path, "default", ["call_inv"])
    new = rollout.read_bytes()
    assert new != old
    made = Consumable(ws_path, record, rollout, old, new)
    made.restore()
    return made


@pytest.mark.timeout(600)
@pytest.mark.parametrize("seam", sorted(CONSUME_SEAMS))
@settings(max_examples=3, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(error=st.sampled_from(sorted(ERRORS)), fail_on=st.integers(1, 2))
def test_consume_holds_its_invariant_whatever_fails_at_any_seam(
    provider: ProviderOnFake,
    monkeypatch: pytest.MonkeyPatch,
    fault_bytes_lost: Callable[[int], None],
    seam: str,
    error: str,
    fail_on: int,
) -> None:
    async def scenario() -> None:
        made = await consumable(provider)
        ws_path, rollout, old, new = made.workspace, made.rollout, made.old, made.new
        with monkeypatch.context() as patch:
            owner, name, is_async = CONSUME_SEAMS[seam]
            target = Seam(owner, name, is_async)
            patch.setattr(owner, name, target.wrap(fail_on, ERRORS[error]()))
            # consume is a library call: it may raise (the CLI reports it); it must not corrupt.
            with contextlib.suppress(Exception, asyncio.CancelledError):
                await consume_blocks(provider.config, ws_path, "default", ["call_inv"])
        await no_tasks_left()
        after = rollout.read_bytes()
        kept = set(after.splitlines())
        fault_bytes_lost(
            sum(
                len(line)
                for line in set(old.splitlines()) | set(new.splitlines())
                if line not in kept
            )
            if after not in (old, new)
            else 0
        )
        assert after in (old, new), "a half-written rollout"
        leftovers = [p.name for p in rollout.parent.iterdir() if p.name.endswith(".tmp")]
        assert leftovers == []
        assert_lock_free(ws_path)
        assert_no_half_written_files(ws_path)

    asyncio.run(scenario())
