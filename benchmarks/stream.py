"""P3: the exec stream. Throughput of framing + parsing + mapping `codex exec --json` lines (built
from the real captures in tests/fixtures) against a bare `json.loads` loop over the same lines;
and the latency from a line written by a child process to its canonical event out of a turn.
"""

from __future__ import annotations

import asyncio
import io
import json
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks.figures import Figure, interleave, spread

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "tests" / "fixtures"
READ_CHUNK = 65536


def exec_jsonl(megabytes: float) -> bytes:
    """One long turn: the captures' item events (ids renumbered) repeated up to `megabytes`."""
    items: list[dict[str, Any]] = []
    for path in sorted(FIXTURES.glob("*.stdout.jsonl")):
        for raw in path.read_bytes().splitlines():
            try:
                event = json.loads(raw)
            except ValueError:
                continue
            if isinstance(event, dict) and str(event.get("type", "")).startswith("item."):
                items.append(event)
    if not items:
        raise RuntimeError(f"no item events in {FIXTURES}")
    head = [
        {"type": "thread.started", "thread_id": "019a0000-0000-7000-8000-000000000000"},
        {"type": "turn.started"},
    ]
    out = io.BytesIO()
    for event in head:
        out.write(json.dumps(event).encode() + b"\n")
    target, n = int(megabytes * 1_000_000), 0
    while out.tell() < target:
        for event in items:
            n += 1
            line = dict(event, item={**event["item"], "id": f"item_{n}"})
            out.write(json.dumps(line, separators=(",", ":")).encode() + b"\n")
    usage = {"input_tokens": 1, "cached_input_tokens": 0, "output_tokens": 1}
    out.write(json.dumps({"type": "turn.completed", "usage": usage}).encode() + b"\n")
    return out.getvalue()


def parse_and_map(data: bytes) -> int:
    """What a turn does with codex's stdout, minus the pipe: frame, parse, map."""
    from plexum_openai_provider.codex.exec_stream import parse_exec_line
    from plexum_openai_provider.events import Usage
    from plexum_openai_provider.jsonrpc.framing import LineFramer
    from plexum_openai_provider.turn.exec.mapper import TurnMapper

    framer = LineFramer()
    mapper = TurnMapper(previous_total=Usage())
    count = 0
    view = memoryview(data)
    for at in range(0, len(data), READ_CHUNK):
        for line in framer.feed(bytes(view[at : at + READ_CHUNK])):
            assert isinstance(line, bytes)
            count += len(mapper.feed(parse_exec_line(line)))
    for line in framer.finish():
        assert isinstance(line, bytes)
        count += len(mapper.feed(parse_exec_line(line)))
    count += len(mapper.finish())
    if mapper.outcome is None:
        raise RuntimeError("the mapped stream did not complete its turn")
    return count


def json_loop(data: bytes) -> int:
    count = 0
    for line in io.BytesIO(data):
        json.loads(line)
        count += 1
    return count


def throughput(megabytes: float, rounds: int) -> Figure:
    data = exec_jsonl(megabytes)
    size = len(data) / 1e6

    # CPU time of this process: both sides are single-threaded and in-process, and CPU time is
    # far steadier than wall time on a shared machine.
    def ours() -> float:
        start = time.process_time()
        parse_and_map(data)
        return time.process_time() - start

    def base() -> float:
        start = time.process_time()
        json_loop(data)
        return time.process_time() - start

    pairs = interleave(ours, base, rounds, warmup=0)
    speed = [size / t for t in pairs.a]
    base_speed = [size / t for t in pairs.b]
    ratios = [b / a for a, b in zip(pairs.a, pairs.b, strict=True)]  # speed ours ÷ speed base
    return Figure(
        key="P3",
        name=f"exec stream parse+map, {size:.0f} MB",
        baseline=f"json.loads loop {statistics.median(base_speed):.0f} MB/s",
        ours=f"{statistics.median(speed):.0f} MB/s",
        ratio=statistics.median(ratios),
        target=">= 0.5",
        spread=spread(ratios),
    )


# -- latency -------------------------------------------------------------------------------------

CHILD = r"""
import json, sys, time
sys.stdin.read()
out = sys.stdout
def put(event):
    out.write(json.dumps(event) + "\n")
    out.flush()
put({"type": "thread.started", "thread_id": "019a0000-0000-7000-8000-000000000001"})
put({"type": "turn.started"})
for i in range(int(sys.argv[1])):
    time.sleep(0.002)
    item = {"id": f"item_{i}", "type": "agent_message", "text": str(time.monotonic_ns())}
    put({"type": "item.completed", "item": item})
put({"type": "turn.completed", "usage": {"input_tokens": 1, "cached_input_tokens": 0,
                                          "output_tokens": 1}})
"""


def _fake_codex(folder: Path, events: int) -> Path:
    """An executable standing in for codex: ignores its argv, writes `events` timed messages."""
    script = folder / "codex-latency"
    child = folder / "child.py"
    child.write_text(CHILD)
    script.write_text(f'#!/bin/sh\nexec "{sys.executable}" "{child}" {events}\n')
    script.chmod(0o755)
    return script


async def _through_turn(binary: Path, folder: Path) -> list[float]:
    from plexum_openai_provider import TurnRequest, open_turn
    from plexum_openai_provider.config import HostConfig

    workspace = folder / "ws"
    workspace.mkdir(exist_ok=True)
    config = HostConfig(binary=str(binary), codex_home=str(folder / "home"))
    latencies: list[float] = []
    last = None
    async with open_turn(config, TurnRequest(prompt="x", workspace=workspace)) as turn:
        async for event in turn:
            if event.type == "text_delta":
                latencies.append((time.monotonic_ns() - int(event.text)) / 1e9)
            last = event
    if last is None or last.type != "message_end":
        raise RuntimeError(f"the latency turn ended with {last}")
    return latencies


async def _through_pipe(binary: Path) -> list[float]:
    proc = await asyncio.create_subprocess_exec(
        str(binary), stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE
    )
    assert proc.stdin is not None and proc.stdout is not None
    proc.stdin.close()
    latencies: list[float] = []
    async for line in proc.stdout:
        if b'"agent_message"' in line:
            stamp = int(line.rsplit(b'"text": "', 1)[1].split(b'"', 1)[0])
            latencies.append((time.monotonic_ns() - stamp) / 1e9)
    await proc.wait()
    return latencies


def latency(events: int) -> list[Figure]:
    folder = Path(tempfile.mkdtemp(prefix="bench-latency-"))
    try:
        binary = _fake_codex(folder, events)
        (folder / "home").mkdir()
        ours = asyncio.run(_through_turn(binary, folder))
        base = asyncio.run(_through_pipe(binary))
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    figures = []
    for label, q in (("p50", 49), ("p99", 98)):
        mine = statistics.quantiles(ours, n=100)[q]
        theirs = statistics.quantiles(base, n=100)[q]
        figures.append(
            Figure(
                key="P3",
                name=f"event latency {label}, child line to canonical event",
                baseline=f"bare pipe readline {theirs * 1e6:.0f} µs",
                ours=f"{mine * 1e6:.0f} µs",
                ratio=mine / theirs,
                target="",
                spread=f"{min(ours) * 1e6:.0f}-{max(ours) * 1e6:.0f} µs (min-max of {len(ours)})",
            )
        )
    return figures
