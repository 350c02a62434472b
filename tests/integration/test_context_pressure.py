"""Context pressure on the fake codex (exec): `message_end` carries how full the thread's context
is (the turn's last `token_count` in the rollout: tokens of the model's window), and a turn at or
over `context_warning_fraction` gets a warning right before its `message_end`."""

from __future__ import annotations

import json

from fake_codex.core.versions import CONTEXT_WINDOW
from plexum_openai_provider.events import Context, MessageEnd, Usage, WarningEvent
from plexum_openai_provider.turn.lifetime import context_warning

from .conftest import ProviderOnFake, types

ANSWER = {
    "requests": [
        {
            "output": [{"type": "message", "text": "hi"}],
            "usage": {"input_tokens": 2000, "output_tokens": 67},
        }
    ]
}


async def test_message_end_reports_the_context_and_warns_past_the_fraction(
    provider: ProviderOnFake,
) -> None:
    provider.scenario([ANSWER, ANSWER])
    quiet = await provider.turn("one")
    end = quiet[-1]
    assert isinstance(end, MessageEnd)
    assert end.context == Context(2067, CONTEXT_WINDOW)
    assert end.to_json()["context"] == {
        "tokens": 2067,
        "window": CONTEXT_WINDOW,
        "fraction": round(2067 / CONTEXT_WINDOW, 4),
    }
    assert types(quiet) == ["text_delta", "message_end"]
    loud = await provider.turn("two", config=provider.with_config(context_warning_fraction=0.005))
    assert types(loud) == ["text_delta", "warning", "message_end"]
    assert isinstance(loud[1], WarningEvent) and "context is 1% full" in loud[1].message


def test_no_window_no_warning_and_a_context_less_end_keeps_its_old_json() -> None:
    plain = MessageEnd("t", Usage(), Usage())
    assert "context" not in json.dumps(plain.to_json())
    assert context_warning(plain, 0.1) is None
    assert context_warning(MessageEnd("t", Usage(), Usage(), Context(9, None)), 0.1) is None
    assert context_warning(MessageEnd("t", Usage(), Usage(), Context(89, 100)), 0.9) is None
    full = context_warning(MessageEnd("t", Usage(), Usage(), Context(90, 100)), 0.9)
    assert full is not None and "90% full (90 of 100 tokens)" in full.message
