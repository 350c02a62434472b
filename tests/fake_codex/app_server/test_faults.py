"""The fake app-server's scenario faults (docs/scenarios.md, "App-server faults"): a model that
goes silent after a tool call, a turn that never sends `turn/completed`, a crash between
`thread/archive` and `thread/unarchive`, a reply longer than a client's line limit; each checked
against the same scenario without the fault, and bad fault values refused with their path."""

from __future__ import annotations

import json
import os
import select
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

from fake_codex.core.scenario import ScenarioError, parse_scenario

from ..conftest import Env, kill_group
from .test_app_server import Client, server

SHELL = {
    "type": "function_call",
    "name": "exec_command",
    "arguments": {"cmd": "echo ran"},
    "call_id": "call_sh",
}
DONE = {"output": [{"type": "message", "text": "the answer"}]}


def write(tmp: Path, turns: list[dict[str, Any]], **top: Any) -> Path:
    path = tmp / "scenario.json"
    path.write_text(json.dumps({"schema_version": 1, "turns": turns, **top}))
    return path


@pytest.fixture
def clients() -> Any:
    started: list[Client] = []
    yield started
    for client in started:
        kill_group(client.proc)


def open_thread(env: Env, path: Path, clients: list[Client]) -> tuple[Client, str]:
    client = server(env, path)
    clients.append(client)
    client.init()
    return client, client.start_thread(env.cwd)["id"]


def start_turn(client: Client, thread_id: str, text: str = "go") -> str:
    params = {"threadId": thread_id, "input": [{"type": "text", "text": text}]}
    return client.request("turn/start", params)["result"]["turn"]["id"]  # type: ignore[no-any-return]


def test_a_model_silent_after_a_tool_call_sends_nothing_more_until_interrupted(
    env: Env, tmp_path: Path, clients: list[Client]
) -> None:
    turn = {"requests": [{"output": [SHELL]}, DONE], "faults": {"silent_after_tool": True}}
    client, thread_id = open_thread(env, write(tmp_path, [turn]), clients)
    turn_id = start_turn(client, thread_id)
    while True:
        note = client.until("item/completed")
        if note["params"]["item"]["type"] == "commandExecution":
            break
    client.notes.clear()
    assert client.request("turn/interrupt", {"threadId": thread_id, "turnId": turn_id}) == {
        "id": client.n,
        "result": {},
    }
    end = client.until("turn/completed")
    assert end["params"]["turn"]["status"] == "interrupted"
    methods = [n["method"] for n in client.notes]
    assert "item/started" not in methods and "item/agentMessage/delta" not in methods, methods
    texts = [n["params"]["item"].get("text") for n in client.notes if "item" in n["params"]]
    assert "the answer" not in texts


def test_without_the_fault_the_same_turn_answers(
    env: Env, tmp_path: Path, clients: list[Client]
) -> None:
    client, thread_id = open_thread(
        env, write(tmp_path, [{"requests": [{"output": [SHELL]}, DONE]}]), clients
    )
    start_turn(client, thread_id)
    assert client.until("turn/completed")["params"]["turn"]["status"] == "completed"
    texts = [n["params"]["item"].get("text") for n in client.notes if "item" in n["params"]]
    assert "the answer" in texts


def test_a_turn_that_never_completes_answers_but_never_ends(
    env: Env, tmp_path: Path, clients: list[Client]
) -> None:
    turn = {"requests": [DONE], "faults": {"no_turn_completed": True}}
    client, thread_id = open_thread(env, write(tmp_path, [turn]), clients)
    turn_id = start_turn(client, thread_id)
    client.until("thread/tokenUsage/updated")  # the model's answer is in: the turn is done
    again = {"threadId": thread_id, "input": [{"type": "text", "text": "more"}]}
    busy = client.request("turn/start", again)
    assert busy["error"]["code"] == -32600  # the thread still has its turn running
    stop = client.request("turn/interrupt", {"threadId": thread_id, "turnId": turn_id})
    assert stop["result"] == {}
    client.request("thread/read", {"threadId": thread_id})  # a later reply comes...
    assert "turn/completed" not in [n.get("method") for n in client.notes]  # ...no end
    texts = [n["params"]["item"].get("text") for n in client.notes if "item" in n["params"]]
    assert "the answer" in texts


def test_a_crash_between_archive_and_unarchive_leaves_the_rollout_archived(
    env: Env, tmp_path: Path, clients: list[Client]
) -> None:
    path = write(
        tmp_path, [{"requests": [DONE]}], app_server_faults={"crash_after_reply": "thread/archive"}
    )
    client, thread_id = open_thread(env, path, clients)
    start_turn(client, thread_id)
    client.until("turn/completed")
    assert client.request("thread/archive", {"threadId": thread_id})["result"] == {}
    assert client.proc.wait(timeout=10) == 101
    assert client.proc.stderr is not None
    assert b"panicked" in client.proc.stderr.read()
    assert list((env.home / "archived_sessions").glob(f"*{thread_id}.jsonl"))
    assert not list((env.home / "sessions").rglob(f"*{thread_id}.jsonl"))


def test_an_oversize_reply_is_one_valid_line_of_the_size_asked(
    env: Env, tmp_path: Path, clients: list[Client]
) -> None:
    path = write(
        tmp_path, [], app_server_faults={"oversize_reply": {"method": "thread/start", "mib": 2}}
    )
    client = server(env, path)
    clients.append(client)
    client.init()
    lines = Lines(client.proc)
    client.send({"id": 7, "method": "thread/start", "params": {"cwd": str(env.cwd)}})
    line = lines.next()
    assert len(line) >= 2 * 1024 * 1024 and line.endswith(b"\n") and line.count(b"\n") == 1
    reply = json.loads(line)
    assert reply["id"] == 7 and reply["result"]["thread"]["id"]
    # Only that method: the next reply is its normal size.
    client.send(
        {"id": 8, "method": "thread/read", "params": {"threadId": reply["result"]["thread"]["id"]}}
    )
    while (small := lines.next()) and json.loads(small).get("id") != 8:
        pass
    assert len(small) < 64 * 1024


class Lines:
    """Whole lines from the server's stdout, read in large chunks (a 2 MiB line byte by byte
    would take minutes); fails rather than hangs."""

    def __init__(self, proc: subprocess.Popen[bytes]) -> None:
        assert proc.stdout is not None
        self.fd = proc.stdout.fileno()
        self.buf = b""

    def next(self, timeout: float = 20.0) -> bytes:
        deadline = time.monotonic() + timeout
        while b"\n" not in self.buf:
            left = deadline - time.monotonic()
            ready, _, _ = select.select([self.fd], [], [], max(left, 0))
            if not ready:
                pytest.fail(f"no complete line within {timeout}s ({len(self.buf)} bytes)")
            chunk = os.read(self.fd, 1 << 20)
            if not chunk:
                pytest.fail("the server closed its stdout")
            self.buf += chunk
        line, _, self.buf = self.buf.partition(b"\n")
        return line + b"\n"


@pytest.mark.parametrize(
    ("faults", "where"),
    [
        ({"crash_after_reply": 3}, "$.app_server_faults.crash_after_reply"),
        ({"oversize_reply": {"method": "thread/start", "mib": -1}}, "oversize_reply.mib"),
        ({"oversize_reply": {"mib": 1}}, "oversize_reply.method"),
        ({"hang": True}, "unknown key 'hang'"),
    ],
)
def test_bad_app_server_faults_are_refused_with_their_path(
    faults: dict[str, Any], where: str
) -> None:
    with pytest.raises(ScenarioError, match=where.replace("$", r"\$").replace(".", r"\.")):
        parse_scenario({"schema_version": 1, "turns": [], "app_server_faults": faults})
    with pytest.raises(ScenarioError, match="silent_after_tool"):
        turn = {"requests": [], "faults": {"silent_after_tool": "yes"}}
        parse_scenario({"schema_version": 1, "turns": [turn]})


def test_the_turn_faults_are_stdin_safe(env: Env, tmp_path: Path) -> None:
    """EOF on stdin still ends a server whose turn is silent (nothing waits forever)."""
    turn = {"requests": [{"output": [SHELL]}, DONE], "faults": {"silent_after_tool": True}}
    proc = env.start(["app-server"], write(tmp_path, [turn]), stdin=subprocess.PIPE)
    client = Client(proc)
    try:
        client.init()
        thread_id = client.start_thread(env.cwd)["id"]
        start_turn(client, thread_id)
        client.until("item/completed")
        assert proc.stdin is not None
        proc.stdin.close()
        proc.stdin = None  # closed: kill_group must not flush it
        assert proc.wait(timeout=10) == 0
    finally:
        kill_group(proc)
