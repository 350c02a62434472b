"""Run one real codex process to completion (bounded) and parse its `exec --json` stdout.

`run_codex` runs one process (the plugin's `real_codex` fixture gives the binary, home and env).

Kept tiny on purpose: tests and scripts need the events, exit code and stderr of a finished turn;
the provider's own runner (streaming, cancellation) is what the conformance tests exercise.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class CodexRun:
    """A finished codex process: exit code, parsed JSONL events, stderr text."""

    returncode: int
    events: list[dict[str, Any]]
    stderr: str

    def of_type(self, kind: str) -> list[dict[str, Any]]:
        return [e for e in self.events if e.get("type") == kind]

    @property
    def thread_id(self) -> str:
        return str(self.of_type("thread.started")[0]["thread_id"])

    @property
    def agent_messages(self) -> list[str]:
        return [
            str(e["item"]["text"])
            for e in self.of_type("item.completed")
            if e["item"].get("type") == "agent_message"
        ]


async def run_codex(
    argv: Sequence[str],
    *,
    env: Mapping[str, str],
    cwd: Path,
    stdin: bytes = b"",
    timeout: float = 30.0,
) -> CodexRun:
    """Feed `stdin` and close it (an open pipe can hang codex), wait at most `timeout`."""
    proc = await asyncio.create_subprocess_exec(
        *argv,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=dict(env),
        cwd=cwd,
        start_new_session=True,
    )
    try:
        async with asyncio.timeout(timeout):
            out, err = await proc.communicate(stdin)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    events = [json.loads(line) for line in out.decode().splitlines() if line.strip()]
    return CodexRun(
        proc.returncode if proc.returncode is not None else -1, events, err.decode(errors="replace")
    )
