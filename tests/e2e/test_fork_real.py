"""Forking a session on the REAL codex, every pinned version, both backends (`thread/fork`; on
exec through a short-lived `codex app-server`): the fork's next turn sees the history up to the
fork and not the source session's later turns; consume on either never touches the other's
rollout. From 0.150 codex reads a fork's pre-fork history from its source's rollout, so what the
fork's model reads of a pre-fork call follows the SOURCE's file (measured here per version)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from fake_codex.testing.fakes import RealCodex
from plexum_openai_provider.consume import consume_blocks
from plexum_openai_provider.events import MessageEnd, ToolCall
from plexum_openai_provider.fork import fork_session
from plexum_openai_provider.sessions import SessionStore
from plexum_openai_provider.turn import TurnLimits, TurnRequest, close_backends, run_turn

from .test_provider_turns import config_for

pytestmark = pytest.mark.e2e
LIMITS = TurnLimits(kill_grace_s=1.0, post_exit_drain_s=0.5)
PINNED = ("0.135.0", "0.150.1", "0.169.0", "0.171.0")
SHARES_PRE_FORK = {"0.135.0": False, "0.150.1": True, "0.169.0": True, "0.171.0": True}


def says(text: str) -> dict[str, Any]:
    return {"requests": [{"output": [{"type": "message", "text": text}]}]}


@pytest.mark.parametrize("backend", ["exec", "app-server"])
@pytest.mark.parametrize("real_codex_version", PINNED)
async def test_a_fork_diverges_from_its_source(
    backend: str, real_codex: RealCodex, tmp_path: Path
) -> None:
    shell = {
        "type": "function_call",
        "name": "exec_command",
        "arguments": {"cmd": "echo ALPHA_PAYLOAD_9"},
        "call_id": "call_alpha",
    }
    real_codex.write_scenario(
        [
            {"requests": [{"output": [shell]}, says("A1")["requests"][0]]},
            says("source later"),
            says("fork first"),
            says("source after consume"),
            says("fork after consume"),
        ]
    )
    config = config_for(
        real_codex,
        supported_models=("gpt",),
        model_args={"gpt": "gpt-5.5"},
        backend=backend,
    )

    async def turn(session: str, prompt: str) -> list[Any]:
        request = TurnRequest(prompt=prompt, workspace=tmp_path, session_id=session, model="gpt")
        events = await run_turn(config, request, LIMITS)
        assert isinstance(events[-1], MessageEnd), events[-1]
        return events

    def last_body() -> str:
        return json.dumps(real_codex.requests[-1].body)

    try:
        first = await turn("src", "SRC-PROMPT-1")
        fork = await fork_session(config, tmp_path, "src", "fork")
        assert fork.from_thread_id == first[-1].thread_id != fork.thread_id
        await turn("src", "SRC-LATER-2")
        forked = await turn("fork", "FORK-PROMPT-1")
        assert forked[-1].thread_id == fork.thread_id
        assert not any(isinstance(e, ToolCall) for e in forked)  # the copy is not this turn's
        body = last_body()
        assert "SRC-PROMPT-1" in body and "ALPHA_PAYLOAD_9" in body
        assert "SRC-LATER-2" not in body

        store = SessionStore(tmp_path)
        rollouts = {
            name: Path(str(store.get(name).rollout_path))  # type: ignore[union-attr]
            for name in ("src", "fork")
        }
        source_before = rollouts["src"].read_bytes()
        await consume_blocks(config, tmp_path, "fork", ["call_alpha"])  # a pre-fork block
        assert rollouts["src"].read_bytes() == source_before
        fork_before = rollouts["fork"].read_bytes()
        result = await consume_blocks(config, tmp_path, "src", ["call_alpha"])
        assert result.consumed == {"call_alpha"}
        assert rollouts["fork"].read_bytes() == fork_before
        await turn("src", "SRC-AFTER")
        assert "ALPHA_PAYLOAD_9" not in last_body()
        await turn("fork", "FORK-AFTER")
        body = last_body()
        assert "SRC-PROMPT-1" in body and "SRC-LATER-2" not in body
        if SHARES_PRE_FORK[real_codex.version]:
            # codex >= 0.150 reads a fork's history before the fork point from its SOURCE's
            # rollout (`forked_from_id`): the source's consume hides the block from both.
            assert "ALPHA_PAYLOAD_9" not in body
    finally:
        await close_backends()
