"""The Responses API's tool-call pairing rule, checked on every request's `input` like the API
(and codex's own mock server) does: each `function_call_output` / `custom_tool_call_output` /
`tool_search_output` answers a call made earlier in the input, every call has its output, no
`call_id` is empty. `api_error` is the API's HTTP 400 body for a violation; `report` tells the
test suite (`$FAKE_CODEX_VIOLATIONS`, a file the pytest plugin reads). Pure but for `report`.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Sequence
from typing import Any

REPORT_ENV = "FAKE_CODEX_VIOLATIONS"
# call type -> (the output type that answers it, the API's name for both in its messages)
_CALLS = {
    "function_call": ("function_call_output", "function call"),
    "local_shell_call": ("function_call_output", "function call"),
    "custom_tool_call": ("custom_tool_call_output", "custom tool call"),
    "tool_search_call": ("tool_search_output", "tool search call"),
}
_OUTPUTS = {
    "function_call_output": "function call output",
    "custom_tool_call_output": "custom tool call output",
    "tool_search_output": "tool search output",
}


def violations(items: Sequence[Any]) -> list[str]:
    """What the API would reject in `input`, in its words; [] for a well-formed input."""
    problems: list[str] = []
    open_calls: dict[str, tuple[int, str, str]] = {}  # call_id -> (index, output type, name)
    answered: set[str] = set()
    for index, item in enumerate(items):
        kind = item.get("type") if isinstance(item, dict) else None
        if kind in _CALLS or kind in _OUTPUTS:
            assert isinstance(item, dict)
            call_id = item.get("call_id")
            if kind in ("tool_search_call", "tool_search_output") and call_id is None:
                continue  # a search the server ran itself carries no call_id
            if call_id is None:
                problems.append(f"Missing required parameter: 'input[{index}].call_id'.")
                continue
            if not isinstance(call_id, str) or not call_id:
                problems.append(
                    f"Invalid 'input[{index}].call_id': empty string. Expected a string with "
                    "minimum length 1, but got an empty string instead."
                )
                continue
            if kind in _CALLS:
                output, name = _CALLS[kind]
                open_calls[call_id] = (index, output, name)
                continue
            call = open_calls.get(call_id)
            if call is None or call[1] != kind:
                problems.append(f"No tool call found for {_OUTPUTS[kind]} with call_id {call_id}.")
            else:
                answered.add(call_id)
    for call_id, (_index, _output, name) in open_calls.items():
        if call_id not in answered:
            problems.append(f"No tool output found for {name} {call_id}.")
    return problems


def api_error(problems: Sequence[str]) -> dict[str, Any]:
    """The API's 400 body for the first problem (it reports one at a time)."""
    return {
        "error": {
            "message": problems[0],
            "type": "invalid_request_error",
            "param": "input",
            "code": None,
        }
    }


def report(who: str, problems: Sequence[str]) -> None:
    """Say it on stderr and, when the suite asked (`$FAKE_CODEX_VIOLATIONS`), append a JSON line
    to its file: a broken request must fail the test suite, not only the turn it broke."""
    sys.stderr.write(f"{who}: a request breaks the API's tool-call pairing: {problems[0]}\n")
    target = os.environ.get(REPORT_ENV)
    if not target:
        return
    line = json.dumps({"who": who, "pid": os.getpid(), "problems": list(problems)}) + "\n"
    fd = os.open(target, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        os.write(fd, line.encode())  # one write with O_APPEND: lines of processes never mix
    finally:
        os.close(fd)
