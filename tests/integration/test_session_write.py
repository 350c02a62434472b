"""The new thread's record is written while codex streams on: a slow disk delays no event, and
the record is still complete (and on disk) before the turn ends. On the app-server backend, one
turn's slow save holds back no other turn of the process."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import pytest

from plexum_openai_provider.events import CanonicalEvent
from plexum_openai_provider.sessions import SessionStore
from plexum_openai_provider.turn import TurnRequest, close_backends, open_turn, run_turn

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


async def test_on_app_server_another_turns_events_flow_while_one_turns_session_save_is_slow(
    provider: ProviderOnFake, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Both turns run on the same warm app-server; the session file of one workspace blocks on
    # its first write until the other turn has ended. Saved on the event loop, that write would
    # hold back every turn of the process (and this test would wait out the 10 s and fail).
    config = provider.with_config(backend="app-server")
    slow_ws, other_ws = provider.workspace("slow"), provider.workspace("other")
    entered, release = threading.Event(), threading.Event()
    released_in_time: list[bool] = []
    real_put = SessionStore.put

    def slow_put(self: SessionStore, session_id: str, record: Any) -> None:
        if self.path.parent == slow_ws and not released_in_time:
            entered.set()
            released_in_time.append(release.wait(timeout=10))
        real_put(self, session_id, record)

    monkeypatch.setattr(SessionStore, "put", slow_put)
    try:
        slow_turn = asyncio.create_task(
            run_turn(config, TurnRequest(prompt="hello", workspace=slow_ws), FAST_LIMITS)
        )
        assert await asyncio.to_thread(entered.wait, 10), "the slow turn never saved its thread"
        other: list[CanonicalEvent] = []
        async with open_turn(
            config, TurnRequest(prompt="hi", workspace=other_ws), FAST_LIMITS
        ) as turn:
            async for event in turn:
                other.append(event)
        still_blocked = not release.is_set() and not slow_turn.done()
        release.set()
        slow = await asyncio.wait_for(slow_turn, 30)
    finally:
        release.set()
        await close_backends()
    assert still_blocked, "the other turn ran only after the slow save"
    assert [e.type for e in other if e.type == "text_delta"], other
    assert other[-1].type == "message_end", other[-1]
    assert released_in_time == [True]
    assert slow[-1].type == "message_end", slow[-1]
    stored = SessionStore(slow_ws).get("default")
    assert stored is not None and stored.thread_id == slow[-1].thread_id  # type: ignore[union-attr]
