"""Every message the fake's app-server sends validates against the JSON Schema the emulated real
binary generates (`codex app-server generate-json-schema`, stable and `--experimental`), for each
pinned version: one fake process per version plays every request the fake implements (errors
included) and the notifications of messages, deltas, reasoning, shell, patch, MCP, retries,
failure, steer, interrupt, fork, approval requests (accepted, declined), unsubscribe,
archive. Marker `e2e`: the schemas come from the real binaries
(generated once per session; a missing binary fails)."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from conformance.app_server_schema import FLAVOURS, Schema, check_stream
from fake_codex.app_server.server import _HANDLERS
from fake_codex.core.versions import KNOWN_VERSIONS

from ..conftest import Env, kill_group, read_line

pytestmark = pytest.mark.e2e
REPO = Path(__file__).resolve().parents[3]
ECHO = REPO / "conformance" / "mcp_echo_server.py"
PATCH = "*** Begin Patch\n*** Add File: made.txt\n+made\n*** End Patch\n"
TURNS: list[dict[str, Any]] = [
    {
        "requests": [
            {
                "output": [
                    {"type": "reasoning", "summary": ["**Plan** run it"]},
                    {
                        "type": "function_call",
                        "name": "exec_command",
                        "arguments": {"cmd": "echo hi"},
                        "call_id": "call_sh",
                    },
                    {
                        "type": "custom_tool_call",
                        "name": "apply_patch",
                        "input": PATCH,
                        "call_id": "call_patch",
                    },
                ],
                "usage": {"input_tokens": 9, "output_tokens": 3},
            },
            {"output": [{"type": "message", "text": "done", "deltas": ["do", "ne"]}]},
        ]
    },
    {
        "requests": [
            {
                "output": [
                    {
                        "type": "function_call",
                        "namespace": "mcp__echo",
                        "name": "echo",
                        "arguments": {"text": "x"},
                        "call_id": "call_mcp",
                    }
                ]
            },
            {"output": [{"type": "message", "text": "called"}]},
        ]
    },
    {"requests": [{"http_status": 500, "body": "boom"}]},
    {"requests": [{"output": [{"type": "message", "text": "slow"}], "delay_ms": 30000}]},
    {"requests": [{"output": [{"type": "message", "text": "forked"}]}]},
    *(
        {
            "requests": [
                {
                    "output": [
                        {
                            "type": "function_call",
                            "name": "exec_command",
                            "arguments": {
                                "cmd": "echo escalated",
                                "sandbox_permissions": "require_escalated",
                                "justification": "outside the sandbox",
                            },
                            "call_id": f"call_esc_{n}",
                        }
                    ]
                },
                {"output": [{"type": "message", "text": "after the approval"}]},
            ]
        }
        for n in (1, 2)
    ),
]
# What the session above must make the fake send (so a notification that stops being sent, or a
# new request left out of the session, fails here rather than going unchecked).
NOTIFICATIONS = {
    "thread/started",
    "thread/status/changed",
    "turn/started",
    "turn/completed",
    "item/started",
    "item/completed",
    "item/agentMessage/delta",
    "thread/tokenUsage/updated",
    "error",
    "thread/archived",
    "thread/unarchived",
}


class Session:
    """A JSON-RPC client that keeps every message it sent and received."""

    def __init__(self, proc: subprocess.Popen[bytes]) -> None:
        self.proc = proc
        self.n = 0
        self.sent: list[dict[str, Any]] = []
        self.received: list[dict[str, Any]] = []

    def _read(self) -> dict[str, Any]:
        message = json.loads(read_line(self.proc.stdout, timeout=30))
        assert isinstance(message, dict)
        self.received.append(message)
        return message

    def request(self, method: str, params: dict[str, Any]) -> dict[str, Any]:
        self.n += 1
        message = {"id": self.n, "method": method, "params": params}
        self.sent.append(message)
        assert self.proc.stdin is not None
        self.proc.stdin.write(json.dumps(message).encode() + b"\n")
        self.proc.stdin.flush()
        while True:
            reply = self._read()
            if reply.get("id") == self.n and "method" not in reply:
                return reply

    def until(self, method: str) -> dict[str, Any]:
        while True:
            message = self._read()
            if message.get("method") == method:
                return message

    def turn(self, thread_id: str, text: str) -> dict[str, Any]:
        params = {"threadId": thread_id, "input": [{"type": "text", "text": text}]}
        assert "result" in self.request("turn/start", params)
        return self.until("turn/completed")

    def approved_turn(self, thread_id: str, decision: str) -> dict[str, Any]:
        """A turn under `on-request` whose approval request is answered with `decision`."""
        params = {
            "threadId": thread_id,
            "input": [{"type": "text", "text": "escalate"}],
            "approvalPolicy": "on-request",
        }
        assert "result" in self.request("turn/start", params)
        asked = self.until("item/commandExecution/requestApproval")
        assert "id" in asked
        assert self.proc.stdin is not None
        answer = {"id": asked["id"], "result": {"decision": decision}}
        self.proc.stdin.write(json.dumps(answer).encode() + b"\n")
        self.proc.stdin.flush()
        return self.until("turn/completed")


def play_everything(env: Env, version: str) -> Session:
    scenario = env.root / "scenario.json"
    scenario.write_text(json.dumps({"schema_version": 1, "codex_version": version, "turns": TURNS}))
    proc = env.start(["app-server"], scenario, stdin=subprocess.PIPE)
    s = Session(proc)
    try:
        assert "error" in s.request("thread/start", {"cwd": str(env.cwd)})
        assert "result" in s.request("initialize", {"clientInfo": {"name": "t", "version": "1"}})
        assert "error" in s.request("initialize", {"clientInfo": {"name": "t", "version": "1"}})
        echo = {"command": sys.executable, "args": ["-I", str(ECHO)], "required": True}
        start = {
            "cwd": str(env.cwd),
            "model": "gpt-5.5",
            "approvalPolicy": "never",
            "sandbox": "danger-full-access",
            "config": {"mcp_servers": {"echo": echo}},
        }
        thread = s.request("thread/start", start)["result"]["thread"]["id"]
        assert s.turn(thread, "run it")["params"]["turn"]["status"] == "completed"
        assert s.turn(thread, "call echo")["params"]["turn"]["status"] == "completed"
        assert s.turn(thread, "fail")["params"]["turn"]["status"] == "failed"
        s.request("thread/read", {"threadId": thread, "includeTurns": True})
        s.request("thread/read", {"threadId": thread})
        params = {"threadId": thread, "input": [{"type": "text", "text": "slow"}]}
        turn_id = s.request("turn/start", params)["result"]["turn"]["id"]
        s.until("turn/started")
        steer = {"threadId": thread, "expectedTurnId": turn_id, "input": params["input"]}
        assert s.request("turn/steer", steer)["result"] == {"turnId": turn_id}
        assert "error" in s.request("turn/steer", {**steer, "expectedTurnId": "other"})
        s.request("turn/interrupt", {"threadId": thread, "turnId": turn_id})
        assert s.until("turn/completed")["params"]["turn"]["status"] == "interrupted"
        assert "error" in s.request("turn/interrupt", {"threadId": thread, "turnId": turn_id})
        fork = s.request("thread/fork", {"threadId": thread, "sandbox": "danger-full-access"})
        fork_id = fork["result"]["thread"]["id"]
        assert s.turn(fork_id, "on the fork")["params"]["turn"]["status"] == "completed"
        assert s.approved_turn(fork_id, "accept")["params"]["turn"]["status"] == "completed"
        assert s.approved_turn(fork_id, "decline")["params"]["turn"]["status"] == "completed"
        assert "result" in s.request("thread/unsubscribe", {"threadId": fork_id})
        s.request("thread/archive", {"threadId": thread})
        s.request("thread/read", {"threadId": thread})
        s.request("thread/unarchive", {"threadId": thread})
        s.request("thread/resume", {"threadId": thread, "sandbox": "danger-full-access"})
        unknown = "01a232b3-0000-7000-8000-000000000000"
        assert "error" in s.request("thread/resume", {"threadId": unknown})
        assert "error" in s.request("thread/nonsense", {})
    finally:
        kill_group(proc)
    return s


@pytest.mark.parametrize("version", KNOWN_VERSIONS)
def test_every_message_the_fake_app_server_sends_is_valid_for_its_versions_schema(
    version: str, env: Env, app_server_schemas: Callable[[str, str], Schema]
) -> None:
    session = play_everything(env, version)
    answered = {m["method"] for m in session.sent}
    assert answered >= {"initialize", *_HANDLERS}, "a method the fake implements is not played"
    asked = {m["method"] for m in session.received if "method" in m and "id" in m}
    assert asked == {"item/commandExecution/requestApproval"}
    seen = {m["method"] for m in session.received if "method" in m}
    assert seen >= NOTIFICATIONS, NOTIFICATIONS - seen
    items = {
        m["params"]["item"]["type"] for m in session.received if m.get("method") == "item/started"
    }
    assert items >= {"userMessage", "reasoning", "commandExecution", "fileChange", "mcpToolCall"}
    for flavour in FLAVOURS:
        problems = check_stream(
            app_server_schemas(version, flavour), session.sent, session.received
        )
        assert problems == [], f"{version} {flavour}: {len(problems)}:\n" + "\n".join(problems[:10])


def test_the_check_fails_a_reply_the_real_binary_would_not_send(
    app_server_schemas: Callable[[str, str], Schema],
) -> None:
    """The shape the fake's thread/start reply had before (no approvalsReviewer, a thread
    without cliVersion/updatedAt…) is refused, as are an unknown notification and a bad item."""
    schema = app_server_schemas(KNOWN_VERSIONS[-1], "stable")
    thread = {"id": "t", "path": "/p", "cwd": "/w", "modelProvider": "openai", "turns": []}
    old = {
        "thread": {**thread, "status": {"type": "idle"}},
        "model": "gpt-5.5",
        "modelProvider": "openai",
        "cwd": "/w",
        "approvalPolicy": "never",
        "sandbox": {"type": "dangerFullAccess"},
    }
    problems = schema.problems({"id": 1, "result": old}, "thread/start")
    assert any("approvalsReviewer" in p for p in problems)
    assert any("cliVersion" in p for p in problems) and any("updatedAt" in p for p in problems)
    assert schema.problems({"method": "thread/nonsense", "params": {}})
    bad_item = {"item": {"type": "agentMessage", "id": "m"}, "threadId": "t", "turnId": "u"}
    assert schema.problems({"method": "item/started", "params": bad_item})
