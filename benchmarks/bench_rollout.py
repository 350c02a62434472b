"""Rollout benchmark: locate, mirror, full parse, consume and memory on a generated ~100 MB rollout.

The P4 figures of `python -m benchmarks`; alone: `.venv/bin/python benchmarks/bench_rollout.py
[--mb 100]`, which prints them and exits 1 if a target is missed. Everything is measured in this one
run; generated data lives in a temp dir that is deleted at the end.
"""

from __future__ import annotations

import argparse
import datetime as dt
import functools
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.figures import Figure, best, render  # noqa: E402
from plexum_openai_provider.codex.rollout import (  # noqa: E402
    consume_rollout,
    locate_rollout,
    read_tool_calls,
)

RNG = random.Random(1234)
WORDS = ["alpha", "beta", "gamma", "δέλτα", "☃", "line\n", 'quote"', "tab\t", "x" * 40]


def text(n: int) -> str:
    out: list[str] = []
    size = 0
    while size < n:
        word = RNG.choice(WORDS)
        out.append(word)
        size += len(word) + 1
    return " ".join(out)


def uuid7(ms: int) -> str:
    raw = f"{ms:012x}7{RNG.getrandbits(12):03x}{RNG.getrandbits(64) | (1 << 63):016x}"
    return f"{raw[:8]}-{raw[8:12]}-{raw[12:16]}-{raw[16:20]}-{raw[20:32]}"


def dumps(obj: object) -> str:
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False)


def turn_lines(turn: int, calls: int, heavy: int) -> list[str]:
    """One codex turn: user message, tool calls with outputs and events, an answer."""
    env = {"timestamp": "2026-11-22T01:19:33.792Z", "ordinal": 0}
    lines = [
        {**env, "type": "event_msg", "payload": {"type": "task_started", "turn_id": str(turn)}},
        {
            **env,
            "type": "response_item",
            "payload": {"type": "message", "role": "user", "content": [{"text": text(200)}]},
        },
    ]
    for i in range(calls):
        cid = f"call_{turn}_{i}"
        size = RNG.choice([200, 2_000, 20_000, heavy])
        lines.append(
            {
                **env,
                "type": "response_item",
                "payload": {
                    "type": "function_call",
                    "id": f"fc_{i}",
                    "name": "exec_command",
                    "arguments": dumps({"cmd": text(100)}),
                    "call_id": cid,
                },
            }
        )
        lines.append(
            {
                **env,
                "type": "event_msg",
                "payload": {
                    "type": "item_completed",
                    "item": {
                        "type": "CommandExecution",
                        "id": cid,
                        "status": "completed",
                        "exit_code": 0,
                        "aggregated_output": text(size // 4),
                    },
                },
            }
        )
        lines.append(
            {
                **env,
                "type": "response_item",
                "payload": {
                    "type": "function_call_output",
                    "id": f"fco_{i}",
                    "call_id": cid,
                    "output": f"Chunk ID: a\nWall time: 0.1 seconds\nProcess exited with code 0\n"
                    f"Output:\n{text(size)}",
                },
            }
        )
        lines.append({**env, "type": "event_msg", "payload": {"type": "token_count", "n": i}})
    lines.append(
        {
            **env,
            "type": "response_item",
            "payload": {"type": "message", "role": "assistant", "content": text(500)},
        }
    )
    return [dumps(line) + "\n" for line in lines]


def generate(path: Path, megabytes: int) -> list[str]:
    """Write ~`megabytes` MB of turns; return every call id."""
    ids: list[str] = []
    target = megabytes * 1_000_000
    with path.open("w", encoding="utf-8") as f:
        size, turn = 0, 0
        while size < target:
            # A few 4 MB outputs test that memory does not follow the file size.
            heavy = 4_000_000 if turn % 40 == 7 else 60_000
            for line in turn_lines(turn, 8, heavy):
                size += f.write(line)
            ids += [f"call_{turn}_{i}" for i in range(8)]
            turn += 1
    return ids


def sessions_tree(home: Path, count: int, target_ms: int) -> str:
    """`count` rollout files over one year of local days, plus the target thread's file."""
    start = target_ms - 180 * 86_400_000
    folders: set[Path] = set()

    def create(ms: int, tid: str) -> None:
        when = dt.datetime.fromtimestamp(ms / 1000)
        folder = home / "sessions" / when.strftime("%Y/%m/%d")
        if folder not in folders:
            folder.mkdir(parents=True, exist_ok=True)
            folders.add(folder)
        name = folder / f"rollout-{when:%Y-%m-%dT%H-%M-%S}-{tid}.jsonl"
        os.close(os.open(name, os.O_CREAT | os.O_WRONLY, 0o600))  # empty: only names matter

    for _ in range(count):
        ms = start + RNG.randrange(365 * 86_400_000)
        create(ms, uuid7(ms))
    tid = uuid7(target_ms)
    create(target_ms, tid)
    return tid


def tree_dir() -> Path:
    """Where the session trees go: tmpfs when there is one. 100k empty files took minutes on this
    machine's shared disk, and locate's cost is listing directories, which a disk caches anyway."""
    shm = Path("/dev/shm")
    base = shm if shm.is_dir() and os.access(shm, os.W_OK) else None
    return Path(tempfile.mkdtemp(prefix="bench-tree-", dir=base))


def bench_locate(work: Path, big_count: int = 100_000) -> tuple[float, float]:
    target_ms = int(time.time() * 1000) - 30 * 86_400_000
    result = []
    for count in (1_000, big_count):
        home = work / f"home{count}"
        tid = sessions_tree(home, count, target_ms)
        assert locate_rollout(home, tid) is not None
        result.append(best(functools.partial(locate_rollout, home, tid), repeat=200))
        shutil.rmtree(home)
    return result[0], result[1]


def bench_mirror_tail(big: Path, work: Path) -> tuple[float, float]:
    """Mirror one new turn appended to a 1 MB file and to the big file."""
    small = work / "small.jsonl"
    with big.open("rb") as src, small.open("wb") as dst:
        dst.write(src.read(1_000_000).rsplit(b"\n", 1)[0] + b"\n")
    turn = "".join(turn_lines(99_999, 8, 20_000)).encode()
    times = []
    for path in (small, big):
        offset = path.stat().st_size
        with path.open("ab") as f:
            f.write(turn)
        events = read_tool_calls(path, offset).events
        assert len(events) == 16, len(events)
        times.append(best(functools.partial(read_tool_calls, path, offset), repeat=20))
    return times[0], times[1]


def raw_json_loop(path: Path, loads: Callable[[bytes], object]) -> None:
    with path.open("rb") as f:
        for line in f:
            loads(line)


def bench_consume(big: Path, work: Path, ids: list[str]) -> tuple[float, float]:
    chosen = ids[:: max(1, len(ids) // 50)]
    copy = work / "cp.jsonl"

    def cp_fsync() -> None:
        shutil.copyfile(big, copy)
        fd = os.open(copy, os.O_RDONLY)
        os.fsync(fd)
        os.close(fd)

    # Interleaved, best of 5 each: both share the same page-cache and disk weather.
    times, cps = [], []
    for _ in range(5):
        start = time.perf_counter()
        cp_fsync()  # also leaves a fresh, unconsumed copy for the consume below
        cps.append(time.perf_counter() - start)
        start = time.perf_counter()
        result = consume_rollout(copy, chosen)
        times.append(time.perf_counter() - start)
        assert not result.unknown
    cp = min(cps)
    return min(times), cp


RSS_CHILD = r"""
import resource, sys
from pathlib import Path
sys.path.insert(0, sys.argv[4])
from plexum_openai_provider.codex.rollout import consume_rollout, read_tool_calls

def status(key):
    # VmHWM/VmRSS belong to this exec's own mm; ru_maxrss also carries the parent's RSS at fork.
    try:
        for line in open("/proc/self/status"):
            if line.startswith(key + ":"):
                return int(line.split()[1])
    except OSError:
        return None
    return None

what, path, arg = sys.argv[1], Path(sys.argv[2]), sys.argv[3]
base = status("VmRSS") or resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
if what == "consume":
    consume_rollout(path, arg.split(","))
elif what == "mirror-tail":
    read_tool_calls(path, int(arg))
else:
    read_tool_calls(path, 0)
peak = status("VmHWM") or resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print((peak - base) / 1024)
"""


def bench_rss(big: Path, work: Path, ids: list[str]) -> dict[str, float]:
    """Peak RSS growth (MB) of one operation each, in a fresh interpreter on a fresh copy."""
    data = big.read_bytes()
    last_turn = data.rfind(b'"type":"task_started"')
    tail_offset = data.rfind(b"\n", 0, last_turn) + 1
    del data
    out = {}
    for what, arg in (
        ("consume", ",".join(ids[::33])),
        ("mirror-tail", str(tail_offset)),
        ("mirror-from-0", ""),
    ):
        copy = work / "rss.jsonl"
        shutil.copyfile(big, copy)
        child = subprocess.run(
            [sys.executable, "-c", RSS_CHILD, what, str(copy), arg, str(ROOT)],
            capture_output=True,
            text=True,
            check=True,
        )
        out[what] = float(child.stdout)
    return out


def figures(megabytes: int = 100, locate_count: int = 100_000) -> list[Figure]:
    """Every P4 figure, measured in this one run on a generated rollout of `megabytes` MB."""
    work = Path(tempfile.mkdtemp(prefix="bench-rollout-"))
    out: list[Figure] = []

    def add(name: str, base: str, ours: str, ratio: float, target: str, spread: str) -> None:
        out.append(Figure("P4", name, base, ours, ratio, target, spread))

    try:
        big = work / "rollout-big.jsonl"
        ids = generate(big, megabytes)
        size = big.stat().st_size
        trees = tree_dir()
        try:
            small_t, big_t = bench_locate(trees, locate_count)
        finally:
            shutil.rmtree(trees, ignore_errors=True)
        add(
            f"locate among {locate_count // 1000}k session files",
            f"among 1k {small_t * 1e6:.0f} µs",
            f"{big_t * 1e6:.0f} µs",
            big_t / small_t,
            "<= 2",
            "best of 200 each",
        )
        tail_small, tail_big = bench_mirror_tail(big, work)
        add(
            f"mirror one turn after {size / 1e6:.0f} MB of history",
            f"after 1 MB {tail_small * 1e3:.2f} ms",
            f"{tail_big * 1e3:.2f} ms",
            tail_big / tail_small,
            "<= 2",
            "best of 20 each",
        )
        parse = best(lambda: read_tool_calls(big, 0), repeat=3)
        baseline = best(lambda: raw_json_loop(big, json.loads), repeat=3)
        add(
            "full rollout parse (speed)",
            f"json.loads loop {size / baseline / 1e6:.0f} MB/s",
            f"{size / parse / 1e6:.0f} MB/s",
            baseline / parse,
            ">= 0.5",
            "best of 3 each",
        )
        consume_t, cp_t = bench_consume(big, work, ids)
        add(
            "consume 50 calls",
            f"cp + fsync {cp_t:.2f} s",
            f"{consume_t:.2f} s",
            consume_t / cp_t,
            "<= 2",
            "best of 5 each, interleaved",
        )
        rss = bench_rss(big, work, ids)
        worst = max(rss["consume"], rss["mirror-tail"])
        add(
            "peak RSS growth (consume, mirror tail), MB",
            "limit 64 MB",
            f"{worst:.0f} MB",
            worst / 64,
            "< 1",
            f"mirror from 0: {rss['mirror-from-0']:.0f} MB (holds what it returns)",
        )
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--mb", type=int, default=100)
    args = parser.parse_args()
    found = figures(args.mb)
    print(render(found))
    return 0 if all(f.met is not False for f in found) else 1


if __name__ == "__main__":
    sys.exit(main())
