"""Prompt from argv and stdin exactly like `codex exec` (codex-facts §6)."""

from __future__ import annotations

import subprocess
from typing import Any

import pytest


def _answer(env: Any, stdout: bytes) -> str:
    text: str = env.parse_jsonl(stdout)[2]["item"]["text"]
    return text.removeprefix("fake-codex received your prompt: ")


def test_dash_reads_the_whole_prompt_from_stdin_without_a_notice(env: Any) -> None:
    result = env.run(
        ["exec", "--skip-git-repo-check", "--json", "--", "-"], stdin=b"prompt from stdin\n"
    )
    assert result.returncode == 0
    assert _answer(env, result.stdout) == "prompt from stdin\n"
    assert result.stderr == b""


def test_no_prompt_argument_announces_and_reads_stdin(env: Any) -> None:
    result = env.run(["exec", "--skip-git-repo-check", "--json"], stdin=b"prompt from stdin only\n")
    assert result.returncode == 0
    assert result.stderr.decode() == "Reading prompt from stdin...\n"
    assert _answer(env, result.stdout) == "prompt from stdin only\n"


def test_prompt_argument_plus_piped_data_appends_a_stdin_block(env: Any) -> None:
    result = env.run(
        ["exec", "--skip-git-repo-check", "--json", "--", "the prompt"], stdin=b"extra stdin data\n"
    )
    assert result.stderr.decode() == "Reading additional input from stdin...\n"
    assert _answer(env, result.stdout) == "the prompt\n\n<stdin>\nextra stdin data\n</stdin>"


def test_prompt_argument_with_devnull_stdin_still_prints_the_notice(env: Any) -> None:
    result = env.run(["exec", "--skip-git-repo-check", "--json", "--", "hello"], stdin=None)
    assert result.stderr.decode() == "Reading additional input from stdin...\n"
    assert _answer(env, result.stdout) == "hello"


@pytest.mark.parametrize(
    ("args", "stderr"),
    [
        (["--", "-"], "No prompt provided via stdin.\n"),
        ([], "Reading prompt from stdin...\nNo prompt provided via stdin.\n"),
    ],
)
def test_an_empty_stdin_prompt_fails_with_rc_1_and_no_output(
    env: Any, args: list[str], stderr: str
) -> None:
    result = env.run(["exec", "--skip-git-repo-check", "--json", *args], stdin=b"")
    assert (result.returncode, result.stdout, result.stderr.decode()) == (1, b"", stderr)


def test_a_large_prompt_passes_through_stdin_intact(env: Any) -> None:
    prompt = "B" * 200 * 1024
    result = env.run(["exec", "--skip-git-repo-check", "--json", "--", "-"], stdin=prompt.encode())
    assert _answer(env, result.stdout) == prompt


def test_an_open_stdin_makes_the_fake_wait_without_any_output(env: Any) -> None:
    proc = env.start(
        ["exec", "--skip-git-repo-check", "--json", "--", "hello"], stdin=subprocess.PIPE
    )
    try:
        with pytest.raises(subprocess.TimeoutExpired):
            proc.wait(timeout=1.0)
        out, err = proc.communicate(input=b"", timeout=20)  # EOF: now the turn runs
        assert proc.returncode == 0
        assert err.decode() == "Reading additional input from stdin...\n"
        assert env.parse_jsonl(out)[0]["type"] == "thread.started"
    finally:
        if proc.poll() is None:
            env.kill_group(proc)
