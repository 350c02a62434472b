"""P1a (warm) and P1b (cold): a turn through the provider vs a bare `codex exec`, same real codex
0.169.0, same fake Responses server, a fresh workspace per run.

P1a runs both sides from this one warm process (the library's `run_turn` vs a bare asyncio
subprocess); with a tool call, the bare codex gets the conformance echo MCP server under the same
server name, so the model's scripted call is the same on both sides. P1b runs the
`plexum-openai-provider say --json` process vs the bare `codex exec` process.
"""

from __future__ import annotations

import asyncio
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from benchmarks.figures import Figure, Pairs, interleave, ms
from benchmarks.responses import ANSWER, ECHO_TEXT
from benchmarks.rig import (
    ResponsesProcess,
    Rig,
    codex_exec_argv,
    echo_server_args,
    provider,
    real_codex,
)

AGENT = "bench"
PROMPT = b"say something"


def _check_exec_output(stdout: bytes, tool: bool) -> None:
    events = [json.loads(line) for line in stdout.splitlines() if line.startswith(b"{")]
    types = [e.get("type") for e in events]
    if "turn.completed" not in types or ANSWER.encode() not in stdout:
        raise RuntimeError(f"bare codex exec did not complete the turn: {stdout[-400:]!r}")
    if tool and b'"mcp_tool_call"' not in stdout:
        raise RuntimeError(f"bare codex exec made no MCP call: {stdout[-400:]!r}")


def _check_events(events: list[dict[str, Any]], tool: bool) -> None:
    if not events or events[-1].get("type") != "message_end":
        raise RuntimeError(f"the turn did not end with message_end: {events[-3:]}")
    texts = [e.get("text") for e in events if e.get("type") == "text_delta"]
    if ANSWER not in texts:
        raise RuntimeError(f"the turn did not carry the answer: {events}")
    if tool:
        results = [e for e in events if e.get("type") == "tool_result"]
        if not results or ECHO_TEXT not in json.dumps(results[0].get("output")):
            raise RuntimeError(f"the echo call is not in the turn's events: {events}")


# -- P1b: cold processes --------------------------------------------------------------------------


def _say_argv() -> list[str]:
    script = Path(sys.executable).with_name("plexum-openai-provider")
    if script.exists():
        return [str(script)]
    return [sys.executable, "-m", "plexum_openai_provider.cli"]


def _run(argv: list[str], **kwargs: Any) -> tuple[subprocess.CompletedProcess[bytes], float, float]:
    """Run to exit; (result, wall seconds, CPU seconds of it and the descendants it reaped)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    proc = subprocess.run(argv, capture_output=True, timeout=60, **kwargs)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return proc, wall, cpu


def cold(pairs: int) -> list[Figure]:
    rig = Rig()
    server = ResponsesProcess()
    cpu: dict[str, list[float]] = {"bare": [], "plain": [], "tools": []}
    try:
        binary = real_codex()
        env = rig.env()
        config = rig.write_config(binary, provider(server.url))
        bare_argv = codex_exec_argv(binary, server.url)

        def bare() -> float:
            proc, wall, used = _run(bare_argv, input=PROMPT, cwd=rig.workspace(), env=env)
            _check_exec_output(proc.stdout, tool=False)
            cpu["bare"].append(used)
            return wall

        def say(*flags: str) -> float:
            ws = rig.workspace()
            argv = [*_say_argv(), "say", "--config", str(config), "--json", *flags]
            argv += ["--workspace", str(ws), "--", PROMPT.decode()]
            proc, wall, used = _run(argv, cwd=ws, env=env)
            _check_events([json.loads(line) for line in proc.stdout.splitlines()], tool=False)
            cpu["tools" if not flags else "plain"].append(used)
            return wall

        plain = interleave(lambda: say("--no-tools"), bare, pairs)
        base_plain, cpu["bare"] = cpu["bare"][1:], []  # the warm-up pair is not counted
        tools = interleave(say, bare, pairs)
        base_tools = cpu["bare"][1:]
    finally:
        server.close()
        rig.close()
    figures = []
    for name, samples, target, mine, theirs in (
        ("cold say --json --no-tools", plain, "<= 1.3", cpu["plain"][1:], base_plain),
        ("cold say --json (echo offered)", tools, "<= 1.5", cpu["tools"][1:], base_tools),
    ):
        ratio = statistics.median(m / t for m, t in zip(mine, theirs, strict=True))
        what = "no tools" if "no-tools" in name else "echo offered"
        note = f"{what}: CPU time (user+sys, every process) {ratio:.2f}x the bare exec's"
        figures.append(_turn_figure("P1b", name, samples, target, "codex exec", note))
    return figures


def _turn_figure(
    key: str, name: str, pairs: Pairs, target: str, base: str, note: str = ""
) -> Figure:
    return Figure(
        key=key,
        name=name,
        baseline=f"{base} {ms(statistics.median(pairs.b))}",
        ours=ms(statistics.median(pairs.a)),
        ratio=pairs.ratio,
        target=target,
        spread=pairs.spread(),
        note=note,
    )


# -- P1a: one warm process ------------------------------------------------------------------------


def warm(pairs: int) -> list[Figure]:
    # The library passes this process's environment to codex: give both sides the rig's (the
    # test key, a throwaway HOME), and put ours back afterwards.
    saved = dict(os.environ)
    try:
        return asyncio.run(_warm(pairs))
    finally:
        os.environ.clear()
        os.environ.update(saved)


async def _warm(pairs: int) -> list[Figure]:
    binary = real_codex()
    figures = []
    for tool in (False, True):
        samples = await _warm_pairs(binary, tool, pairs)
        label = "warm turn, one MCP tool call" if tool else "warm turn, plain"
        target = "<= 1.15" if tool else "<= 1.05"
        figures.append(_turn_figure("P1a", label, samples, target, "codex exec"))
    return figures


async def _warm_pairs(binary: str, tool: bool, pairs: int) -> Pairs:
    from plexum_openai_provider import TurnRequest, run_turn
    from plexum_openai_provider.bridge.names import namespace, server_name
    from plexum_openai_provider.cli.builtin_tools import BUILTIN_TOOLS, call_builtin
    from plexum_openai_provider.config import load_config

    name = server_name(AGENT)
    server = ResponsesProcess(namespace(name) if tool else None)
    rig = Rig()
    try:
        config = load_config(str(rig.write_config(binary, provider(server.url))))
        bare_argv = codex_exec_argv(binary, server.url, echo_server_args(name) if tool else [])
        os.environ.update(rig.env())

        async def ours() -> float:
            request = TurnRequest(
                prompt=PROMPT.decode(),
                workspace=rig.workspace(),
                agent_id=AGENT,
                tools=BUILTIN_TOOLS if tool else (),
                call_tool=call_builtin if tool else None,
            )
            start = time.perf_counter()
            events = await run_turn(config, request)
            took = time.perf_counter() - start
            _check_events([e.to_json() for e in events], tool)
            return took

        async def bare() -> float:
            ws = rig.workspace()
            start = time.perf_counter()
            proc = await asyncio.create_subprocess_exec(
                *bare_argv,
                cwd=ws,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,
                start_new_session=True,
            )
            stdout, _ = await proc.communicate(PROMPT)
            took = time.perf_counter() - start
            _check_exec_output(stdout, tool)
            return took

        return await _interleave_async(ours, bare, pairs)
    finally:
        server.close()
        rig.close()


async def _interleave_async(a: Any, b: Any, pairs: int) -> Pairs:
    await a()
    await b()
    xs: list[float] = []
    ys: list[float] = []
    for i in range(pairs):
        if i % 2:
            ys.append(await b())
            xs.append(await a())
        else:
            xs.append(await a())
            ys.append(await b())
    return Pairs(xs, ys)
