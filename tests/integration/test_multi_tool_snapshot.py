"""The canonical events of a turn with every kind of tool call, snapshotted: live items, then the
mirrored tool_call/tool_result blocks with codex's call ids, then message_end — for 0.169 (classic
and code mode) and 0.135."""

from __future__ import annotations

from typing import Any

import pytest
from syrupy.assertion import SnapshotAssertion
from syrupy.extensions.json import JSONSnapshotExtension

from plexum_openai_provider.bridge.names import namespace, server_name
from plexum_openai_provider.cli.builtin_tools import BUILTIN_TOOLS, call_builtin
from plexum_openai_provider.turn import TurnRequest, run_turn

from .conftest import FAST_LIMITS, ProviderOnFake
from .test_scenario_snapshots import normalise

NS = namespace(server_name("cli"))
SHELL = {
    "type": "function_call",
    "name": "exec_command",
    "arguments": {"cmd": "echo shell-out"},
    "call_id": "call_sh",
}
PATCH = {
    "type": "custom_tool_call",
    "name": "apply_patch",
    "call_id": "call_patch",
    "input": "*** Begin Patch\n*** Add File: notes.txt\n+hello\n*** End Patch\n",
}
ECHO = {
    "type": "function_call",
    "namespace": NS,
    "name": "echo",
    "arguments": {"text": "echoed"},
    "call_id": "call_mcp",
}
CODE = {
    "type": "custom_tool_call",
    "name": "exec",
    "namespace": "functions",
    "call_id": "call_js",
    "input": f'const r = await tools.{NS}__echo({{text: "from js"}});\ntext(JSON.stringify(r));',
}
USAGE = {"input_tokens": 40, "cached_tokens": 10, "output_tokens": 7, "reasoning_tokens": 2}
DONE = {"output": [{"type": "message", "text": "all done"}], "usage": USAGE}


def turn(*outputs: dict[str, Any]) -> dict[str, Any]:
    return {"requests": [{"output": [o]} for o in outputs] + [DONE]}


@pytest.mark.parametrize(
    ("version", "outputs"),
    [("0.169.0", (SHELL, PATCH, ECHO)), ("0.169.0", (CODE,)), ("0.135.0", (SHELL, PATCH, ECHO))],
    ids=["v169-classic", "v169-code-mode", "v135-classic"],
)
async def test_canonical_events_of_a_multi_tool_turn(
    provider: ProviderOnFake,
    snapshot: SnapshotAssertion,
    version: str,
    outputs: tuple[dict[str, Any], ...],
) -> None:
    provider.scenario([turn(*outputs)], codex_version=version)
    config = provider.with_config(socket_dir=str(provider.root / "sock"))
    request = TurnRequest(
        prompt="use every tool",
        workspace=provider.workspace(),
        tools=BUILTIN_TOOLS,
        call_tool=call_builtin,
    )
    events = await run_turn(config, request, FAST_LIMITS)
    assert events[-1].type == "message_end", events[-1]
    ids: dict[str, str] = {}
    normalised = [normalise(e.to_json(), str(provider.root), ids) for e in events]
    assert normalised == snapshot.use_extension(JSONSnapshotExtension)
