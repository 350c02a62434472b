"""`demo`: the whole stack on the fake codex, nothing installed or logged in.

The reference host starts `serve`, which runs the fake codex (its scenario:
daemon/demo.scenario.json) in a throwaway HOME and CODEX_HOME: a turn; a resumed turn in which the
model calls two host tools through MCP and the real `mcp-host`; the blocks the host mirrored into
its dynamic.jsonl; consume of the heavy block; a resumed turn, with what the model was sent read
from the fake codex's own record of the request; then approvals routed to the daemon (one approved,
one declined: `demo_approvals.py`). Exit 0 when every step showed what it should.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import sys
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TextIO

from ..daemon.client import TurnOutcome
from ..daemon.host import ReferenceHost, output_size
from ..door.version import PROTOCOL_VERSION
from ..errors import DemoFailed, RemoteError

SCENARIO = Path(__file__).parents[1] / "daemon" / "demo.scenario.json"
AGENT, SESSION = "demo", "demo-session"
HEAVY_BYTES = 1000  # the host consumes tool blocks whose output is bigger than this
REPORT_ROW = "report row 0001"
PROMPTS = (
    "Hello, codex",
    "Please read the sales report, and note what I want.",
    "What do you remember?",
)


class Show:
    """Output for people (short lines) or, with --json, one raw JSON object per line."""

    def __init__(self, out: TextIO, raw: bool) -> None:
        self.out = out
        self.raw = raw

    def line(self, who: str, text: str) -> None:
        if not self.raw:
            self.out.write(f"{who:<7}> {text}\n")
            self.out.flush()

    def heading(self, text: str) -> None:
        if not self.raw:
            self.out.write(f"\n== {text}\n")

    def record(self, record: Mapping[str, Any]) -> None:
        if self.raw:
            self.out.write(json.dumps(record, ensure_ascii=False) + "\n")
            self.out.flush()

    def event(self, turn_id: str, event: Mapping[str, Any]) -> None:
        self.record({"turn_id": turn_id, "event": event})
        kind = event["type"]
        if kind == "text_delta":
            self.line("codex", event["text"])
        elif kind == "reasoning":
            self.line("think", event["text"])
        elif kind == "item" and event["kind"] == "mcp_tool_call" and event["phase"] == "started":
            tool = event["detail"].get("tool")
            self.line("mcp", f"codex calls {tool}: codex -> mcp-host -> serve -> the host")
        elif kind == "tool_call":
            name = event.get("tool") or event["name"]
            self.line("tool", f"{name} {_short(event['input'])} -> block {event['block_id']}")
        elif kind == "tool_result":
            size = output_size(event)
            self.line("result", f"{event['block_id']}: {_preview(event['output'])}, {size:,} bytes")
        elif kind == "warning":
            self.line("warning", event["message"])
        elif kind == "error":
            self.line("error", f"{event['code']}: {event['message']}")
        elif kind == "message_end":
            usage, total = event["usage"], event["thread_usage"]
            self.line(
                "usage",
                f"this turn in {usage['input_tokens']:,} out {usage['output_tokens']:,} · "
                f"thread total in {total['input_tokens']:,} out {total['output_tokens']:,}",
            )


def _preview(output: Any) -> str:
    """A tool output in one short line: its last text part's first line, and how many more."""
    if isinstance(output, list):
        texts = [p.get("text", "") for p in output if isinstance(p, dict)]
        output = texts[-1] if texts else ""
    lines = str(output).splitlines() or [""]
    more = f" (+{len(lines) - 1} lines)" if len(lines) > 1 else ""
    return _short(lines[0], 50) + more


def _short(value: Any, limit: int = 60) -> str:
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _socket_dir(root: Path) -> Path:
    """The demo's own socket folder: in `root` when the path fits a unix socket's 100 bytes."""
    sockets = root / "sockets"
    if len(os.fsencode(sockets)) <= 60:
        return sockets
    return Path(tempfile.mkdtemp(prefix="plexum-demo-sockets.", dir="/tmp"))


def _world(root: Path, sockets: Path) -> tuple[Path, dict[str, str]]:
    """The throwaway config and environment: nothing points at ~/.codex or ~/.plexum."""
    for name in ("home", "codex-home", "workspace", "host-data", "bin"):
        (root / name).mkdir()
    shim = root / "bin" / "codex"
    shim.write_text(f'#!/bin/sh\nexec "{sys.executable}" -m fake_codex "$@"\n')
    shim.chmod(0o755)
    config = root / "config.json"
    config.write_text(
        json.dumps(
            {
                "binary": str(shim),
                "codex_home": str(root / "codex-home"),
                "socket_dir": str(sockets),
                "turn_timeout_s": 120,
            }
        )
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PLEXUM_", "FAKE_CODEX_"))}
    env.update(
        HOME=str(root / "home"),
        CODEX_HOME=str(root / "codex-home"),
        FAKE_CODEX_SCENARIO=str(SCENARIO),
        FAKE_CODEX_LOG=str(root / "fake-codex.log"),
    )
    env.pop("OPENAI_API_KEY", None)
    return config, env


def _model_input(root: Path) -> list[dict[str, Any]]:
    """What the fake codex recorded as its last turn's first model request."""
    lines = (root / "fake-codex.log").read_text(encoding="utf-8").splitlines()
    records = [json.loads(line) for line in lines]
    inputs = [r["model_input"] for r in records if "model_input" in r]
    if not inputs:
        raise DemoFailed("the fake codex recorded no model request")
    last: list[dict[str, Any]] = inputs[-1]
    return last


def _outputs_sent(items: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        str(item.get("call_id")): item.get("output")
        for item in items
        if item.get("type") == "function_call_output"
    }


async def _turn(
    host: ReferenceHost, show: Show, workspace: Path, number: int, title: str
) -> TurnOutcome:
    show.heading(f"turn {number} · session {SESSION} · {title}")
    prompt = PROMPTS[number - 1]
    show.line("you", prompt)
    turn_id = f"demo-turn-{number}"
    outcome = await host.turn(
        AGENT,
        workspace,
        SESSION,
        prompt,
        turn_id=turn_id,
        on_event=lambda event: show.event(turn_id, event),
    )
    if outcome.terminal.get("type") != "message_end":
        raise DemoFailed(f"turn {number} ended in {outcome.terminal}")
    return outcome


async def _run(root: Path, sockets: Path, show: Show) -> None:
    config, env = _world(root, sockets)
    workspace = root / "workspace"
    show.line("demo", f"throwaway HOME, CODEX_HOME and workspace under {root}")
    log = open(root / "serve.log", "wb")  # noqa: SIM115 - closed below, after the child ends
    try:
        async with ReferenceHost.start(
            root / "host-data", config_path=config, env=env, stderr=log.fileno()
        ) as host:
            info = host.initialize_result
            show.line(
                "serve",
                f"{info['plugin']['name']} {info['plugin']['version']}, protocol "
                f"{info['protocol_version']}, on stdio; host tools: " + ", ".join(host.tools),
            )
            first = await _turn(host, show, workspace, 1, "a new codex thread")
            thread = first.terminal["thread_id"]
            second = await _turn(host, show, workspace, 2, f"resumes thread {thread}")
            if second.terminal["thread_id"] != thread:
                raise DemoFailed("turn 2 did not resume the thread of turn 1")
            if len(host.tool_calls) != 2:
                raise DemoFailed(f"the host served {len(host.tool_calls)} tools/call, not 2")

            path = host.dynamic_path(AGENT, SESSION)
            show.heading(f"the host's records: {path.relative_to(root)}")
            for block in host.blocks(AGENT, SESSION):
                if block["kind"] == "tool":
                    show.line(
                        "block",
                        f"{block['id']}  {block['tool']}  {block['output_bytes']:,} bytes",
                    )
                    show.record({"block": block})

            show.heading(f"consume: the host drops its tool blocks over {HEAVY_BYTES:,} bytes")
            result = await host.consume(
                AGENT, workspace, SESSION, lambda b: b["output_bytes"] > HEAVY_BYTES
            )
            show.record({"consume": result})
            show.line("plugin", f"consumed {', '.join(result['consumed']) or 'nothing'}")
            if result != {"consumed": ["call_demo_report"], "unknown": []}:
                raise DemoFailed(f"consume answered {result}")

            third = await _turn(host, show, workspace, 3, f"resumes thread {thread}")
            if third.terminal["thread_id"] != thread:
                raise DemoFailed("turn 3 did not resume the thread")
    finally:
        log.close()

    show.heading("what the model was sent in turn 3 (the fake codex's record of the request)")
    items = _model_input(root)
    sent = _outputs_sent(items)
    show.record({"model_input": items})
    for call_id, output in sent.items():
        show.line("sent", f"{call_id} output: {_preview(output)}")
    whole = json.dumps(items, ensure_ascii=False)
    if sent.get("call_demo_report") != "...(tool called)" or REPORT_ROW in whole:
        raise DemoFailed("the model was still sent the consumed report")
    show.line("proof", f"the report's rows ({REPORT_ROW!r}, …) are not in the request")

    from .demo_approvals import approvals_phase

    with open(root / "serve-approvals.log", "wb") as approvals_log:
        await approvals_phase(root, config, env, show, AGENT, approvals_log.fileno())


def demo(args: argparse.Namespace) -> int:
    show = Show(sys.stdout, raw=args.json)
    root = Path(tempfile.mkdtemp(prefix="plexum-demo."))
    sockets = _socket_dir(root)
    ok = False
    try:
        asyncio.run(_run(root, sockets, show))
        ok = True
    except (DemoFailed, RemoteError, OSError, ConnectionError) as exc:
        print(f"plexum-openai-provider demo failed: {exc}", file=sys.stderr)
        serve_log = root / "serve.log"
        if serve_log.exists():
            tail = serve_log.read_text(errors="replace").splitlines()[-20:]
            print("last lines of serve's log:\n" + "\n".join(tail), file=sys.stderr)
    finally:
        if args.keep:
            print(f"demo files kept in {root}", file=sys.stderr)
        else:
            shutil.rmtree(root, ignore_errors=True)
        if not sockets.is_relative_to(root):
            shutil.rmtree(sockets, ignore_errors=True)
    if ok:
        show.heading("done")
        show.line(
            "demo",
            f"turn, resumes, MCP tools, blocks, consume, the model's view, approvals: via serve "
            f"(protocol {PROTOCOL_VERSION})",
        )
    return 0 if ok else 1
