"""The REAL codex (0.135.0 and 0.169.0) against the fake Responses server, offline."""

from __future__ import annotations

from pathlib import Path

import pytest

from conformance.codex_run import CodexRun, run_codex
from fake_codex.responses.requests import last_user_text
from fake_codex.testing.fakes import RealCodex
from fake_codex.testing.real_env import exec_argv, resume_argv

pytestmark = pytest.mark.e2e

USAGE = {"input_tokens": 12, "cached_tokens": 3, "cache_write_tokens": 2, "output_tokens": 5,
         "reasoning_tokens": 1}  # fmt: skip


def message(text: str) -> dict[str, object]:
    return {"output": [{"type": "message", "text": text}], "usage": USAGE}


async def run(real: RealCodex, argv: list[str], stdin: bytes, cwd: Path) -> CodexRun:
    return await run_codex(argv, env=real.env, cwd=cwd, stdin=stdin)


async def test_real_codex_answers_with_the_scripted_message_and_usage(
    real_codex: RealCodex, tmp_path: Path
) -> None:
    real_codex.write_scenario([{"requests": [message("Hello from the fake model")]}])
    argv = exec_argv(real_codex.binary, real_codex.server.base_url, real_codex.version)
    result = await run(real_codex, argv, b"say hello", tmp_path)
    assert result.returncode == 0, result.stderr
    kinds = [e["type"] for e in result.events]
    assert kinds[0] == "thread.started" and kinds[-1] == "turn.completed"
    assert result.agent_messages == ["Hello from the fake model"]
    expected = {"input_tokens": 12, "cached_input_tokens": 3, "output_tokens": 5,
                "reasoning_output_tokens": 1}  # fmt: skip
    if real_codex.version != "0.135.0":  # 0.135 has no cache-write field (codex-facts §8)
        expected["cache_write_input_tokens"] = 2
    assert result.of_type("turn.completed")[0]["usage"] == expected
    assert [last_user_text(r.body) for r in real_codex.requests] == ["say hello"]
    assert real_codex.problems() == []


async def test_resume_keeps_the_thread_id_and_sends_the_new_prompt(
    real_codex: RealCodex, tmp_path: Path
) -> None:
    real_codex.write_scenario([{"requests": [message("first")]}, {"requests": [message("second")]}])
    base_url, version = real_codex.server.base_url, real_codex.version
    first = await run(
        real_codex, exec_argv(real_codex.binary, base_url, version), b"turn one", tmp_path
    )
    assert first.returncode == 0, first.stderr
    argv = resume_argv(real_codex.binary, base_url, version, first.thread_id)
    second = await run(real_codex, argv, b"--help", tmp_path)
    assert second.returncode == 0, second.stderr
    assert second.thread_id == first.thread_id
    assert second.agent_messages == ["second"]
    # Usage on resume is the thread total (codex-facts §1.4).
    assert second.of_type("turn.completed")[0]["usage"]["input_tokens"] == 24
    assert [last_user_text(r.body) for r in real_codex.requests] == ["turn one", "--help"]


async def test_a_scripted_http_500_fails_the_turn_without_retries(
    real_codex: RealCodex, tmp_path: Path
) -> None:
    real_codex.write_scenario(
        [{"requests": [{"http_status": 500, "body": {"error": {"message": "boom"}}}]}]
    )
    argv = exec_argv(real_codex.binary, real_codex.server.base_url, real_codex.version)
    result = await run(real_codex, argv, b"hi", tmp_path)
    assert result.returncode == 1
    assert result.events[-1]["type"] == "turn.failed"
    assert "high demand" in result.events[-1]["error"]["message"]
    assert len(real_codex.requests) == 1 and real_codex.problems() == []
