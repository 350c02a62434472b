"""The REAL codex (0.135.0 and 0.169.0) against the fake Responses server, offline."""

from __future__ import annotations

import pytest

from conformance.codex_run import RealCodex
from fake_codex.real_codex_env import exec_argv, resume_argv
from fake_codex.responses_server import ResponsesServer, last_user_text

pytestmark = pytest.mark.e2e

USAGE = {"input_tokens": 12, "cached_tokens": 3, "cache_write_tokens": 2, "output_tokens": 5,
         "reasoning_tokens": 1}  # fmt: skip


def message(text: str) -> dict[str, object]:
    return {"output": [{"type": "message", "text": text}], "usage": USAGE}


async def test_real_codex_answers_with_the_scripted_message_and_usage(
    real_codex: RealCodex,
) -> None:
    async with ResponsesServer([message("Hello from the fake model")]) as srv:
        argv = exec_argv(real_codex.binary, srv.base_url, real_codex.version)
        run = await real_codex.run(argv, b"say hello")
    assert run.returncode == 0, run.stderr
    kinds = [e["type"] for e in run.events]
    assert kinds[0] == "thread.started" and kinds[-1] == "turn.completed"
    assert run.agent_messages == ["Hello from the fake model"]
    expected = {"input_tokens": 12, "cached_input_tokens": 3, "output_tokens": 5,
                "reasoning_output_tokens": 1}  # fmt: skip
    if real_codex.version != "0.135.0":  # 0.135 has no cache-write field (codex-facts §8)
        expected["cache_write_input_tokens"] = 2
    assert run.of_type("turn.completed")[0]["usage"] == expected
    assert [last_user_text(r.body) for r in srv.model_requests] == ["say hello"]
    assert srv.unserved == []


async def test_resume_keeps_the_thread_id_and_sends_the_new_prompt(real_codex: RealCodex) -> None:
    async with ResponsesServer([message("first"), message("second")]) as srv:
        first = await real_codex.run(
            exec_argv(real_codex.binary, srv.base_url, real_codex.version), b"turn one"
        )
        assert first.returncode == 0, first.stderr
        argv = resume_argv(real_codex.binary, srv.base_url, real_codex.version, first.thread_id)
        second = await real_codex.run(argv, b"--help")
    assert second.returncode == 0, second.stderr
    assert second.thread_id == first.thread_id
    assert second.agent_messages == ["second"]
    # Usage on resume is the thread total (codex-facts §1.4).
    assert second.of_type("turn.completed")[0]["usage"]["input_tokens"] == 24
    assert [last_user_text(r.body) for r in srv.model_requests] == ["turn one", "--help"]


async def test_a_scripted_http_500_fails_the_turn_without_retries(real_codex: RealCodex) -> None:
    async with ResponsesServer(
        [{"http_status": 500, "body": {"error": {"message": "boom"}}}]
    ) as srv:
        run = await real_codex.run(
            exec_argv(real_codex.binary, srv.base_url, real_codex.version), b"hi"
        )
    assert run.returncode == 1
    assert run.events[-1]["type"] == "turn.failed"
    assert "high demand" in run.events[-1]["error"]["message"]
    assert len(srv.model_requests) == 1 and srv.unserved == []
