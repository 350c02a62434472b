"""A process outside codex's group that holds codex's stdout or stderr open after codex exits.

On Python 3.11 `Process.wait()` only returns once every pipe is closed, so such a holder used to
keep the turn until `turn_timeout_s`; the turn must end within its post-exit drain and kill grace.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
from pathlib import Path

import pytest

from plexum_openai_provider.events import MessageEnd, TextDelta

from .conftest import FAST_LIMITS, ProviderOnFake, pid_alive

# FAST_LIMITS: 0.5 s drain + 0.5 s kill grace + 1 s for stderr; far below the turn timeout.
BOUND_S = 15.0
TURN_TIMEOUT_S = 120.0

HOLDER = "import os, time; os.setsid(); time.sleep({seconds})"


def escaping_wrapper(provider: ProviderOnFake, held: str, pid_file: Path) -> Path:
    """A `codex` that leaves a child in its own session holding `held`, then runs the fake."""
    redirect = {"stdout": "2>/dev/null", "stderr": ">/dev/null"}[held]
    code = HOLDER.format(seconds=int(TURN_TIMEOUT_S * 2))
    script = provider.root / f"codex-leaving-{held}-open"
    script.write_text(
        "#!/bin/sh\n"
        f"\"{sys.executable}\" -c '{code}' </dev/null {redirect} &\n"
        f'echo $! > "{pid_file}"\n'
        f'exec "{provider.fake.executable}" "$@"\n'
    )
    script.chmod(0o755)
    return script


@pytest.mark.parametrize("held", ["stdout", "stderr"])
async def test_a_turn_ends_soon_after_codex_exits_though_an_escaped_child_holds_its_pipe(
    provider: ProviderOnFake, held: str
) -> None:
    provider.scenario([{"requests": [{"output": [{"type": "message", "text": "done"}]}]}])
    pid_file = provider.root / "holder.pid"
    config = provider.with_config(
        binary=str(escaping_wrapper(provider, held, pid_file)), turn_timeout_s=TURN_TIMEOUT_S
    )
    try:
        loop = asyncio.get_running_loop()
        started = loop.time()
        async with asyncio.timeout(BOUND_S):
            events = await provider.turn(config=config, limits=FAST_LIMITS)
        elapsed = loop.time() - started
        holder = int(pid_file.read_text())
        # The mechanism was really in place: the holder outlived the turn, outside the group.
        assert pid_alive(holder)
        assert os.getpgid(holder) != provider.invocations()[0].pgid
        assert isinstance(events[-1], MessageEnd), events[-1]
        assert [e.text for e in events if isinstance(e, TextDelta)] == ["done"]
        assert elapsed < BOUND_S
    finally:
        with contextlib.suppress(FileNotFoundError, ValueError, ProcessLookupError):
            os.kill(int(pid_file.read_text()), signal.SIGKILL)
