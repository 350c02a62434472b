"""The fake's `app-server`: the handshake rules, threads, a turn's notifications from a scenario
(deltas included), archive/unarchive moving the rollout, a loaded thread that ignores edits to its
rollout until it is unloaded, and `turn/interrupt`."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from fake_codex.core.gates import FileGate

from ..conftest import Env, kill_group, read_line


class Client:
    def __init__(self, proc: subprocess.Popen[bytes]) -> None:
        self.proc = proc
        self.n = 0
        self.notes: list[dict[str, Any]] = []

    def send(self, message: dict[str, Any]) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(json.dumps(message).encode() + b"\n")
        self.proc.stdin.flush()

    def request(self, method: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        self.n += 1
        self.send({"id": self.n, "method": method, "params": params or {}})
        while True:
            message = json.loads(read_line(self.proc.stdout))
            if message.get("id") == self.n:
                return message  # type: ignore[no-any-return]
            self.notes.append(message)

    def until(self, method: str) -> dict[str, Any]:
        """Notifications up to and including the first `method`."""
        while True:
            message = json.loads(read_line(self.proc.stdout))
            self.notes.append(message)
            if message.get("method") == method:
                return message  # type: ignore[no-any-return]

    def init(self) -> None:
        assert "result" in self.request("initialize", {"clientInfo": {"name": "t", "version": "1"}})
        self.send({"method": "initialized"})

    def start_thread(self, cwd: Path) -> dict[str, Any]:
        reply = self.request("thread/start", {"cwd": str(cwd), "approvalPolicy": "never"})
        self.until("thread/started")  # right after the reply, as the real binary sends it
        return reply["result"]["thread"]  # type: ignore[no-any-return]

    def turn(self, thread_id: str, text: str) -> list[dict[str, Any]]:
        self.notes.clear()
        params = {"threadId": thread_id, "input": [{"type": "text", "text": text}]}
        assert self.request("turn/start", params)["result"]["turn"]["status"] == "inProgress"
        self.until("turn/completed")
        return list(self.notes)


def scenario(tmp: Path, *turns: dict[str, Any]) -> Path:
    path = tmp / "scenario.json"
    path.write_text(json.dumps({"schema_version": 1, "turns": list(turns)}))
    return path


def server(env: Env, scenario_path: Path | None = None) -> Client:
    proc = env.start(["app-server"], scenario_path, stdin=subprocess.PIPE)
    return Client(proc)


@pytest.fixture
def cleanup() -> Any:
    started: list[Client] = []
    yield started
    for client in started:
        kill_group(client.proc)


def test_requests_before_initialize_are_refused_and_initialize_only_once(
    env: Env, cleanup: list[Client]
) -> None:
    client = server(env)
    cleanup.append(client)
    early = client.request("thread/start", {"cwd": str(env.cwd)})
    assert early["error"] == {"code": -32600, "message": "Not initialized"}
    first = client.request("initialize", {"clientInfo": {"name": "t", "version": "1"}})
    assert set(first["result"]) == {"userAgent", "codexHome", "platformFamily", "platformOs"}
    again = client.request("initialize", {"clientInfo": {"name": "t", "version": "1"}})
    assert again["error"]["message"] == "Already initialized"


def test_a_turn_streams_the_scenarios_deltas_and_ends_with_usage_then_completed(
    env: Env, tmp_path: Path, cleanup: list[Client]
) -> None:
    message = {"type": "message", "text": "hello world", "deltas": ["hel", "lo ", "world"]}
    reply = {"output": [message], "usage": {"input_tokens": 7, "output_tokens": 2}}
    client = server(env, scenario(tmp_path, {"requests": [reply]}))
    cleanup.append(client)
    client.init()
    thread = client.start_thread(env.cwd)
    assert Path(thread["path"]).exists()
    notes = client.turn(thread["id"], "hi")
    methods = [n["method"] for n in notes]
    assert methods[:2] == ["thread/status/changed", "turn/started"]
    assert [n["params"]["delta"] for n in notes if n["method"] == "item/agentMessage/delta"] == [
        "hel",
        "lo ",
        "world",
    ]
    usage = next(n for n in notes if n["method"] == "thread/tokenUsage/updated")
    assert usage["params"]["tokenUsage"]["last"]["inputTokens"] == 7
    assert methods.index("thread/tokenUsage/updated") < methods.index("turn/completed")
    assert notes[-1]["params"]["turn"]["status"] == "completed"


def test_resume_of_an_unknown_thread_says_no_rollout_found(env: Env, cleanup: list[Client]) -> None:
    client = server(env)
    cleanup.append(client)
    client.init()
    unknown = "01a232b3-0000-7000-8000-000000000000"
    reply = client.request("thread/resume", {"threadId": unknown})
    assert reply["error"] == {
        "code": -32600,
        "message": f"no rollout found for thread id {unknown}",
    }


def test_a_loaded_thread_ignores_an_edit_until_archived_and_unarchived(
    env: Env, tmp_path: Path, cleanup: list[Client]
) -> None:
    shell = {
        "type": "function_call",
        "name": "exec_command",
        "arguments": {"cmd": "echo SECRET_PAYLOAD"},
        "call_id": "call_1",
    }
    done = {"output": [{"type": "message", "text": "ok"}]}
    turns = (
        {"requests": [{"output": [shell]}, done]},
        # Loaded: the edit below is not seen, the payload still is.
        {"requests": [done], "expect_history_contains": ["SECRET_PAYLOAD"]},
        # Reloaded after archive/unarchive/resume: the edit is seen.
        {"requests": [done], "expect_history_excludes": ["SECRET_PAYLOAD"]},
    )
    client = server(env, scenario(tmp_path, *turns))
    cleanup.append(client)
    client.init()
    thread = client.start_thread(env.cwd)
    client.turn(thread["id"], "run it")
    path = Path(thread["path"])
    path.write_text(path.read_text().replace("SECRET_PAYLOAD", "consumed"))
    assert client.turn(thread["id"], "again")[-1]["params"]["turn"]["status"] == "completed"
    assert "result" in client.request("thread/archive", {"threadId": thread["id"]})
    assert not path.exists()
    assert list((env.home / "archived_sessions").glob(f"*{thread['id']}.jsonl"))
    unarchived = client.request("thread/unarchive", {"threadId": thread["id"]})
    assert unarchived["result"]["thread"]["status"] == {"type": "notLoaded"}
    assert path.exists()
    assert "result" in client.request("thread/resume", {"threadId": thread["id"]})
    last = client.turn(thread["id"], "once more")[-1]
    assert last["params"]["turn"]["status"] == "completed", last


def test_a_history_mismatch_fails_the_turn_with_the_reason(
    env: Env, tmp_path: Path, cleanup: list[Client]
) -> None:
    turn = {"requests": [{"output": []}], "expect_prompt": "expected"}
    client = server(env, scenario(tmp_path, turn))
    cleanup.append(client)
    client.init()
    thread = client.start_thread(env.cwd)
    notes = client.turn(thread["id"], "something else")
    end = notes[-1]["params"]["turn"]
    assert end["status"] == "failed" and "expect_prompt" in end["error"]["message"]


def test_interrupt_ends_a_held_turn_at_once(
    env: Env, tmp_path: Path, cleanup: list[Client]
) -> None:
    held = {"output": [{"type": "message", "text": "held"}], "gate": "model"}
    client = server(env, scenario(tmp_path, {"requests": [held]}))
    cleanup.append(client)
    client.init()
    thread = client.start_thread(env.cwd)
    params = {"threadId": thread["id"], "input": [{"type": "text", "text": "x"}]}
    turn_id = client.request("turn/start", params)["result"]["turn"]["id"]
    client.until("turn/started")
    gate = FileGate(env.home, "model")
    gate.wait_reached(timeout=10)  # the model holds the turn
    reply = client.request("turn/interrupt", {"threadId": thread["id"], "turnId": turn_id})
    assert reply["result"] == {}
    end = client.until("turn/completed")
    turn = end["params"]["turn"]
    assert (turn["id"], turn["items"], turn["status"], turn["error"]) == (
        turn_id,
        [],
        "interrupted",
        None,
    )
    gate.release()  # the interrupted worker ends; its output is dropped


def test_eof_on_stdin_ends_the_server_with_exit_0(env: Env, cleanup: list[Client]) -> None:
    client = server(env)
    client.init()
    assert client.proc.stdin is not None
    client.proc.stdin.close()
    assert client.proc.wait(timeout=10) == 0
    assert client.proc.stdout is not None and client.proc.stderr is not None
    client.proc.stdout.close()
    client.proc.stderr.close()


def test_automatic_compaction_drops_the_call_from_the_loaded_history(
    env: Env, tmp_path: Path, cleanup: list[Client]
) -> None:
    shell = {
        "type": "function_call",
        "name": "exec_command",
        "arguments": {"cmd": "echo CALL_PAYLOAD"},
        "call_id": "call_c1",
    }
    usage = {"input_tokens": 20000, "output_tokens": 5}  # past the limit: compact mid-turn
    summary = {"output": [{"type": "message", "text": "SUMMARY_OF_IT"}]}
    done = {"output": [{"type": "message", "text": "ok"}]}
    turns = (
        {"requests": [{"output": [shell], "usage": usage}, summary, done]},
        {
            "requests": [done],
            "expect_history_contains": ["SUMMARY_OF_IT"],
            "expect_history_excludes": ["CALL_PAYLOAD"],
        },
    )
    path = scenario(tmp_path, *turns)
    limit = ["-c", "model_auto_compact_token_limit=10000"]
    client = Client(env.start(["app-server", *limit], path, stdin=subprocess.PIPE))
    cleanup.append(client)
    client.init()
    thread = client.start_thread(env.cwd)
    first = client.turn(thread["id"], "run it")
    assert first[-1]["params"]["turn"]["status"] == "completed"
    lines = [json.loads(line) for line in Path(thread["path"]).read_text().splitlines()]
    (compacted,) = [ln["payload"] for ln in lines if ln["type"] == "compacted"]
    assert "CALL_PAYLOAD" not in json.dumps(compacted["replacement_history"])
    second = client.turn(thread["id"], "again")
    assert second[-1]["params"]["turn"]["status"] == "completed", second[-1]


def test_a_resumed_thread_whose_rollout_lost_an_output_sends_it_aborted(
    env: Env, tmp_path: Path, cleanup: list[Client]
) -> None:
    """The loaded history is repaired like codex does before each request (a call without
    output gets "aborted"), so the turn completes instead of hitting the API's 400."""
    shell = {
        "type": "function_call",
        "name": "exec_command",
        "arguments": {"cmd": "printf APP-%s RESULT"},
        "call_id": "call_1",
    }
    done = {"output": [{"type": "message", "text": "ok"}]}
    turns = (
        {"requests": [{"output": [shell]}, done]},
        {
            "requests": [done],
            "expect_history_contains": ["aborted"],
            "expect_history_excludes": ["APP-RESULT"],
        },
    )
    path_to_scenario = scenario(tmp_path, *turns)
    first = server(env, path_to_scenario)
    cleanup.append(first)
    first.init()
    thread = first.start_thread(env.cwd)
    first.turn(thread["id"], "run it")
    kill_group(first.proc)
    path = Path(thread["path"])
    lines = path.read_text().splitlines(keepends=True)
    call = next(n for n, ln in enumerate(lines) if '"type":"function_call",' in ln)
    path.write_text("".join(lines[: call + 1]))  # a crash right after the call

    second = server(env, path_to_scenario)
    cleanup.append(second)
    second.init()
    assert "result" in second.request("thread/resume", {"threadId": thread["id"]})
    last = second.turn(thread["id"], "again")[-1]
    assert last["params"]["turn"]["status"] == "completed", last
