"""A head-started codex the turn ends without adopting (`turn/exec/head_start.py`): it is stopped
and reaped before the turn's terminal event, and before the workspace lock is let go — never left
running unlocked while `say` winds down — and a `say` interrupted before the turn adopted it
still prints one terminal event."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from dataclasses import replace

import pytest

from plexum_openai_provider.events import ErrorEvent, is_terminal
from plexum_openai_provider.sessions import SESSION_FILE
from plexum_openai_provider.turn.exec.head_start import head_start
from plexum_openai_provider.turn.lifetime import Turn
from plexum_openai_provider.turn.request import TurnRequest

from .conftest import FAST_LIMITS, ProviderOnFake, group_alive
from .test_head_start import lock_is_free, said

SLOW = said("slow", delay_ms=60_000)  # a codex that is still running when the turn ends


@pytest.mark.parametrize("case", ["session file rewritten", "model refused"])
async def test_a_turn_ending_before_it_adopts_reaps_codex_before_its_end_and_its_lock(
    provider: ProviderOnFake, case: str
) -> None:
    provider.scenario([SLOW])
    workspace = provider.workspace()
    request = TurnRequest(prompt="hi", workspace=workspace)
    early = head_start(provider.config, request)
    assert early is not None
    config = provider.config
    if case == "session file rewritten":
        # What the model can do once codex runs: the turn reads the file after the head start did.
        (workspace / SESSION_FILE).write_text("{not json")
    else:
        config = replace(config, supported_models=("another",))
    alive_at_end: list[bool] = []
    try:
        async with Turn(config, request, FAST_LIMITS, head_start=early) as turn:
            events = []
            async for event in turn:
                if is_terminal(event):
                    alive_at_end.append(early.popen.poll() is None)
                events.append(event)
        # The turn is over, `say`'s own cleanup has not run: nothing of codex may be left.
        assert early.popen.poll() is not None and not group_alive(early.popen.pid, within_s=0)
        assert lock_is_free(workspace)
    finally:
        early.discard()
    last = events[-1]
    assert isinstance(last, ErrorEvent), events
    assert last.code == ("session_store" if case == "session file rewritten" else "config")
    assert alive_at_end == [False]  # reaped before the terminal event was handed out


async def test_a_turn_cancelled_before_it_adopts_reaps_codex_before_the_lock_goes(
    provider: ProviderOnFake,
) -> None:
    provider.scenario([SLOW])
    workspace = provider.workspace()
    request = TurnRequest(prompt="hi", workspace=workspace)
    early = head_start(provider.config, request)
    assert early is not None
    (workspace / SESSION_FILE).write_text("{not json")  # the turn ends on its first event
    try:
        async with Turn(provider.config, request, FAST_LIMITS, head_start=early) as turn:
            async for _event in turn:
                break  # the host stops reading: the turn's generators are closed
        assert early.popen.poll() is not None
        assert lock_is_free(workspace)
    finally:
        early.discard()


# `say` as a user runs it, with the signal sent once codex was head-started and before the turn
# could adopt it: while the head start runs (the script signals itself), or while `say` imports
# asyncio and the turn (held there until the test signals it).
SIGNALLED_SAY = """
import builtins, os, signal, sys
import plexum_openai_provider.turn.exec.head_start as room
from plexum_openai_provider.cli import run
real_head_start, real_import = room.head_start, builtins.__import__
def head_start(config, request):
    early = real_head_start(config, request)
    os.write(int(os.environ["HELD_FD"]), f"{early.popen.pid}\\n".encode())
    if os.environ["WHERE"] == "during the head start":
        os.kill(os.getpid(), getattr(signal, os.environ["SIGNAL"]))
    else:
        builtins.__import__ = held_import
    return early
def held_import(name, *args, **kwargs):
    if name == "asyncio":
        builtins.__import__ = real_import
        os.read(0, 1)  # the test's signal interrupts this: its KeyboardInterrupt is raised here
    return real_import(name, *args, **kwargs)
room.head_start = head_start
sys.argv[0] = "plexum-openai-provider"
run()
"""


@pytest.mark.parametrize("where", ["before the turn", "during the head start"])
@pytest.mark.parametrize("sig", ["SIGINT", "SIGTERM"])
def test_say_interrupted_before_the_turn_adopts_codex_ends_cancelled_with_nothing_left(
    provider: ProviderOnFake, sig: str, where: str
) -> None:
    provider.scenario([SLOW])
    workspace = provider.workspace()
    config_path = provider.root / "config.json"
    config_path.write_text(
        json.dumps({"binary": provider.config.binary, "codex_home": provider.config.codex_home})
    )
    read_fd, write_fd = os.pipe()
    argv = [sys.executable, "-c", SIGNALLED_SAY, "say", "--json", "--no-tools"]
    argv += ["--config", str(config_path), "--workspace", str(workspace), "hi"]
    with subprocess.Popen(
        argv,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={**os.environ, "HELD_FD": str(write_fd), "SIGNAL": sig, "WHERE": where},
        pass_fds=(write_fd,),
    ) as say:
        os.close(write_fd)
        try:
            with os.fdopen(read_fd, "rb") as held:
                codex = int(held.readline() or b"0")
            assert codex, "say never head-started codex"
            if where == "before the turn":
                say.send_signal(getattr(signal, sig))
            say.wait(timeout=60)  # stdin stays open: the held import must not read an EOF
            assert say.stdout is not None and say.stderr is not None
            out, err = say.stdout.read(), say.stderr.read()
        finally:
            if say.poll() is None:
                say.kill()
    lines = [json.loads(line) for line in out.decode().splitlines()]
    assert lines and lines[-1]["type"] == "error", (out, err)
    assert lines[-1]["code"] == "cancelled", (out, err)
    assert sum(1 for line in lines if line["type"] in ("error", "message_end")) == 1
    assert say.returncode == 1, err
    assert b"Traceback" not in err, err
    assert not group_alive(codex)
    assert {inv.pid for inv in provider.invocations()} <= {codex}  # none started after it
    assert lock_is_free(workspace)
