"""`say`: one turn from a terminal. `--json` prints each canonical event as one JSON line (the
stable machine format), a config error included; otherwise text on stdout, every other event (tool
calls with their block ids too) on stderr. The default agent is one per workspace. A plain turn's
codex is spawned before asyncio and the turn are imported (`turn/exec/head_start.py`), so their
import overlaps codex's start-up. Ctrl-C or SIGTERM cancels the turn cleanly, from the moment
codex is spawned: codex is stopped, the turn ends in `error{cancelled}`.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

from ..config import HostConfig, load_config
from ..digest import sha256_hex
from ..errors import ConfigError
from ..files import directory_problem
from ..turn.request import TurnRequest

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (mypy knows the name)
if TYPE_CHECKING:
    from ..bridge.spec import ToolCallback, ToolSpec
    from ..events import CanonicalEvent, ToolCall, Usage
    from ..turn.exec.head_start import HeadStart

EXIT_OK, EXIT_TURN_ERROR, EXIT_USAGE = 0, 1, 2


PREVIEW_CHARS = 100
HELD_SIGNALS = (signal.SIGINT, signal.SIGTERM)


def default_agent_id(workspace: Path) -> str:
    """`cli-` + a short hash of the resolved workspace: two `say` in different workspaces get
    different agents (so different tool sockets), one workspace always the same."""
    resolved = os.fsencode(workspace.resolve())
    return "cli-" + sha256_hex(resolved)[:12]


def _usage_error(args: argparse.Namespace, message: str, *, label: str = "") -> int:
    """A config, model or workspace error: text for people and, with --json, the error event."""
    print(f"plexum-openai-provider: {label}{message}", file=sys.stderr)
    if args.json:
        from ..events import ErrorEvent  # loads with the turn, after codex started, otherwise

        _print_json(ErrorEvent("config", message))
    return EXIT_USAGE


def say(args: argparse.Namespace) -> int:
    if args.verbose:
        import logging  # only here: the turn's own import of it overlaps codex's start-up

        logging.basicConfig(level=logging.DEBUG, stream=sys.stderr)
    try:
        config = load_config(args.config)
        config.model_arg(args.model)
    except ConfigError as exc:
        return _usage_error(args, str(exc), label="config error: ")
    workspace = Path(args.workspace).resolve()
    problem = directory_problem(workspace)
    if problem is not None:
        return _usage_error(args, f"workspace {workspace} {problem}")
    schema = _read_schema(args.output_schema) if args.output_schema else None
    if isinstance(schema, str):
        return _usage_error(args, f"--output-schema: {schema}")
    # Bytes, decoded as argv is (undecodable bytes kept as surrogates): the turn then refuses a
    # non-UTF-8 prompt with a `config` error instead of a traceback here.
    prompt = (
        sys.stdin.buffer.read().decode("utf-8", "surrogateescape")
        if args.text == ["-"]
        else " ".join(args.text)
    )
    tools: tuple[ToolSpec, ...] = ()
    call_tool: ToolCallback | None = None
    if not args.no_tools:
        from .builtin_tools import BUILTIN_TOOLS, call_builtin  # with the bridge's tool specs

        tools, call_tool = BUILTIN_TOOLS, call_builtin
    request = TurnRequest(
        prompt=prompt,
        workspace=workspace,
        session_id=args.session,
        model=args.model,
        agent_id=args.agent or default_agent_id(workspace),
        tools=tools,
        call_tool=call_tool,
        # relative to the caller's cwd, not the workspace: the paths are the user's
        images=tuple(Path(p).resolve() for p in args.image),
        output_schema=schema,
        reasoning_effort=args.reasoning_effort,
        sandbox=args.sandbox,
    )
    render = _print_json if args.json else _print_human
    outcome = _Outcome()
    early: HeadStart | None = None
    try:
        held = _Held()
        try:
            early = _head_start(config, request)
        finally:
            held.deliver(codex_started=early is not None)
        import asyncio  # after the head start: its import overlaps codex's start-up

        return asyncio.run(_run(config, request, render, outcome, early))
    except KeyboardInterrupt:
        if early is None:
            raise  # no codex was started before the turn: as ever
        # Ctrl-C or SIGTERM before the turn's own handlers were in place: what the turn would
        # have done — codex stopped, the lock let go, one terminal event.
        with _signals_held():
            early.discard()
        from ..events import is_terminal

        if outcome.last is None or not is_terminal(outcome.last):
            from ..turn.messages import stop_event

            with contextlib.suppress(BrokenPipeError):
                outcome.show(render, stop_event(config, "cancelled"))
        return outcome.exit_code()
    finally:
        if early is not None:
            with _signals_held():
                early.discard()  # whatever the turn did not take over: codex stopped, lock let go


def _head_start(config: HostConfig, request: TurnRequest) -> HeadStart | None:
    from ..turn.exec.head_start import head_start

    return head_start(config, request)


class _Held:
    """SIGINT and SIGTERM noted, not acted on, from its creation until `deliver`: while codex is
    spawned and handed to `say`, a KeyboardInterrupt would lose the process before anything
    could stop it."""

    def __init__(self) -> None:
        self.caught: int | None = None
        self.before = {sig: signal.signal(sig, self._note) for sig in HELD_SIGNALS}

    def _note(self, signum: int, frame: object) -> None:
        self.caught = signum

    def deliver(self, *, codex_started: bool = False) -> None:
        """The handlers put back, then the signal noted acted on. Once codex runs, SIGTERM raises
        KeyboardInterrupt as Ctrl-C does, until the turn's own handlers take both over (`say`'s
        `except` stops codex and ends the turn)."""
        for sig, handler in self.before.items():
            started = codex_started and sig == signal.SIGTERM
            signal.signal(sig, signal.default_int_handler if started else handler)
        if self.caught is not None:
            signal.raise_signal(self.caught)


@contextlib.contextmanager
def _signals_held() -> Iterator[None]:
    """Cleanup that a second Ctrl-C must not cut short (the signal is dropped: `say` is ending)."""
    held = _Held()
    try:
        yield
    finally:
        held.caught = None
        held.deliver()


class _Outcome:
    """What `say` has shown of the turn: its exit code follows the last event. (A plain class: a
    dataclass compiles its methods at import, ~0.5 ms before codex starts.)"""

    def __init__(self) -> None:
        self.last: CanonicalEvent | None = None
        self.reader_gone = False

    def show(self, render: Callable[[CanonicalEvent], None], event: CanonicalEvent) -> None:
        self.last = event
        if self.reader_gone:
            return
        try:
            render(event)
        except BrokenPipeError:
            # Whoever read our output went away (`| head -1`): the caller stops the turn.
            self.reader_gone = True
            _silence_stdout()
            raise

    def exit_code(self) -> int:
        last = self.last
        if last is not None and last.type == "message_end" and not self.reader_gone:
            return EXIT_OK
        if last is not None and last.type == "error" and last.code == "config":
            return EXIT_USAGE
        return EXIT_TURN_ERROR


async def _run(
    config: HostConfig,
    request: TurnRequest,
    render: Callable[[CanonicalEvent], None],
    outcome: _Outcome,
    early: HeadStart | None = None,
) -> int:
    import asyncio

    from ..turn import close_backends
    from ..turn.backend import blocking_work_on_loop
    from ..turn.lifetime import Turn

    # One turn in this process: its session save and mirror need no worker thread.
    blocking_work_on_loop()
    loop = asyncio.get_running_loop()
    try:
        async with Turn(config, request, head_start=early) as turn:
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.add_signal_handler(sig, turn.cancel)
            try:
                async for event in turn:
                    try:
                        outcome.show(render, event)
                    except BrokenPipeError:
                        turn.cancel()
            finally:
                for sig in (signal.SIGINT, signal.SIGTERM):
                    loop.remove_signal_handler(sig)
    finally:
        await close_backends()  # a warm app-server (backend `app-server`) ends with `say`
    return outcome.exit_code()


def _read_schema(path: str) -> dict[str, object] | str:
    """The schema file's JSON object, or why it cannot be used."""
    try:
        value = json.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        return f"cannot read {path}: {exc.strerror or exc}"
    except ValueError as exc:
        return f"{path} is not JSON: {exc}"
    if not isinstance(value, dict):
        return f"{path} must hold a JSON object (a JSON Schema)"
    return value


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
    elif event.type == "structured_output":
        err.write(f"[structured output] {json.dumps(event.value, ensure_ascii=False)}\n")
    elif event.type == "tool_call":
        err.write(f"[tool call] {_tool_name(event)} · block {event.block_id} · ")
        err.write(_preview(event.input) + "\n")
    elif event.type == "tool_result":
        label = "tool error" if event.is_error else "tool result"
        err.write(f"[{label}] block {event.block_id} · {_preview(event.output)}\n")
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


def _tool_name(call: ToolCall) -> str:
    if call.server and call.tool:
        return f"{call.tool} (MCP {call.server})"
    inner = f", {len(call.inner_calls)} inner call(s)" if call.inner_calls else ""
    return f"{call.name}{inner}"


def _text_of(value: object) -> str:
    """A tool input or output as text: strings as they are, MCP/Responses parts by their text."""
    if isinstance(value, str):
        return value
    if isinstance(value, list) and all(isinstance(p, dict) for p in value):
        texts = [str(p.get("text")) for p in value if isinstance(p.get("text"), str)]
        if texts:
            return " ".join(texts)
    return json.dumps(value, ensure_ascii=False)


def _preview(value: object) -> str:
    """One short line: whitespace folded, cut at PREVIEW_CHARS."""
    line = " ".join(_text_of(value).split())
    return line if len(line) <= PREVIEW_CHARS else line[: PREVIEW_CHARS - 1] + "…"
