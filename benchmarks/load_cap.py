"""P9's loaded-thread cap: one agent's warm app-server (the fake), driven through `serve` with many
more sessions than `max_loaded_threads`, keeps its peak RSS under the bound the cap implies.

The bound comes from the same run: a bare fake app-server, driven by a minimal client with the same
prompts, gives `base` (its RSS once warm with nothing loaded) and `per_thread` (RSS growth per
loaded thread, N threads loaded with no cap); bound = base + per_thread × cap + margin, the margin
being per_thread × LANES (threads loading while an unload is under way) + SLACK_MB. The fake
runs under a wrapper that logs how many threads it holds after each request (it loads and unloads
only while handling one), so the row also says how many were loaded at most.
"""

from __future__ import annotations

import asyncio
import json
import sys
from dataclasses import dataclass
from pathlib import Path

from benchmarks.daemon import Daemon, children, env_without_fake_scenario, peak_rss_kb
from benchmarks.figures import Figure
from benchmarks.warm_serve import BareAppServer

CAP = 4  # `max_loaded_threads` of the capped run
LANES = 4  # turns running at once (one workspace each: a workspace runs one turn at a time)
PROMPT_KB = 64  # a thread's history (prompt and echoed reply per turn) is most of its memory
# The margin: LANES more threads (a turn loads its thread before the give-back of the least
# recently used one is done; in-use threads are never given back), plus what Python's allocator
# keeps of freed memory and the turns in flight hold of their lines.
SLACK_MB = 1.0

COUNTING_CODEX = """#!{python}
# The fake codex; as app-server it appends how many threads it holds loaded to
# $BENCH_LOADED/<pid> after each request (it loads and unloads threads only while handling one).
import os, sys
from fake_codex.app_server import server
_handle = server.AppServer._handle
def handle(self, message):
    try:
        _handle(self, message)
    finally:
        with open(os.path.join(os.environ["BENCH_LOADED"], str(os.getpid())), "a") as log:
            log.write("%d\\n" % len(self.threads))
server.AppServer._handle = handle
from fake_codex.cli import main
sys.exit(main())
"""


@dataclass(frozen=True)
class Bound:
    base_kb: int
    per_thread_kb: float
    probe_threads: int

    def margin_mb(self) -> float:
        return self.per_thread_kb * LANES / 1024 + SLACK_MB

    def limit_mb(self, cap: int) -> float:
        return (self.base_kb + self.per_thread_kb * cap) / 1024 + self.margin_mb()


def counting_codex(folder: Path) -> Path:
    path = folder / "codex-counting"
    path.write_text(COUNTING_CODEX.format(python=sys.executable))
    path.chmod(0o755)
    return path


def rss_kb(pid: int) -> int:
    """VmRSS of a live process in kB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for pid {pid}")


def most_loaded(folder: Path, pid: int) -> int:
    log = folder / str(pid)
    counts = [int(n) for n in log.read_text().split()] if log.exists() else []
    if not counts:
        raise RuntimeError(f"the fake app-server {pid} logged no loaded-thread count")
    return max(counts)


def prompt(key: str) -> str:
    return f"{key} " + "x" * (PROMPT_KB * 1024)


async def _probe(folder: Path, binary: Path, threads: int, turns: int) -> Bound:
    """The bare fake app-server: warm with nothing loaded, then `threads` loaded (no cap)."""
    home = folder / "home-probe"
    home.mkdir()
    workspace = folder / "probe-ws"
    workspace.mkdir()
    env = env_without_fake_scenario() | {"CODEX_HOME": str(home),
                                         "BENCH_LOADED": str(folder / "loaded")}  # fmt: skip
    bare = BareAppServer(str(binary), ["-c", "thread_unload_delay_secs=0"], env)
    params = {"cwd": str(workspace), "approvalPolicy": "never", "sandbox": "danger-full-access"}
    try:
        warm = await bare.start(workspace)
        for t in range(turns):
            await bare.turn(warm, prompt(f"w t{t}"))
        await bare.call("thread/unsubscribe", {"threadId": warm})
        # Requests are handled in order: the unload (after the reply above) is done by now.
        gone = await bare.call("thread/unsubscribe", {"threadId": warm})
        if gone.get("status") != "notLoaded":
            raise RuntimeError(f"the fake app-server did not unload the thread: {gone}")
        assert bare.proc is not None
        base = rss_kb(bare.proc.pid)
        for n in range(threads):
            thread = (await bare.call("thread/start", params))["thread"]["id"]
            for t in range(turns):
                await bare.turn(thread, prompt(f"p{n} t{t}"))
        loaded = rss_kb(bare.proc.pid)
    finally:
        await bare.close()
    return Bound(base, (loaded - base) / threads, threads)


async def _capped(
    folder: Path, binary: Path, sessions: int, turns: int
) -> tuple[int, int, int, float]:
    """One agent, `sessions` sessions × `turns` turns in LANES workspaces, each lane's sessions
    taking turns in rotation (every turn reloads its thread): (app-server pid, its peak kB, the
    most threads it held loaded, seconds)."""
    home = folder / "home-capped"
    home.mkdir()
    config = folder / "config-capped.json"
    config.write_text(json.dumps({"binary": str(binary), "codex_home": str(home),
                                  "backend": "app-server", "max_loaded_threads": CAP}))  # fmt: skip
    env = env_without_fake_scenario() | {"BENCH_LOADED": str(folder / "loaded")}
    loop = asyncio.get_running_loop()
    async with Daemon(config, env) as daemon:

        async def lane(lane: int) -> None:
            workspace = folder / f"capped-ws{lane}"
            workspace.mkdir()
            mine = range(lane, sessions, LANES)
            for t in range(turns):
                for s in mine:
                    key = f"s{s} t{t}"
                    record = await daemon.turn(key, "agent", workspace, prompt(key), f"s{s}")
                    text = "".join(e["text"] for _, e in record.events if e["type"] == "text_delta")
                    if key not in text:
                        raise RuntimeError(f"capped turn {key} did not answer: {record.events}")

        start = loop.time()
        await asyncio.gather(*(lane(n) for n in range(LANES)))
        took = loop.time() - start
        assert daemon.proc is not None
        servers = children(daemon.proc.pid)
        if len(servers) != 1:
            raise RuntimeError(f"one agent should have one warm app-server, found {servers}")
        pid = servers[0]
        peak = peak_rss_kb(pid)
    return pid, peak, most_loaded(folder / "loaded", pid), took


def figures(folder: Path, sessions: int, turns: int) -> list[Figure]:
    """The capped row; `folder` is the load benchmark's scratch folder."""
    (folder / "loaded").mkdir()
    binary = counting_codex(folder)
    bound = asyncio.run(_probe(folder, binary, 4 * CAP, turns))
    _pid, peak_kb, loaded, took = asyncio.run(_capped(folder, binary, sessions, turns))
    limit = bound.limit_mb(CAP)
    peak = peak_kb / 1024
    return [
        Figure(
            key="P9",
            name=(
                f"app-server: one agent's warm app-server, {sessions} sessions x {turns} turns "
                f"({LANES} at once), max_loaded_threads {CAP}: peak RSS"
            ),
            baseline=(
                f"bound {limit:.1f} MB = base {bound.base_kb / 1024:.1f} + "
                f"{bound.per_thread_kb:.0f} kB/thread x {CAP} + margin {bound.margin_mb():.1f}"
            ),
            ours=f"{peak:.1f} MB, {loaded} threads loaded at most",
            ratio=peak / limit,
            target="<= 1",
            spread=(
                f"VmHWM; per-thread from {bound.probe_threads} threads on a bare fake; "
                f"{sessions * turns / took:.0f} turns/s"
            ),
        )
    ]
