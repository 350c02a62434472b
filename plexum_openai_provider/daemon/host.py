"""The reference host: what the Plexum daemon does with `serve`, in a few hundred lines.

It starts `serve` as a child, initializes it, runs turns, answers `tools/call` from its own tools
(`echo`, and `read_report` whose payload is heavy enough that consuming it matters), and keeps
each session's blocks like Plexum: `<data>/<agent>/<session>/dynamic.jsonl`, one block per line,
a tool block's id being codex's call id. `consume` picks blocks from those records, asks the
plugin to blank them in codex's rollout, and marks them consumed there.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..door.version import PROTOCOL_VERSION
from ..errors import RemoteError
from ..files import atomic_write_text
from ..jsonrpc.messages import encode_line
from ..version import __version__
from .client import Observer, PluginConnection, TurnOutcome, serve_argv
from .policy import ApprovalPolicy, over_fraction

SHUTDOWN_WAIT_S = 30.0
ToolHandler = Callable[[Mapping[str, Any]], Awaitable[Mapping[str, Any]]]


@dataclass(frozen=True)
class HostTool:
    """A tool the host offers: its spec on the wire, and what answers a call."""

    name: str
    description: str
    input_schema: Mapping[str, Any]
    handler: ToolHandler

    def spec(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "description": self.description,
            "input_schema": dict(self.input_schema),
        }


def text_result(text: str, *, is_error: bool = False) -> dict[str, Any]:
    return {"content": [{"type": "text", "text": text}], "isError": is_error}


async def _echo(arguments: Mapping[str, Any]) -> Mapping[str, Any]:
    text = arguments.get("text")
    if not isinstance(text, str):
        return text_result("echo needs a string argument `text`", is_error=True)
    return text_result(text)


def report_rows(rows: int) -> str:
    """The heavy payload of `read_report`: deterministic rows, so a test can look for one."""
    return "\n".join(
        f"report row {i:04d}: region-{i % 7} revenue {1000 + 37 * i} units {i * 3 % 101}"
        for i in range(1, rows + 1)
    )


async def _read_report(arguments: Mapping[str, Any]) -> Mapping[str, Any]:
    rows = arguments.get("rows", 200)
    if isinstance(rows, bool) or not isinstance(rows, int) or not 1 <= rows <= 100_000:
        return text_result("read_report needs an integer `rows` from 1 to 100000", is_error=True)
    return text_result(report_rows(rows))


DEMO_TOOLS = (
    HostTool(
        "echo",
        "Return the given text unchanged.",
        {"type": "object", "properties": {"text": {"type": "string"}}, "required": ["text"]},
        _echo,
    ),
    HostTool(
        "read_report",
        "Read the sales report: one line per row (a large payload).",
        {"type": "object", "properties": {"rows": {"type": "integer", "minimum": 1}}},
        _read_report,
    ),
)


def _safe_part(value: str) -> str:
    """An id as one path component: letters, digits, - and _ kept, the rest %XX (dots too)."""
    return (
        "".join(
            c
            if c.isascii() and (c.isalnum() or c in "-_")
            else "".join(f"%{b:02X}" for b in c.encode())
            for c in value
        )
        or "%"
    )


def _atomic_write_lines(path: Path, records: Sequence[Mapping[str, Any]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    # encode_line never raises: a lone surrogate becomes U+FFFD; lines end at b"\n" only.
    atomic_write_text(path, "".join(encode_line(r).decode() for r in records))


class ReferenceHost:
    """A daemon in miniature around one `serve` connection."""

    def __init__(
        self, conn: PluginConnection, data_dir: Path, tools: Sequence[HostTool] = DEMO_TOOLS
    ) -> None:
        self.conn = conn
        self.data_dir = data_dir
        self.tools = {t.name: t for t in tools}
        self.initialize_result: dict[str, Any] = {}
        self._turn_ids = itertools.count(1)
        self.tool_calls: list[dict[str, Any]] = []  # every tools/call the plugin made
        self.approvals: list[dict[str, Any]] = []  # every approval/request and its decision

    @classmethod
    @contextlib.asynccontextmanager
    async def start(
        cls,
        data_dir: Path,
        *,
        config_path: Path,
        tools: Sequence[HostTool] = DEMO_TOOLS,
        env: Mapping[str, str] | None = None,
        stderr: int | None = None,
        observe: Observer | None = None,
        argv: Sequence[str] | None = None,
        approval_policy: ApprovalPolicy | None = None,
    ) -> AsyncIterator[ReferenceHost]:
        """Start `serve`, initialize it, and shut it down when the block ends. With an
        `approval_policy` the host declares `capabilities.approvals` and answers codex's
        approval requests with it (every one is recorded in `approvals`)."""
        host: ReferenceHost | None = None

        async def on_tools_call(params: Mapping[str, Any]) -> Mapping[str, Any]:
            assert host is not None
            return await host.call_tool(params)

        conn = await PluginConnection.start(
            argv or serve_argv(config_path),
            env=env,
            stderr=stderr,
            on_tools_call=on_tools_call,
            observe=observe,
        )
        host = cls(conn, data_dir, tools)
        if approval_policy is not None:
            policy = approval_policy

            async def on_approval(params: Mapping[str, Any]) -> Mapping[str, Any]:
                assert host is not None
                decision = await policy(params)
                host.approvals.append({**params, "decision": decision})
                return {"decision": decision}

            conn.on_approval = on_approval
        try:
            await host.initialize(approvals=approval_policy is not None)
            yield host
        finally:
            with contextlib.suppress(RemoteError, ConnectionError, TimeoutError):
                if conn.proc.returncode is None:
                    # Running turns end within codex's kill grace; a plugin that hangs is killed.
                    await asyncio.wait_for(conn.request("shutdown"), SHUTDOWN_WAIT_S)
            await conn.close()

    async def initialize(self, *, approvals: bool = False) -> dict[str, Any]:
        params: dict[str, Any] = {
            "protocol_version": PROTOCOL_VERSION,
            "host": {"name": "plexum-openai-provider reference host", "version": __version__},
        }
        if approvals:
            params["capabilities"] = {"approvals": True}
        self.initialize_result = await self.conn.request("initialize", params)
        return self.initialize_result

    async def call_tool(self, params: Mapping[str, Any]) -> Mapping[str, Any]:
        self.tool_calls.append(dict(params))
        tool = self.tools.get(str(params.get("name")))
        if tool is None:
            return text_result(f"this host has no tool {params.get('name')!r}", is_error=True)
        arguments = params.get("arguments")
        return await tool.handler(arguments if isinstance(arguments, dict) else {})

    # -- turns and blocks ------------------------------------------------------------------

    def dynamic_path(self, agent_id: str, session_id: str) -> Path:
        return self.data_dir / _safe_part(agent_id) / _safe_part(session_id) / "dynamic.jsonl"

    def blocks(self, agent_id: str, session_id: str) -> list[dict[str, Any]]:
        path = self.dynamic_path(agent_id, session_id)
        if not path.exists():
            return []
        # Lines end at b"\n" only: str.splitlines() would also cut at U+2028, U+2029 or U+0085,
        # which JSON strings (a tool's output) may hold as they are.
        lines = path.read_bytes().split(b"\n")
        return [json.loads(line) for line in lines if line.strip()]

    async def turn(
        self,
        agent_id: str,
        workspace: Path,
        session_id: str,
        text: str,
        *,
        model: str = "codex",
        turn_id: str | None = None,
        tools: bool = True,
        on_event: Callable[[dict[str, Any]], None] | None = None,
        consume_over: float | None = None,
    ) -> TurnOutcome:
        """Run one turn through the plugin and record its blocks in the session's file; with
        `consume_over`, consume the session's tool blocks when the turn leaves the thread's
        context at least that full (`policy.over_fraction`)."""
        turn_id = turn_id or f"{agent_id}-turn-{next(self._turn_ids)}"
        params = {
            "turn_id": turn_id,
            "agent": {"id": agent_id, "workspace": str(workspace)},
            "session_id": session_id,
            "model": model,
            "input": text,
            "tools": [t.spec() for t in self.tools.values()] if tools else [],
        }
        outcome = await self.conn.turn(params, on_event=on_event)
        self._record(agent_id, session_id, turn_id, text, outcome.events)
        if consume_over is not None and over_fraction(outcome.terminal, consume_over):
            await self.consume(agent_id, workspace, session_id)
        return outcome

    def _record(
        self,
        agent_id: str,
        session_id: str,
        turn_id: str,
        text: str,
        events: Sequence[Mapping[str, Any]],
    ) -> None:
        blocks = self.blocks(agent_id, session_id)
        blocks.append({"id": f"{turn_id}/user", "turn_id": turn_id, "kind": "user", "text": text})
        tool_blocks: dict[str, dict[str, Any]] = {}
        for n, event in enumerate(events):
            if event["type"] == "text_delta":
                blocks.append(
                    {
                        "id": f"{turn_id}/text-{n}",
                        "turn_id": turn_id,
                        "kind": "assistant",
                        "text": event["text"],
                    }
                )
            elif event["type"] == "tool_call":
                block = {
                    "id": event["block_id"],
                    "turn_id": turn_id,
                    "kind": "tool",
                    "tool": event.get("tool") or event["name"],
                    "input": event.get("input"),
                    "output": None,
                    "output_bytes": 0,
                    "is_error": False,
                    "consumed": False,
                }
                tool_blocks[event["block_id"]] = block
                blocks.append(block)
            elif event["type"] == "tool_result" and event["block_id"] in tool_blocks:
                block = tool_blocks[event["block_id"]]
                block["output"] = event["output"]
                block["output_bytes"] = output_size(block)
                block["is_error"] = event["is_error"]
        _atomic_write_lines(self.dynamic_path(agent_id, session_id), blocks)

    async def consume(
        self,
        agent_id: str,
        workspace: Path,
        session_id: str,
        select: Callable[[Mapping[str, Any]], bool] = lambda block: True,
    ) -> dict[str, Any]:
        """Consume the session's unconsumed tool blocks that `select` picks, from our records."""
        blocks = self.blocks(agent_id, session_id)
        chosen = [
            b["id"] for b in blocks if b["kind"] == "tool" and not b["consumed"] and select(b)
        ]
        result: dict[str, Any] = await self.conn.request(
            "consume",
            {"workspace": str(workspace), "session_id": session_id, "block_ids": chosen},
        )
        done = set(result["consumed"])
        for block in blocks:
            if block["id"] in done:
                block["consumed"] = True
                block["output"] = None  # the host drops the payload too: that is the point
        _atomic_write_lines(self.dynamic_path(agent_id, session_id), blocks)
        return result


def output_size(block: Mapping[str, Any]) -> int:
    """Bytes of a tool block's output as JSON (what the model would read again)."""
    return len(json.dumps(block.get("output"), ensure_ascii=False).encode())
