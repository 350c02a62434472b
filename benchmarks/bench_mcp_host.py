"""Cold start of `mcp-host` to its `initialize` reply, against `python -c pass` and an SDK server.

Codex gives optional MCP servers about a second and starts `mcp-host` on every exec, so its cold
start is on every turn's critical path. Target: ≤ 3× `python -c pass` (median of N runs, all in
this one process run). Usage: `python benchmarks/bench_mcp_host.py [-n RUNS]`.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable

from plexum_openai_provider.bridge.registration import turn_plugin_command

INIT = json.dumps({
    "jsonrpc": "2.0", "id": 1, "method": "initialize",
    "params": {"protocolVersion": "2025-06-18", "capabilities": {},
               "clientInfo": {"name": "bench", "version": "0"}},
}).encode() + b"\n"  # fmt: skip

SDK_SERVER = """
import anyio
from mcp.server.lowlevel import Server
from mcp.server.stdio import stdio_server
import mcp_types as types

async def list_tools(ctx, params):
    return types.ListToolsResult(tools=[])

server = Server("bench", on_list_tools=list_tools)

async def main():
    async with stdio_server() as (r, w):
        await server.run(r, w, server.create_initialization_options())

anyio.run(main)
"""


def time_exit(argv: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(argv, check=True, stdin=subprocess.DEVNULL)
    return time.perf_counter() - start


def time_initialize(argv: list[str], env: dict[str, str]) -> float:
    """Seconds from spawn to the first reply line (the initialize result)."""
    start = time.perf_counter()
    proc = subprocess.Popen(
        argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env
    )
    assert proc.stdin is not None and proc.stdout is not None
    proc.stdin.write(INIT)
    proc.stdin.flush()
    line = proc.stdout.readline()
    elapsed = time.perf_counter() - start
    proc.stdin.close()
    proc.wait(timeout=30)
    reply = json.loads(line)
    assert reply["id"] == 1 and "result" in reply, reply
    return elapsed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("-n", "--runs", type=int, default=21)
    parser.add_argument("--no-sdk", action="store_true", help="skip the (slow) SDK comparison")
    args = parser.parse_args()
    env = {**os.environ, "PLEXUM_MCP_SOCKET": "/nonexistent/plexum-bench.sock",
           "PLEXUM_MCP_AGENT_ID": "bench"}  # fmt: skip
    py = sys.executable
    cases: dict[str, Callable[[], float]] = {
        "python -c pass": lambda: time_exit([py, "-c", "pass"]),
        # As the turn's MCP entry starts it (`bridge.registration.turn_plugin_command`).
        "mcp-host (no listener)": lambda: time_initialize(turn_plugin_command(), env),
    }
    if not args.no_sdk:
        cases["official SDK stdio server"] = lambda: time_initialize([py, "-c", SDK_SERVER], env)
    samples: dict[str, list[float]] = {name: [] for name in cases}
    for run in cases.values():
        run()  # warm the page cache and .pyc files; not counted
    # Round-robin, so a noisy neighbour slows every case alike instead of just one.
    for _ in range(args.runs):
        for name, run in cases.items():
            samples[name].append(run())
    medians = {name: statistics.median(values) for name, values in samples.items()}
    base = medians["python -c pass"]
    for name, median in medians.items():
        print(f"{name:28s} median {median * 1000:8.1f} ms  {median / base:6.2f}x python -c pass")
    ratio = medians["mcp-host (no listener)"] / base
    print(f"mcp-host ratio {ratio:.2f} (target <= 3.0): {'OK' if ratio <= 3.0 else 'OVER'}")
    return 0 if ratio <= 3.0 else 1


if __name__ == "__main__":
    sys.exit(main())
