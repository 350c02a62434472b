"""The wrapper's tests: each runs on the fake codex and on the real, pinned codex (plugin only)."""

from __future__ import annotations

import pytest
from codex_final import CodexFailed, final_message

from fake_codex.testing.fakes import FakeCodex, RealCodex, answer


def test_the_final_message_is_the_last_one_of_the_turn(codex: FakeCodex | RealCodex) -> None:
    reply = {"output": [{"type": "message", "text": "first"}, {"type": "message", "text": "last"}]}
    codex.write_scenario([{"expect_prompt": "summarise", "requests": [reply]}])
    assert final_message("summarise") == "last"
    assert codex.problems() == []


def test_a_prompt_that_looks_like_flags_reaches_the_model_verbatim(
    codex: FakeCodex | RealCodex,
) -> None:
    prompt = "--help -m x\n  with lines "
    codex.write_scenario([{"expect_prompt": prompt, "requests": [answer("ok")]}])
    assert final_message(prompt) == "ok"
    assert codex.problems() == []


def test_a_failed_turn_raises_with_codexs_message(codex: FakeCodex | RealCodex) -> None:
    body = '{"error": {"message": "no such model", "type": "invalid_request_error"}}'
    codex.write_scenario([{"requests": [{"http_status": 400, "body": body}]}])
    with pytest.raises(CodexFailed) as caught:
        final_message("hi")
    assert "no such model" in str(caught.value)


def test_a_codex_that_crashes_mid_turn_raises_with_its_exit_code(fake_codex: FakeCodex) -> None:
    fake_codex.write_scenario([{"requests": [answer("never")], "faults": {"crash_after_lines": 1}}])
    with pytest.raises(CodexFailed, match="codex exited 101"):
        final_message("hi")
    (invocation,) = fake_codex.invocations()
    assert invocation.argv[-2:] == ["--", "-"] and invocation.stdin == "hi"
