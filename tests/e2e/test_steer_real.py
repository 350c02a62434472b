"""Steering a running turn on the REAL codex app-server, every pinned version: `turn/steer`
with `expectedTurnId` while the model answers; codex sends the steer text in the turn's next model
request and the turn ends with one `message_end`. A steer after the turn ended is refused."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from fake_codex.testing.fakes import RealCodex
from plexum_openai_provider.config import HostConfig
from plexum_openai_provider.errors import ControlError
from plexum_openai_provider.events import MessageEnd
from plexum_openai_provider.turn import TurnLimits, TurnRequest, close_backends, open_turn

pytestmark = pytest.mark.e2e
LIMITS = TurnLimits(kill_grace_s=1.0, post_exit_drain_s=0.5)
PINNED = ("0.135.0", "0.150.1", "0.169.0", "0.171.0")


@pytest.mark.parametrize("real_codex_version", PINNED)
async def test_a_steer_reaches_the_turns_next_model_request(
    real_codex: RealCodex, tmp_path: Path
) -> None:
    # The first reply waits at a gate until the steer is in: the turn is running meanwhile.
    slow = {"output": [{"type": "message", "text": "working on it"}], "gate": "answering"}
    done = {"output": [{"type": "message", "text": "steered answer"}]}
    real_codex.write_scenario([{"requests": [slow, done]}])
    config = HostConfig(
        binary=str(real_codex.binary),
        codex_home=str(real_codex.home),
        idle_timeout_s=30,
        turn_timeout_s=60,
        backend="app-server",
    )
    request = TurnRequest(prompt="start", workspace=tmp_path)
    try:
        async with open_turn(config, request, LIMITS) as turn:
            events = asyncio.create_task(_collect(turn))
            gate = real_codex.gate("answering")
            try:
                await gate.reached(timeout=20)
                await turn.steer("STEER-TEXT-42 please also do this")
            finally:
                gate.release()
            result = await asyncio.wait_for(events, 30)
        assert isinstance(result[-1], MessageEnd), result[-1]
        bodies = [r.body for r in real_codex.requests]
        assert len(bodies) == 2
        assert "STEER-TEXT-42" not in str(bodies[0]) and "STEER-TEXT-42" in str(bodies[1])
        with pytest.raises(ControlError) as caught:
            await turn.steer("too late")
        assert caught.value.reason == "not_running"
    finally:
        await close_backends()


async def _collect(turn: Any) -> list[Any]:
    return [event async for event in turn]
