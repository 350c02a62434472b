"""A minimal daemon for benchmarks: starts `plexum-openai-provider serve` and speaks its protocol.

Stdlib and the public protocol only (docs/protocol.md), so it measures what a real daemon would
see: `turn` requests, `turn/event` notifications stamped with the time this process read them,
the terminal response. `serve`'s peak RSS is read from /proc (VmHWM) before it is shut down.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

LINE_LIMIT = 64 * 1024 * 1024


@dataclass
class TurnRecord:
    """What the daemon saw of one turn: each event with the monotonic ns it was read at."""

    turn_id: str
    events: list[tuple[int, dict[str, Any]]] = field(default_factory=list)
    done: asyncio.Future[dict[str, Any]] | None = None


def peak_rss_kb(pid: int) -> int:
    """VmHWM of a live process in kB (0 when /proc cannot say)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def children(pid: int) -> list[int]:
    """The live child pids of `pid` (Linux /proc)."""
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except OSError:
        return []
    return [int(p) for p in text.split()]


class Daemon:
    """`async with Daemon(config) as d: await d.turn(...)`; shuts `serve` down on the way out."""

    def __init__(self, config: Path, env: dict[str, str] | None = None) -> None:
        self.config = config
        self.env = env
        self.proc: asyncio.subprocess.Process | None = None
        self._ids = itertools.count(1)
        self._pending: dict[int, asyncio.Future[Any]] = {}
        self.turns: dict[str, TurnRecord] = {}
        self._reader: asyncio.Task[None] | None = None

    async def __aenter__(self) -> Daemon:
        self.proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "plexum_openai_provider.cli", "serve", "--config",
            str(self.config), stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.DEVNULL, env=self.env, limit=LINE_LIMIT,
        )  # fmt: skip
        self._reader = asyncio.create_task(self._read())
        host = {"name": "bench", "version": "0"}
        await self.request("initialize", {"protocol_version": "1", "host": host})
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self.proc is not None and self.proc.stdin is not None
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.request("shutdown", {}), 30)
        with contextlib.suppress(Exception):
            self.proc.stdin.close()
        try:
            await asyncio.wait_for(self.proc.wait(), 30)
        except TimeoutError:
            self.proc.kill()
            await self.proc.wait()
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reader

    def _send(self, message: dict[str, Any]) -> None:
        assert self.proc is not None and self.proc.stdin is not None
        self.proc.stdin.write(json.dumps(message).encode() + b"\n")

    async def request(self, method: str, params: dict[str, Any]) -> Any:
        ident = next(self._ids)
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._pending[ident] = future
        self._send({"jsonrpc": "2.0", "id": ident, "method": method, "params": params})
        return await future

    async def turn(
        self, turn_id: str, agent: str, workspace: Path, text: str, session: str = "bench"
    ) -> TurnRecord:
        record = TurnRecord(turn_id)
        self.turns[turn_id] = record
        params = {"turn_id": turn_id, "agent": {"id": agent, "workspace": str(workspace)},
                  "session_id": session, "input": text}  # fmt: skip
        result = await self.request("turn", params)
        if result["event"]["type"] != "message_end":
            raise RuntimeError(f"turn {turn_id} ended in {result['event']}")
        return record

    def peak_rss_kb(self) -> int:
        assert self.proc is not None
        return peak_rss_kb(self.proc.pid)

    async def _read(self) -> None:
        assert self.proc is not None and self.proc.stdout is not None
        async for line in self.proc.stdout:
            now = time.monotonic_ns()
            message = json.loads(line)
            if message.get("method") == "turn/event":
                params = message["params"]
                self.turns[params["turn_id"]].events.append((now, params["event"]))
            elif "id" in message and message["id"] in self._pending:
                future = self._pending.pop(message["id"])
                if "error" in message:
                    future.set_exception(RuntimeError(f"serve answered {message['error']}"))
                else:
                    future.set_result(message["result"])
        for future in self._pending.values():
            if not future.done():
                future.set_exception(RuntimeError("serve closed its stdout"))


def write_config(path: Path, **values: Any) -> Path:
    path.write_text(json.dumps(values))
    return path


def env_without_fake_scenario() -> dict[str, str]:
    env = dict(os.environ)
    env.pop("FAKE_CODEX_SCENARIO", None)
    env.pop("FAKE_CODEX_LOG", None)
    return env
