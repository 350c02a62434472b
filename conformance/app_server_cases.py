"""The app-server conformance cases: a scenario (docs/scenarios.md) plus the steps both backends
play — `turn` (a prompt on the case's thread), `reload_after_edit` (archive, replace a text in
the rollout, unarchive, resume: what consume does to a loaded thread), `read` (thread/read,
`includeTurns` as given), `fork_turn` (thread/fork, then a turn on the fork), `interrupt` (a turn
interrupted once started), `archive_read_unarchive` (archive, read, unarchive, resume). Every
request's result is compared too (its keys and the thread's). Data only.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

Json = dict[str, Any]


@dataclass(frozen=True)
class Case:
    name: str
    scenario: Json
    steps: tuple[Json, ...]
    mcp: bool = False  # start the thread with the echo MCP server
    # Run in workspace-write with `approvalPolicy: on-request` and answer every approval request
    # codex makes with this decision (`accept`, `decline`).
    approval: str | None = None


def _message(text: str, deltas: list[str] | None = None) -> Json:
    item: Json = {"type": "message", "text": text}
    if deltas is not None:
        item["deltas"] = deltas
    return item


def _turns(*turns: Json) -> Json:
    return {"schema_version": 1, "turns": list(turns)}


SHELL = {
    "type": "function_call",
    "name": "exec_command",
    "arguments": {"cmd": "echo PAYLOAD_7"},
    "call_id": "call_sh",
}


MCP_CALL = {
    "type": "function_call",
    "namespace": "mcp__echo",
    "name": "echo",
    "arguments": {"text": "via mcp"},
    "call_id": "call_mcp",
}


# The model asks to leave the sandbox (`approvalPolicy: on-request` makes codex ask the client).
ESCALATED = {
    "type": "function_call",
    "name": "exec_command",
    "arguments": {
        "cmd": "touch ../outside-the-workspace",
        "sandbox_permissions": "require_escalated",
        "justification": "write next to the workspace",
    },
    "call_id": "call_esc",
}


USAGE = {"input_tokens": 11, "cached_tokens": 3, "output_tokens": 4, "reasoning_tokens": 1}


CASES: tuple[Case, ...] = (
    Case(
        "message",
        _turns({"requests": [{"output": [_message("hello")], "usage": USAGE}]}),
        ({"turn": "hi"},),
    ),
    Case(
        "deltas",
        _turns(
            {"requests": [{"output": [_message("a streamed reply", ["a str", "eamed", " reply"])]}]}
        ),
        ({"turn": "stream please"},),
    ),
    Case(
        "reasoning_two_messages",
        _turns(
            {
                "requests": [
                    {
                        "output": [
                            {"type": "reasoning", "summary": ["**Plan** think"]},
                            _message("first"),
                            _message("second"),
                        ],
                        "usage": USAGE,
                    }
                ]
            }
        ),
        ({"turn": "go"},),
    ),
    Case(
        "shell_then_message",
        _turns({"requests": [{"output": [SHELL], "usage": USAGE}, {"output": [_message("ran")]}]}),
        ({"turn": "run it"},),
    ),
    Case(
        "http_500",
        _turns({"requests": [{"http_status": 500, "body": "boom"}]}),
        ({"turn": "fail please"},),
    ),
    Case(
        "two_turns_warm",
        _turns(
            {"requests": [{"output": [_message("one")], "usage": USAGE}]},
            {
                "expect_prompt": "second",
                "expect_history_contains": ["one", "first"],
                "requests": [{"output": [_message("two")], "usage": USAGE}],
            },
        ),
        ({"turn": "first"}, {"turn": "second"}),
    ),
    Case(
        "edit_while_loaded_then_reload",
        _turns(
            {"requests": [{"output": [SHELL]}, {"output": [_message("ran")]}]},
            {"expect_history_contains": ["PAYLOAD_7"], "requests": [{"output": [_message("a")]}]},
            {"expect_history_excludes": ["PAYLOAD_7"], "requests": [{"output": [_message("b")]}]},
        ),
        (
            {"turn": "run it"},
            {"edit": ["PAYLOAD_7", "consumed"]},
            {"turn": "loaded: the edit is not seen"},
            {"reload_after_edit": True},
            {"turn": "reloaded: the edit is seen"},
        ),
    ),
    Case(
        "mcp_tool_call",
        _turns({"requests": [{"output": [MCP_CALL]}, {"output": [_message("called")]}]}),
        ({"turn": "call echo"},),
        mcp=True,
    ),
    Case(
        "read_fork_archive",
        _turns(
            {"requests": [{"output": [SHELL], "usage": USAGE}, {"output": [_message("ran")]}]},
            {
                "expect_history_contains": ["PAYLOAD_7", "ran"],
                "requests": [{"output": [_message("forked")], "usage": USAGE}],
            },
            {"requests": [{"output": [_message("resumed")]}]},
        ),
        (
            {"turn": "run it"},
            {"read": True},
            {"read": False},
            {"fork_turn": "on the fork"},
            {"archive_read_unarchive": True},
            {"turn": "after the round trip"},
        ),
    ),
    Case(
        "interrupt",
        # The last step: after an interrupt the real Responses server cannot tell the next
        # request's turn (the interrupted reply is still being streamed to nobody).
        _turns({"requests": [{"output": [_message("slow")], "delay_ms": 2000}]}),
        ({"interrupt": "stop me"},),
    ),
    Case(
        "approval_accepted",
        _turns({"requests": [{"output": [ESCALATED]}, {"output": [_message("ran")]}]}),
        ({"turn": "write outside"},),
        approval="accept",
    ),
    Case(
        "approval_declined",
        _turns({"requests": [{"output": [ESCALATED]}, {"output": [_message("not run")]}]}),
        ({"turn": "write outside"},),
        approval="decline",
    ),
)
