"""The app-server comparison's view of a stream (`conformance/app_server_view.py`): what it
reorders because the real process races it, and what it keeps in place."""

from __future__ import annotations

from pathlib import Path

from conformance.app_server_view import REPLY, normalise


def _turn_start_reply() -> dict[str, object]:
    return {"method": REPLY, "params": {"to": "turn/start", "result": {"turn": {"id": "t"}}}}


ACTIVE = {"method": "thread/status/changed", "params": {"status": {"type": "active"}}}
STARTED = {"method": "turn/started", "params": {}}
DELTA = {"method": "item/agentMessage/delta", "params": {"delta": "hi"}}


def test_a_turn_start_reply_that_came_after_the_turns_start_notifications_is_put_first() -> None:
    raced = normalise([ACTIVE, STARTED, _turn_start_reply(), DELTA], Path("/r"))
    in_order = normalise([_turn_start_reply(), ACTIVE, STARTED, DELTA], Path("/r"))
    assert raced == in_order
    assert raced[0]["reply"] == "turn/start"


def test_a_turn_start_reply_after_the_turns_output_stays_where_it_came() -> None:
    # Only the start notifications race the reply: a reply after real output is a difference.
    late = normalise([ACTIVE, STARTED, DELTA, _turn_start_reply()], Path("/r"))
    assert [entry.get("reply") for entry in late] == [None, None, None, "turn/start"]
