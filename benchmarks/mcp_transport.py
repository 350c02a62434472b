"""Research for issue 22: a turn's tools served to codex over streamable HTTP (a warm server, a
bearer token from an env var) against a stdio MCP server codex starts itself, per pinned version.

For each version: a bare `codex exec` whose model calls the tool `echo` once, with the tool served
by (a) the conformance stdio echo server (a Python process codex starts, as it starts `mcp-host`)
and (b) `benchmarks.http_mcp` already running; and, as the floor, the same exec with no MCP server
and no call. Rounds are interleaved; medians and the pair ratios are printed, for wall time and
for the CPU time of each exec's process tree (steadier on a loaded machine; the warm HTTP
server's own CPU, a few ms a turn, is not in it).
Usage: `python -m benchmarks.mcp_transport [-n RUNS] [--versions 0.135.0,0.169.0]`.
"""

from __future__ import annotations

import argparse
import json
import resource
import secrets
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from benchmarks.responses import ECHO_TEXT
from benchmarks.rig import ROOT, ResponsesProcess, Rig, echo_server_args
from conformance.installs import binary as installed_binary
from fake_codex.testing.real_env import EXEC_FLAGS, provider_args

SERVER = "echo"
TOKEN_VAR = "BENCH_MCP_TOKEN"
VERSIONS = ("0.135.0", "0.150.1", "0.169.0", "0.171.0")
CPU: list[float] = []  # CPU seconds (user+sys) of each exec's process tree, in run order


def http_args(url: str) -> list[str]:
    entry = (
        f'{{url="{url}",bearer_token_env_var="{TOKEN_VAR}",required=true,'
        f'default_tools_approval_mode="approve"}}'
    )
    return ["-c", f"mcp_servers.{SERVER}={entry}"]


def _exec(binary: Path, url: str, version: str, extra: list[str], rig: Rig,
          env: dict[str, str], call: bool) -> float:  # fmt: skip
    argv = [str(binary), "exec", *EXEC_FLAGS, *provider_args(url, version), *extra, "--", "-"]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    proc = subprocess.run(argv, input=b"hi", capture_output=True, cwd=rig.workspace(), env=env,
                          timeout=60)  # fmt: skip
    took = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    CPU.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
    if b"turn.completed" not in proc.stdout:
        raise RuntimeError(f"{version}: exec failed: {proc.stdout[-300:]!r} {proc.stderr[-300:]!r}")
    if call:
        done = [
            json.loads(line)["item"]
            for line in proc.stdout.splitlines()
            if b'"item.completed"' in line and b'"mcp_tool_call"' in line
        ]
        if not done or ECHO_TEXT not in json.dumps(done[0].get("result")):
            raise RuntimeError(f"{version}: the echo call failed: {proc.stdout[-600:]!r}")
    return took


def measure(version: str, runs: int) -> dict[str, list[float]]:
    binary = installed_binary(version)
    rig = Rig()
    token = secrets.token_urlsafe(24)
    plain = ResponsesProcess()
    tool = ResponsesProcess(f"mcp__{SERVER}")
    http = subprocess.Popen([sys.executable, "-m", "benchmarks.http_mcp", token], cwd=ROOT,
                            stdout=subprocess.PIPE, text=True)  # fmt: skip
    try:
        assert http.stdout is not None
        mcp_url = http.stdout.readline().strip()
        env = rig.env() | {TOKEN_VAR: token}
        cases: dict[str, Callable[[], float]] = {
            "no MCP": lambda: _exec(binary, plain.url, version, [], rig, env, False),
            "stdio server": lambda: _exec(
                binary, tool.url, version, echo_server_args(SERVER), rig, env, True
            ),
            "HTTP server": lambda: _exec(
                binary, tool.url, version, http_args(mcp_url), rig, env, True
            ),
        }
        samples: dict[str, list[float]] = {name: [] for name in cases}
        for run in cases.values():
            run()  # warm-up
        for i in range(runs):
            order = list(cases.items())
            for name, run in order if i % 2 else reversed(order):
                samples[name].append(run())
                samples.setdefault(f"{name} CPU", []).append(CPU[-1])
        return samples
    finally:
        http.terminate()
        http.wait(timeout=10)
        plain.close()
        tool.close()
        rig.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.mcp_transport")
    parser.add_argument("-n", "--runs", type=int, default=7)
    parser.add_argument("--versions", default=",".join(VERSIONS))
    args = parser.parse_args(argv)
    for version in args.versions.split(","):
        try:
            samples = measure(version, args.runs)
        except Exception as exc:  # a version without HTTP MCP: say so, go on
            print(f"codex {version}: {exc}")
            continue
        line = [f"codex {version}:"]
        for name, values in samples.items():
            base = samples["no MCP CPU" if name.endswith("CPU") else "no MCP"]
            ratio = statistics.median(v / b for v, b in zip(values, base, strict=True))
            line.append(f"{name} {statistics.median(values) * 1000:.0f} ms ({ratio:.2f}x)")
        for what in ("", " CPU"):
            stdio, http = samples[f"stdio server{what}"], samples[f"HTTP server{what}"]
            gain = statistics.median(s - h for s, h in zip(stdio, http, strict=True))
            line.append(
                f"HTTP saves{what or ' wall'} {gain * 1000:.0f} ms a turn (median of diffs)"
            )
        print("  ".join(line), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
