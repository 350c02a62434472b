"""`say`: one turn from a terminal. `--json` prints each canonical event as one JSON line (the
stable machine format); otherwise events are rendered for people: text on stdout, everything else
on stderr. Ctrl-C or SIGTERM cancels the turn cleanly (codex is stopped, the turn ends in error).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import os
import signal
import sys
from collections.abc import Callable
from pathlib import Path

from ..config import HostConfig, load_config
from ..errors import ConfigError
from ..events import CanonicalEvent, Usage
from ..turn import TurnRequest, open_turn
from .builtin_tools import BUILTIN_TOOLS, call_builtin

EXIT_OK, EXIT_TURN_ERROR, EXIT_USAGE = 0, 1, 2


def say(args: argparse.Namespace) -> int:
    if args.verbose:
        logging.basicConfig(level=logging.DEBUG, stream=sys.stderr)
    try:
        config = load_config(args.config)
        config.model_arg(args.model)
    except ConfigError as exc:
        print(f"plexum-openai-provider: config error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    workspace = Path(args.workspace).resolve()
    if not workspace.is_dir():
        print(f"plexum-openai-provider: workspace {workspace} is not a directory", file=sys.stderr)
        return EXIT_USAGE
    # Bytes, decoded as argv is (undecodable bytes kept as surrogates): the turn then refuses a
    # non-UTF-8 prompt with a `config` error instead of a traceback here.
    prompt = (
        sys.stdin.buffer.read().decode("utf-8", "surrogateescape")
        if args.text == ["-"]
        else " ".join(args.text)
    )
    request = TurnRequest(
        prompt=prompt,
        workspace=workspace,
        session_id=args.session,
        model=args.model,
        agent_id=args.agent,
        tools=() if args.no_tools else BUILTIN_TOOLS,
        call_tool=None if args.no_tools else call_builtin,
    )
    render = _print_json if args.json else _print_human
    return asyncio.run(_run(config, request, render))


async def _run(
    config: HostConfig, request: TurnRequest, render: Callable[[CanonicalEvent], None]
) -> int:
    loop = asyncio.get_running_loop()
    last: CanonicalEvent | None = None
    reader_gone = False
    async with open_turn(config, request) as turn:
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, turn.cancel)
        try:
            async for event in turn:
                last = event
                if reader_gone:
                    continue
                try:
                    render(event)
                except BrokenPipeError:
                    # Whoever read our output went away (`| head -1`): stop the turn cleanly.
                    reader_gone = True
                    turn.cancel()
                    _silence_stdout()
        finally:
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.remove_signal_handler(sig)
    if last is not None and last.type == "message_end" and not reader_gone:
        return EXIT_OK
    if last is not None and last.type == "error" and last.code == "config":
        return EXIT_USAGE
    return EXIT_TURN_ERROR


def _silence_stdout() -> None:
    """Point stdout and stderr at /dev/null, so the exit-time flush cannot fail on the pipe."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):
            os.dup2(devnull, stream.fileno())
    os.close(devnull)


def _print_json(event: CanonicalEvent) -> None:
    sys.stdout.write(json.dumps(event.to_json(), ensure_ascii=False) + "\n")
    sys.stdout.flush()


def _usage_text(usage: Usage) -> str:
    return (
        f"in {usage.input_tokens} (cached {usage.cached_input_tokens}), "
        f"out {usage.output_tokens} (reasoning {usage.reasoning_output_tokens})"
    )


def _print_human(event: CanonicalEvent) -> None:
    out, err = sys.stdout, sys.stderr  # looked up per call: callers may redirect them
    if event.type == "text_delta":
        out.write(event.text.rstrip("\n") + "\n")
        out.flush()
    elif event.type == "reasoning":
        err.write(f"[thinking] {event.text}\n")
    elif event.type == "warning":
        err.write(f"[warning] {event.message}\n")
    elif event.type == "item":
        err.write(f"[{event.kind} {event.phase}] {_item_summary(event.detail)}\n")
    elif event.type == "message_end":
        err.write(
            f"[done] thread {event.thread_id} · this turn: {_usage_text(event.usage)}"
            f" · thread total: {_usage_text(event.thread_usage)}\n"
        )
    elif event.type == "error":
        err.write(f"[error: {event.code}] {event.message}\n")
    err.flush()


def _item_summary(detail: dict[str, object]) -> str:
    for key in ("command", "tool", "query"):
        if isinstance(detail.get(key), str):
            return str(detail[key])
    changes = detail.get("changes")
    if isinstance(changes, list):
        return ", ".join(str(c.get("path")) for c in changes if isinstance(c, dict))
    return ""
