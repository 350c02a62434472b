"""The `app-server` backend against a bare `codex exec` turn, on the REAL codex and the fake
Responses server (same server, same run, zero model latency).

Two figures (issue 14): a warm turn (a thread already loaded in the warm process, through the
provider's `run_turn`) ÷ a bare `codex exec` turn (the binary alone, no provider), target ≤ 0.25×;
and how long after the server wrote the first text delta the host gets the first `text_delta`
(p50, target ≤ 50 ms). Usage: `python -m benchmarks.bench_app_server [-n RUNS] [--version V]`;
`measure(version, runs)` returns the figures for a caller that prints its own table.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from benchmarks.figures import Figure  # noqa: E402
from conformance.installs import binary as native_binary  # noqa: E402
from fake_codex.responses import script as responses_script  # noqa: E402
from fake_codex.responses import server as responses_server  # noqa: E402
from fake_codex.testing.real_env import codex_env, exec_argv, provider_args  # noqa: E402
from plexum_openai_provider.config import HostConfig  # noqa: E402
from plexum_openai_provider.events import MessageEnd, TextDelta  # noqa: E402
from plexum_openai_provider.turn import TurnRequest, close_backends, open_turn  # noqa: E402

TARGET_RATIO = 0.25  # issue 22 (issue 14 set 0.3)
TARGET_FIRST_DELTA_MS = 50.0
DEFAULT_VERSION = "0.169.0"


@dataclass(frozen=True)
class Figures:
    version: str
    exec_s: float  # median wall time of a bare `codex exec` turn
    warm_s: float  # median of a warm app-server turn through the provider
    first_delta_ms: float  # p50: server wrote the first delta → the host got the first text_delta

    @property
    def ratio(self) -> float:
        return self.warm_s / self.exec_s


def _reply(text: str) -> dict[str, Any]:
    pieces = [text[i : i + 4] for i in range(0, len(text), 4)]
    return {"output": [{"type": "message", "text": text, "deltas": pieces}]}


class _DeltaClock:
    """When the server encoded each first text delta of a reply (monotonic, this process)."""

    def __init__(self) -> None:
        self.first: list[float] = []
        self._encode = responses_script.encode_sse

    def __enter__(self) -> _DeltaClock:
        def encode(event: Any) -> bytes:
            data = self._encode(event)
            # "warm" is the first piece of every warm reply (see `_reply`): written right after.
            if event.get("type") == "response.output_text.delta" and event.get("delta") == "warm":
                self.first.append(time.monotonic())
            return data

        responses_script.encode_sse = encode
        return self

    def __exit__(self, *exc: object) -> None:
        responses_script.encode_sse = self._encode


def _bare_exec(binary: Path, base_url: str, version: str, home: Path, work: Path) -> float:
    argv = exec_argv(binary, base_url, version)
    start = time.monotonic()
    subprocess.run(
        argv, input=b"hi", capture_output=True, cwd=work, env=codex_env(home), check=True
    )
    return time.monotonic() - start


async def _measure(version: str, runs: int) -> Figures:
    binary = native_binary(version)
    with tempfile.TemporaryDirectory(prefix="bench-app-server-") as tmp:
        root = Path(tmp)
        home, work = root / "home", root / "work"
        home.mkdir()
        work.mkdir()
        os.environ.update(codex_env(home))
        replies = [_reply("exec answer") for _ in range(runs)]
        replies += [_reply("warm answer, streamed in pieces") for _ in range(runs + 1)]
        server = responses_server.ResponsesServer(replies)
        with responses_server.SyncResponsesServer(server) as srv, _DeltaClock() as clock:
            exec_times = [
                _bare_exec(binary, srv.base_url, version, home, work) for _ in range(runs)
            ]
            config = HostConfig(
                binary=str(binary),
                codex_home=str(home),
                extra_args=tuple(provider_args(srv.base_url, version)),
                backend="app-server",
            )
            request = TurnRequest(prompt="hi", workspace=work, session_id="bench")
            warm_times: list[float] = []
            received: list[float] = []
            try:
                for i in range(runs + 1):  # the first turn starts the process and the thread
                    start = time.monotonic()
                    first: float | None = None
                    last: Any = None
                    async with open_turn(config, request) as turn:
                        async for event in turn:
                            if isinstance(event, TextDelta) and first is None:
                                first = time.monotonic()
                            last = event
                    if not isinstance(last, MessageEnd):
                        raise RuntimeError(f"a warm turn failed: {last}")
                    if i > 0:
                        warm_times.append(time.monotonic() - start)
                        if first is not None:
                            received.append(first)
            finally:
                await close_backends()
        sent = clock.first[-len(received) :] if received else []
        lags = [(r - s) * 1000 for r, s in zip(received, sent, strict=True)]
    return Figures(
        version,
        statistics.median(exec_times),
        statistics.median(warm_times),
        statistics.median(lags) if lags else float("nan"),
    )


def measure(version: str = DEFAULT_VERSION, runs: int = 5) -> Figures:
    saved = dict(os.environ)  # the provider's codex reads the test key and home from it
    try:
        return asyncio.run(_measure(version, runs))
    finally:
        os.environ.clear()
        os.environ.update(saved)


def figures(runs: int) -> list[Figure]:
    """P8 for `python -m benchmarks`: the two app-server figures as table rows."""
    f = measure(runs=runs)
    ms = f"{f.first_delta_ms:.1f} ms"
    return [
        Figure(
            "P8",
            f"warm app-server turn (codex {f.version})",
            f"codex exec {f.exec_s * 1000:.0f} ms",
            f"{f.warm_s * 1000:.0f} ms",
            f.ratio,
            f"<= {TARGET_RATIO}",
            f"medians of {runs} turns each",
        ),
        Figure(
            "P8",
            "first text_delta after the model streamed it, p50",
            f"budget {TARGET_FIRST_DELTA_MS:g} ms",
            ms,
            f.first_delta_ms / TARGET_FIRST_DELTA_MS,
            "<= 1",
            f"p50 of {runs} turns",
        ),
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.bench_app_server")
    parser.add_argument("-n", "--runs", type=int, default=5)
    parser.add_argument("--version", default=DEFAULT_VERSION)
    args = parser.parse_args(argv)
    f = measure(args.version, args.runs)
    ratio_ok = "ok" if f.ratio <= TARGET_RATIO else "MISSED"
    delta_ok = "ok" if f.first_delta_ms <= TARGET_FIRST_DELTA_MS else "MISSED"
    print(f"codex {f.version}, median of {args.runs} runs")
    print(f"bare `codex exec` turn       {f.exec_s * 1000:8.1f} ms")
    print(f"warm app-server turn          {f.warm_s * 1000:8.1f} ms")
    print(f"ratio warm / exec             {f.ratio:8.2f}x  (target <= {TARGET_RATIO}x: {ratio_ok})")
    print(
        f"first text_delta after the server sent it  {f.first_delta_ms:6.1f} ms p50 "
        f"(target <= {TARGET_FIRST_DELTA_MS:g} ms: {delta_ok})"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
