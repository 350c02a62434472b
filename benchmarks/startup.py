"""P2 and P7: process start-up against `python -c pass`, interleaved.

P2: `mcp-host` from spawn to its `initialize` reply (codex starts it on every turn with tools), as
the turn's MCP entry runs it (`bridge.registration.turn_plugin_command`).
P7: the fake codex running a whole `exec --json` turn with no scenario, spawn to exit.
"""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.bench_mcp_host import time_exit, time_initialize
from benchmarks.figures import Figure, Pairs, interleave, ms


def _figure(key: str, name: str, pairs: Pairs, target: str) -> Figure:
    return Figure(
        key=key,
        name=name,
        baseline=f"python -c pass {ms(statistics.median(pairs.b))}",
        ours=ms(statistics.median(pairs.a)),
        ratio=pairs.ratio,
        target=target,
        spread=pairs.spread(),
    )


def mcp_host(pairs: int) -> Figure:
    from plexum_openai_provider.bridge.registration import turn_plugin_command

    py = sys.executable
    env = {**os.environ, "PLEXUM_MCP_SOCKET": "/nonexistent/plexum-bench.sock",
           "PLEXUM_MCP_AGENT_ID": "bench"}  # fmt: skip
    samples = interleave(
        lambda: time_initialize(turn_plugin_command(), env),
        lambda: time_exit([py, "-c", "pass"]),
        pairs,
    )
    return _figure("P2", "mcp-host start to initialize reply", samples, "<= 3")


def fake_codex_exec(pairs: int) -> Figure:
    script = Path(sys.executable).with_name("fake-codex")
    argv = [str(script)] if script.exists() else [sys.executable, "-m", "fake_codex"]
    argv += ["exec", "--skip-git-repo-check", "--json", "--", "hello"]
    home = Path(tempfile.mkdtemp(prefix="bench-fake-"))
    env = {**os.environ, "CODEX_HOME": str(home)}
    env.pop("FAKE_CODEX_SCENARIO", None)
    env.pop("FAKE_CODEX_LOG", None)

    def fake() -> float:
        start = time.perf_counter()
        proc = subprocess.run(argv, env=env, cwd=home, capture_output=True, timeout=60)
        took = time.perf_counter() - start
        if proc.returncode != 0 or b"turn.completed" not in proc.stdout:
            raise RuntimeError(f"fake codex exec failed: {proc.stderr[-400:]!r}")
        return took

    try:
        samples = interleave(fake, lambda: time_exit([sys.executable, "-c", "pass"]), pairs)
    finally:
        shutil.rmtree(home, ignore_errors=True)
    return _figure("P7", "fake codex exec, whole turn", samples, "<= 10")
