"""Fake-only faults (docs/scenarios.md "Faults"), each observed from outside a real process."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

ANSWER = {"output": [{"type": "message", "text": "hi"}], "usage": {"input_tokens": 1}}


def scenario(tmp: Path, faults: dict[str, Any], replies: list[Any] | None = None) -> Path:
    path = tmp / "faulty.json"
    turn = {"requests": replies or [ANSWER], "faults": faults}
    path.write_text(json.dumps({"schema_version": 1, "turns": [turn]}))
    return path


def run(env: Any, faults: dict[str, Any], extra: dict[str, str] | None = None) -> Any:
    path = scenario(env.root, faults)
    return env.run(
        ["exec", "--skip-git-repo-check", "--json", "--", "go"],
        scenario=path,
        stdin=None,
        extra_env=extra,
    )


def test_exit_code_and_stderr_faults_change_only_the_exit_and_stderr(env: Any) -> None:
    result = run(env, {"exit_code": 3, "stderr": "boom on stderr"})
    assert result.returncode == 3
    assert "boom on stderr\n" in result.stderr.decode()
    assert env.parse_jsonl(result.stdout)[-1]["type"] == "turn.completed"


def test_crash_after_lines_stops_mid_stream_with_a_panic(env: Any) -> None:
    result = run(env, {"crash_after_lines": 2})
    assert result.returncode == 101
    assert len(result.stdout.splitlines()) == 2
    assert "panicked at" in result.stderr.decode()


def test_crash_uses_the_given_exit_code(env: Any) -> None:
    assert run(env, {"crash_after_lines": 0, "exit_code": 9}).returncode == 9


def test_garbage_lines_are_inserted_raw_after_the_given_line(env: Any) -> None:
    faults = {
        "garbage": [{"after_line": 1, "text": "not json"}, {"after_line": 2, "hex": "ff fe 0a"}]
    }
    lines = run(env, faults).stdout.split(b"\n")
    assert lines[1] == b"not json"
    assert lines[3] == b"\xff\xfe"
    assert json.loads(lines[4])["type"] == "item.completed"


def test_big_line_is_one_valid_command_execution_line_of_that_size(env: Any) -> None:
    lines = run(env, {"big_line": {"after_line": 2, "mib": 1}}).stdout.split(b"\n")
    big = lines[2]
    assert len(big) > 1024 * 1024
    event = json.loads(big)
    assert event["item"]["type"] == "command_execution"


def test_no_final_newline_leaves_the_last_line_open(env: Any) -> None:
    out = run(env, {"no_final_newline": True}).stdout
    assert not out.endswith(b"\n")
    assert json.loads(out.split(b"\n")[-1])["type"] == "turn.completed"


def test_split_writes_deliver_the_stream_in_chunks_of_at_most_n_bytes(env: Any) -> None:
    # A SOCK_SEQPACKET socket keeps every write() a separate message, so chunking is visible.
    path = scenario(env.root, {"split_writes": 7})
    ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    with ours, theirs:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "fake_codex",
                "exec",
                "--skip-git-repo-check",
                "--json",
                "--",
                "go",
            ],
            stdin=subprocess.DEVNULL,
            stdout=theirs.fileno(),
            stderr=subprocess.DEVNULL,
            cwd=env.cwd,
            env=env.environ(path),
            start_new_session=True,
        )
        theirs.close()
        try:
            chunks = []
            ours.settimeout(20)
            while chunk := ours.recv(1 << 16):
                chunks.append(chunk)
            assert proc.wait(timeout=20) == 0
        finally:
            env.kill_group(proc)
    assert max(len(c) for c in chunks) <= 7
    assert any(not c.endswith(b"\n") for c in chunks)  # lines are cut mid-way
    assert [e["type"] for e in env.parse_jsonl(b"".join(chunks))][-1] == "turn.completed"


def test_line_delay_spaces_out_the_lines(env: Any) -> None:
    path = scenario(env.root, {"line_delay_ms": 300})
    proc = env.start(["exec", "--skip-git-repo-check", "--json", "--", "go"], scenario=path)
    try:
        assert proc.stdout is not None
        env.read_line(proc.stdout)
        with pytest.raises(subprocess.TimeoutExpired):
            proc.wait(timeout=0.1)  # three more lines still to come, 300 ms apart
        out, _ = proc.communicate(timeout=20)
        assert len(out.splitlines()) == 3
    finally:
        env.kill_group(proc)


def test_hang_after_lines_keeps_the_process_alive_until_killed(env: Any) -> None:
    path = scenario(env.root, {"hang_after_lines": 1})
    proc = env.start(["exec", "--skip-git-repo-check", "--json", "--", "go"], scenario=path)
    try:
        assert proc.stdout is not None
        assert json.loads(env.read_line(proc.stdout))["type"] == "thread.started"
        with pytest.raises(subprocess.TimeoutExpired):
            proc.wait(timeout=0.5)
        os.killpg(proc.pid, signal.SIGTERM)
        assert proc.wait(timeout=10) == -signal.SIGTERM
    finally:
        env.kill_group(proc)


def test_ignore_sigterm_survives_sigterm_and_dies_by_sigkill(env: Any) -> None:
    log = env.root / "log.jsonl"
    path = scenario(env.root, {"hang_after_lines": 1, "ignore_sigterm": True})
    proc = env.start(
        ["exec", "--skip-git-repo-check", "--json", "--", "go"],
        scenario=path,
        extra_env={"FAKE_CODEX_LOG": str(log)},
    )
    try:
        assert proc.stdout is not None
        env.read_line(proc.stdout)
        env.wait_for(log.exists, what="the invocation log line written before hanging")
        os.kill(proc.pid, signal.SIGTERM)
        with pytest.raises(subprocess.TimeoutExpired):
            proc.wait(timeout=0.5)
        os.kill(proc.pid, signal.SIGKILL)
        assert proc.wait(timeout=10) == -signal.SIGKILL
    finally:
        env.kill_group(proc)


def test_grandchild_outlives_the_fake_in_its_process_group(env: Any) -> None:
    log = env.root / "log.jsonl"
    path = scenario(env.root, {"grandchild": True})
    proc = env.start(
        ["exec", "--skip-git-repo-check", "--json", "--", "go"],
        scenario=path,
        extra_env={"FAKE_CODEX_LOG": str(log)},
    )
    try:
        proc.communicate(timeout=20)
        assert proc.returncode == 0
        record = json.loads(log.read_text())
        child = record["grandchild_pid"]
        assert os.getpgid(child) == proc.pid  # still alive, still in the fake's group
    finally:
        env.kill_group(proc)  # also ends the grandchild
