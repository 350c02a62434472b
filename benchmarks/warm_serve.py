"""P8b: what the plugin adds to a warm turn. A turn through `serve` (backend `app-server`, the
thread already loaded) ÷ the same turn sent straight to a bare `codex app-server` by a minimal
client (`turn/start` on a loaded thread → `turn/completed`), interleaved, same real codex, same
stateless fake Responses server; target ≤ 1.1×.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import statistics
import time
from pathlib import Path
from typing import Any

from benchmarks.daemon import Daemon
from benchmarks.figures import Figure, Pairs
from benchmarks.responses import ANSWER
from benchmarks.rig import ResponsesProcess, Rig, provider, real_codex

LINE_LIMIT = 64 * 1024 * 1024
DEADLINE_S = 60.0


class BareAppServer:
    """`codex app-server` over stdio, the smallest client that runs turns on one thread."""

    def __init__(self, binary: str, extra: list[str], env: dict[str, str]) -> None:
        self.argv = [binary, "app-server", *extra]
        self.env = env
        self.proc: asyncio.subprocess.Process | None = None
        self._ids = itertools.count(1)

    async def start(self, workspace: Path) -> str:
        self.proc = await asyncio.create_subprocess_exec(
            *self.argv, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.DEVNULL, env=self.env, limit=LINE_LIMIT,
            start_new_session=True,
        )  # fmt: skip
        await self.call("initialize", {"clientInfo": {"name": "bench", "version": "0"}})
        self._send({"method": "initialized"})
        params = {"cwd": str(workspace), "approvalPolicy": "never", "sandbox": "danger-full-access"}
        started = await self.call("thread/start", params)
        thread_id: str = started["thread"]["id"]
        return thread_id

    def _send(self, message: dict[str, Any]) -> None:
        assert self.proc is not None and self.proc.stdin is not None
        self.proc.stdin.write(json.dumps(message).encode() + b"\n")

    async def _next(self) -> dict[str, Any]:
        assert self.proc is not None and self.proc.stdout is not None
        line = await self.proc.stdout.readline()
        if not line:
            raise RuntimeError("codex app-server closed its stdout")
        message: dict[str, Any] = json.loads(line)
        return message

    async def call(self, method: str, params: dict[str, Any]) -> Any:
        ident = next(self._ids)
        self._send({"id": ident, "method": method, "params": params})
        async with asyncio.timeout(DEADLINE_S):
            while True:
                message = await self._next()
                if message.get("id") == ident and "method" not in message:
                    if "error" in message:
                        raise RuntimeError(f"{method}: {message['error']}")
                    return message.get("result")

    async def turn(self, thread_id: str, text: str) -> str:
        """One turn on the loaded thread; the agent's text."""
        params = {"threadId": thread_id, "input": [{"type": "text", "text": text}]}
        ident = next(self._ids)
        self._send({"id": ident, "method": "turn/start", "params": params})
        texts: list[str] = []
        async with asyncio.timeout(DEADLINE_S):
            while True:
                message = await self._next()
                method = message.get("method")
                if "error" in message and message.get("id") == ident:
                    raise RuntimeError(f"turn/start: {message['error']}")
                if method == "item/completed":
                    item = message["params"]["item"]
                    if item.get("type") == "agentMessage":
                        texts.append(item.get("text", ""))
                elif method == "turn/completed":
                    status = message["params"]["turn"]["status"]
                    if status != "completed":
                        raise RuntimeError(f"the bare turn ended {status}")
                    return "".join(texts)

    async def close(self) -> None:
        if self.proc is None:
            return
        assert self.proc.stdin is not None
        self.proc.stdin.close()
        try:
            await asyncio.wait_for(self.proc.wait(), 10)
        except TimeoutError:
            os.killpg(self.proc.pid, 9)
            await self.proc.wait()


async def _measure(pairs: int) -> Pairs:
    binary = real_codex()
    server = ResponsesProcess()
    rig = Rig()
    bare = BareAppServer(binary, provider(server.url), rig.env())
    try:
        config = rig.dir / "serve.json"
        config.write_text(json.dumps({"binary": binary, "extra_args": provider(server.url),
                                      "codex_home": str(rig.home), "backend": "app-server",
                                      "socket_dir": str(rig.socket_dir)}))  # fmt: skip
        ours_ws, bare_ws = rig.workspace(), rig.workspace()
        thread = await bare.start(bare_ws)
        async with Daemon(config, {**os.environ, **rig.env()}) as daemon:
            count = itertools.count()

            async def ours() -> float:
                start = time.perf_counter()
                record = await daemon.turn(f"t{next(count)}", "bench", ours_ws, "say something")
                took = time.perf_counter() - start
                texts = [e.get("text") for _, e in record.events if e["type"] == "text_delta"]
                if ANSWER not in "".join(t or "" for t in texts):
                    raise RuntimeError(f"the serve turn did not answer: {record.events}")
                return took

            async def theirs() -> float:
                start = time.perf_counter()
                text = await bare.turn(thread, "say something")
                took = time.perf_counter() - start
                if ANSWER not in text:
                    raise RuntimeError(f"the bare app-server turn did not answer: {text!r}")
                return took

            for _ in range(2):  # warm-up: process, thread, page cache on both sides
                await ours()
                await theirs()
            xs: list[float] = []
            ys: list[float] = []
            for i in range(pairs):
                if i % 2:
                    ys.append(await theirs())
                    xs.append(await ours())
                else:
                    xs.append(await ours())
                    ys.append(await theirs())
            return Pairs(xs, ys)
    finally:
        await bare.close()
        server.close()
        rig.close()


def figures(pairs: int) -> list[Figure]:
    samples = asyncio.run(_measure(pairs))
    return [
        Figure(
            key="P8b",
            name="warm app-server turn through serve",
            baseline=f"bare codex app-server turn {statistics.median(samples.b) * 1000:.0f} ms",
            ours=f"{statistics.median(samples.a) * 1000:.0f} ms",
            ratio=samples.ratio,
            target="<= 1.1",
            spread=samples.spread(),
        )
    ]
