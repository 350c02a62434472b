"""P5: 32 turns at once through the library on the fake codex, against the fake codex alone run
32 at once (the same `exec` argv, stdin and environment); every output is checked.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.figures import Figure, spread

REPLY = "fake-codex received your prompt: "


def _fake_codex() -> str:
    script = Path(sys.executable).with_name("fake-codex")
    if not script.exists():
        raise RuntimeError(f"{script} is missing: run scripts/bootstrap")
    return str(script)


async def _ours(folder: Path, width: int, round_: int) -> float:
    from plexum_openai_provider import TurnRequest, run_turn
    from plexum_openai_provider.config import HostConfig

    config = HostConfig(binary=_fake_codex(), codex_home=str(folder / "home"))
    requests = []
    for i in range(width):
        workspace = folder / f"ours-{round_}-{i}"
        workspace.mkdir()
        requests.append(TurnRequest(prompt=f"turn {i}", workspace=workspace))
    start = time.perf_counter()
    results = await asyncio.gather(*(run_turn(config, r) for r in requests))
    took = time.perf_counter() - start
    for i, events in enumerate(results):
        texts = [e.to_json().get("text") for e in events if e.type == "text_delta"]
        if events[-1].type != "message_end" or texts != [f"{REPLY}turn {i}"]:
            raise RuntimeError(f"concurrent turn {i} went wrong: {events}")
    return took


async def _bare(folder: Path, width: int, round_: int) -> float:
    from plexum_openai_provider.codex.argv import build_exec_argv

    argv = build_exec_argv(_fake_codex(), resume_thread_id=None, model_arg=None)
    env = {**os.environ, "CODEX_HOME": str(folder / "home")}
    workspaces = []
    for i in range(width):
        workspace = folder / f"bare-{round_}-{i}"
        workspace.mkdir()
        workspaces.append(workspace)

    async def one(i: int) -> bytes:
        proc = await asyncio.create_subprocess_exec(
            *argv, cwd=workspaces[i], env=env, stdin=subprocess.PIPE,
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, start_new_session=True,
        )  # fmt: skip
        out, _ = await proc.communicate(f"turn {i}".encode())
        return out

    start = time.perf_counter()
    outputs = await asyncio.gather(*(one(i) for i in range(width)))
    took = time.perf_counter() - start
    for i, out in enumerate(outputs):
        if f"{REPLY}turn {i}".encode() not in out or b"turn.completed" not in out:
            raise RuntimeError(f"bare fake codex {i} went wrong: {out[-300:]!r}")
    return took


def concurrent_turns(width: int, rounds: int) -> Figure:
    folder = Path(tempfile.mkdtemp(prefix="bench-conc-"))
    saved = dict(os.environ)
    try:
        (folder / "home").mkdir()
        for name in ("FAKE_CODEX_SCENARIO", "FAKE_CODEX_LOG"):
            os.environ.pop(name, None)
        ours: list[float] = []
        bare: list[float] = []
        asyncio.run(_bare(folder, 2, -1))  # warm the page cache and .pyc files
        for r in range(rounds):
            if r % 2:
                bare.append(asyncio.run(_bare(folder, width, r)))
                ours.append(asyncio.run(_ours(folder, width, r)))
            else:
                ours.append(asyncio.run(_ours(folder, width, r)))
                bare.append(asyncio.run(_bare(folder, width, r)))
    finally:
        os.environ.clear()
        os.environ.update(saved)
        shutil.rmtree(folder, ignore_errors=True)
    ratios = [b / o for o, b in zip(ours, bare, strict=True)]  # throughput ours ÷ bare
    return Figure(
        key="P5",
        name=f"{width} concurrent turns on the fake codex (throughput)",
        baseline=f"fake alone x{width} {width / statistics.median(bare):.1f} turns/s",
        ours=f"{width / statistics.median(ours):.1f} turns/s",
        ratio=statistics.median(ratios),
        target=">= 0.8",
        spread=spread(ratios),
    )
