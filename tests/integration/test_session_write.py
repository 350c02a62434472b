"""The new thread's record is written while codex streams on: a slow disk delays no event, and
the record is still complete (and on disk) before the turn ends."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from plexum_openai_provider.sessions import SessionStore
from plexum_openai_provider.turn import TurnRequest, open_turn

from .conftest import FAST_LIMITS, ProviderOnFake


async def test_events_flow_while_the_new_threads_record_is_being_written(
    provider: ProviderOnFake, monkeypatch: pytest.MonkeyPatch
) -> None:
    text_seen = threading.Event()
    released_by_text: list[bool] = []
    real_put = SessionStore.put

    def slow_put(self: SessionStore, session_id: str, record: Any) -> None:
        if not released_by_text:  # the first write: hold it until the turn's text has arrived
            released_by_text.append(text_seen.wait(timeout=10))
        real_put(self, session_id, record)

    monkeypatch.setattr(SessionStore, "put", slow_put)
    workspace = provider.workspace()
    request = TurnRequest(prompt="hello", workspace=workspace)
    events = []
    async with open_turn(provider.config, request, FAST_LIMITS) as turn:
        async for event in turn:
            if event.type == "text_delta":
                text_seen.set()
            events.append(event)
    assert released_by_text == [True], "the text waited for the session write"
    assert events[-1].type == "message_end"
    stored = SessionStore(workspace).get("default")
    assert stored is not None and stored.thread_id == events[-1].thread_id  # type: ignore[union-attr]
    assert stored.rollout_path is not None  # the final record, written after the first one
