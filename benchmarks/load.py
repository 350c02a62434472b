"""P9, the daemon's load: one `serve`, N agents × K turns each, all at once, on the fake codex.

Three figures per backend (`exec`, `app-server`): throughput against the fake codex alone doing the
same N chains of K turns (a new thread, then `exec resume` of it), the latency from the line codex
wrote to the `turn/event` the daemon read (p50, p99: codex here is the fake under a stamping
wrapper that logs the time of each stdout write), and `serve`'s peak RSS (VmHWM). The baseline
of both backends is the fake `exec` alone (the same turns' work); its pipe latency under that
load, read by this process, is the latency's floor. Here each agent has its own warm app-server
holding one thread, so the loaded-thread cap is measured apart (`load_cap.py`): ONE agent's
app-server, many more sessions than `max_loaded_threads`, its peak RSS against the bound the cap
implies (base + per-thread × cap + margin, both measured in the same run).
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks import load_cap
from benchmarks.daemon import Daemon, env_without_fake_scenario
from benchmarks.figures import Figure

SERVE_RSS_LIMIT_MB = 150.0
LATENCY_P99_BUDGET_MS = 20.0
REPLY = re.compile(r"received your prompt: (a\d+ t\d+)")

STAMPING_CODEX = """#!{python}
# The fake codex, logging when each stdout write happened (monotonic ns) to $BENCH_STAMPS/<pid>.
import os, sys, time
_write = os.write
_log = os.open(os.path.join(os.environ["BENCH_STAMPS"], str(os.getpid())),
               os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
def write(fd, data):
    at = time.monotonic_ns()  # before the write: the reader may wake before it returns
    n = _write(fd, data)
    if fd == 1:
        _write(_log, b"%d %s\\n" % (at, bytes(data[:n]).replace(b"\\n", b" ")))
    return n
os.write = write
from fake_codex.cli import main
sys.exit(main())
"""


def stamping_codex(folder: Path) -> Path:
    path = folder / "codex"
    path.write_text(STAMPING_CODEX.format(python=sys.executable))
    path.chmod(0o755)
    return path


def written_at(stamps: Path) -> dict[str, list[int]]:
    """Reply key (`aN tK`) → the times (ns) codex wrote a stdout line carrying that reply."""
    found: dict[str, list[int]] = {}
    for log in stamps.iterdir():
        for line in log.read_bytes().splitlines():
            stamp, _, data = line.partition(b" ")
            for key in REPLY.findall(data.decode("utf-8", "replace")):
                found.setdefault(key, []).append(int(stamp))
    return found


def latencies(read: dict[str, int], written: dict[str, list[int]]) -> list[float]:
    """Seconds from codex's last write of each reply before the daemon read it, to that read."""
    out = []
    for key, at in read.items():
        before = [w for w in written.get(key, []) if w <= at]
        if not before:
            raise RuntimeError(
                f"no stdout line of codex carried {key!r} before the daemon read it at {at}: "
                f"{written.get(key)}"
            )
        out.append((at - max(before)) / 1e9)
    return out


def quantile(values: list[float], q: int) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1]


async def _through_serve(
    folder: Path, binary: Path, backend: str, agents: int, turns: int
) -> tuple[float, dict[str, int], int]:
    """(seconds, reply key → ns the daemon read it, serve's peak kB)."""
    home = folder / f"home-{backend}"
    home.mkdir()
    config = folder / f"config-{backend}.json"
    config.write_text(json.dumps({"binary": str(binary), "codex_home": str(home),
                                  "backend": backend}))  # fmt: skip
    env = env_without_fake_scenario() | {"BENCH_STAMPS": str(folder / "stamps")}
    read: dict[str, int] = {}
    async with Daemon(config, env) as daemon:

        async def agent(a: int) -> None:
            workspace = folder / f"{backend}-ws{a}"
            workspace.mkdir()
            for t in range(turns):
                key = f"a{a} t{t}"
                record = await daemon.turn(f"{backend}-{key}", f"agent{a}", workspace, key)
                texts = [(ns, e["text"]) for ns, e in record.events if e["type"] == "text_delta"]
                if not texts or key not in texts[-1][1]:
                    raise RuntimeError(f"turn {key} on {backend} did not answer: {record.events}")
                read[key] = texts[0][0]

        start = time.perf_counter()
        await asyncio.gather(*(agent(a) for a in range(agents)))
        took = time.perf_counter() - start
        assert daemon.proc is not None
        serve_kb = daemon.peak_rss_kb()
    return took, read, serve_kb


async def _alone(
    folder: Path, binary: Path, agents: int, turns: int
) -> tuple[float, dict[str, int]]:
    """The fake codex alone: `agents` chains of `turns` turns (new thread, then resume); the
    seconds and, per reply, when this process read codex's line (the same load's pipe latency)."""
    from plexum_openai_provider.codex.argv import build_exec_argv

    home = folder / "home-alone"
    home.mkdir()
    env = env_without_fake_scenario() | {"BENCH_STAMPS": str(folder / "stamps-alone"),
                                         "CODEX_HOME": str(home)}  # fmt: skip
    read: dict[str, int] = {}

    async def chain(a: int) -> None:
        workspace = folder / f"alone-ws{a}"
        workspace.mkdir()
        thread = None
        for t in range(turns):
            key = f"a{a} t{t}"
            argv = build_exec_argv(str(binary), resume_thread_id=thread, model_arg=None)
            proc = await asyncio.create_subprocess_exec(
                *argv, cwd=workspace, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL, start_new_session=True,
            )  # fmt: skip
            assert proc.stdin is not None and proc.stdout is not None
            proc.stdin.write(key.encode())
            proc.stdin.close()
            done = False
            async for line in proc.stdout:
                if key.encode() in line:
                    read[key] = time.monotonic_ns()
                if b"thread.started" in line:
                    thread = json.loads(line)["thread_id"]
                done = done or b"turn.completed" in line
            await proc.wait()
            if not done or key not in read:
                raise RuntimeError(f"the fake alone failed on {key} (exit {proc.returncode})")

    start = time.perf_counter()
    await asyncio.gather(*(chain(a) for a in range(agents)))
    return time.perf_counter() - start, read


def figures(agents: int, turns: int, cap_sessions: int = 32) -> list[Figure]:
    """The load rows of both backends, then the loaded-thread cap's (`cap_sessions` sessions of
    one agent, `turns` turns each)."""
    folder = Path(tempfile.mkdtemp(prefix="bench-load-"))
    try:
        (folder / "stamps").mkdir()
        (folder / "stamps-alone").mkdir()
        binary = stamping_codex(folder)
        total = agents * turns
        rows: list[Figure] = []
        for backend in ("exec", "app-server"):
            # Interleaved: the fake alone right before each backend, so both see the same load.
            alone, bare_read = asyncio.run(_alone(folder, binary, agents, turns))
            bare_lags = latencies(bare_read, written_at(folder / "stamps-alone"))
            shutil.rmtree(folder / "home-alone")
            for path in folder.glob("alone-ws*"):
                shutil.rmtree(path)
            took, read, serve_kb = asyncio.run(
                _through_serve(folder, binary, backend, agents, turns)
            )
            lags = latencies(read, written_at(folder / "stamps"))
            rows += _rows(backend, agents, turns, total / alone, total / took, lags, bare_lags)
            rows.append(_rss_row(backend, "serve's peak RSS", serve_kb, SERVE_RSS_LIMIT_MB))
        rows += load_cap.figures(folder, cap_sessions, turns)
    finally:
        if not os.environ.get("BENCH_KEEP"):
            shutil.rmtree(folder, ignore_errors=True)
    return rows


def _rows(
    backend: str,
    agents: int,
    turns: int,
    base: float,
    ours: float,
    lags: list[float],
    bare_lags: list[float],
) -> list[Figure]:
    name = f"{backend}: {agents} agents x {turns} turns at once through serve"
    out = [
        Figure(
            key="P9",
            name=f"{name} (throughput)",
            baseline=f"fake alone {base:.1f} turns/s",
            ours=f"{ours:.1f} turns/s",
            ratio=ours / base,
            target=">= 0.8",
            spread="one round each",
        )
    ]
    for label, q in (("p50", 50), ("p99", 99)):
        value = quantile(lags, q) * 1000
        floor = quantile(bare_lags, q) * 1000
        out.append(
            Figure(
                key="P9",
                name=f"{backend}: turn/event latency {label}, codex's line to the daemon's read",
                baseline=f"budget {LATENCY_P99_BUDGET_MS:g} ms (bare pipe {floor:.1f} ms)",
                ours=f"{value:.1f} ms",
                ratio=value / LATENCY_P99_BUDGET_MS,
                target="<= 1" if label == "p99" else "",
                spread=f"{min(lags) * 1000:.1f}-{max(lags) * 1000:.1f} ms (min-max of {len(lags)})",
            )
        )
    return out


def _rss_row(backend: str, what: str, kb: int, limit: float) -> Figure:
    mb = kb / 1024
    return Figure(
        key="P9",
        name=f"{backend}: {what}",
        baseline=f"limit {limit:g} MB",
        ours=f"{mb:.0f} MB",
        ratio=mb / limit,
        target="<= 1",
        spread="VmHWM at the end of the load",
    )


def main(argv: list[str] | None = None) -> int:
    import argparse

    from benchmarks.figures import render

    parser = argparse.ArgumentParser(prog="python -m benchmarks.load", description=__doc__)
    parser.add_argument("--agents", type=int, default=64)
    parser.add_argument("--turns", type=int, default=4)
    parser.add_argument("--cap-sessions", type=int, default=32)
    args = parser.parse_args(argv)
    os.environ.pop("FAKE_CODEX_SCENARIO", None)
    print(render(figures(args.agents, args.turns, args.cap_sessions)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
