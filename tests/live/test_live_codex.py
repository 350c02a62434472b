"""Against OpenAI itself, through this machine's real `codex login` and config.json (never in CI).

Run with `.venv/bin/python -m pytest -m live`: a turn, then a resumed turn in the same session,
using the operator's `binary`, `codex_home` and models exactly as the daemon would.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from plexum_openai_provider.config import load_config
from plexum_openai_provider.events import MessageEnd, TextDelta
from plexum_openai_provider.turn import TurnRequest, run_turn

pytestmark = pytest.mark.live


async def test_a_real_turn_and_its_resume_keep_one_thread(tmp_path: Path) -> None:
    config = load_config()
    first = await run_turn(
        config, TurnRequest(prompt="Reply with the single word: pong", workspace=tmp_path)
    )
    assert isinstance(first[-1], MessageEnd), first[-1]
    assert any(isinstance(e, TextDelta) and e.text.strip() for e in first)
    second = await run_turn(
        config, TurnRequest(prompt="What single word did you just reply?", workspace=tmp_path)
    )
    assert isinstance(second[-1], MessageEnd), second[-1]
    assert second[-1].thread_id == first[-1].thread_id
    assert second[-1].usage.input_tokens > 0
