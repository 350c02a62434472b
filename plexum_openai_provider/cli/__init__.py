"""The `plexum-openai-provider` command: argparse, and each subcommand imported only when it runs.

Subcommands import what they need lazily: `mcp-host` (started by codex on every turn) must not pay
for the turn's imports. `say` runs one turn and prints its events as they come; exit 0 when the
turn completed, 1 when it ended in an error, 2 on a usage or config error. `serve` speaks the
daemon protocol (docs/protocol.md) on stdio; `demo` runs the whole stack on the fake codex.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (mypy knows the name)
if TYPE_CHECKING:
    import argparse
    from typing import Any, NoReturn


COMMANDS = ("mcp-host", "say", "consume", "serve", "demo", "doctor", "install")


def _parser(command: str | None = None) -> argparse.ArgumentParser:
    """The whole parser, or for a known `command` only its own subparser: each costs argparse a
    few gettext look-ups and formatters (~1 ms of a cold `say` before codex starts), and only
    the top level's help lists the commands."""
    import argparse

    def wanted(name: str) -> bool:
        return command not in COMMANDS or command == name

    def formatter(prog: str) -> argparse.HelpFormatter:
        return argparse.HelpFormatter(prog, width=_help_width())

    class Parser(argparse.ArgumentParser):
        """argparse builds a help formatter on every `add_argument`, and one without a width
        imports shutil (with bz2 and lzma) to ask the terminal's: ~2 ms of a cold `say` before
        codex starts. Subparsers are made of the same class, so they get the formatter too."""

        def __init__(self, *args: Any, **kwargs: Any) -> None:
            kwargs.setdefault("formatter_class", formatter)
            super().__init__(*args, **kwargs)

    parser = Parser(
        prog="plexum-openai-provider",
        description="Run the OpenAI codex CLI as a Plexum model backend.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    if wanted("mcp-host"):
        sub.add_parser("mcp-host", help="the MCP relay codex starts for an agent (not for people)")
    if wanted("say"):
        say = sub.add_parser("say", help="run one turn and show its events")
        say.add_argument(
            "--agent", help="agent id (default: cli- + a short hash of the workspace's path)"
        )
        say.add_argument("--workspace", default=".", help="the agent's workspace (default: cwd)")
        say.add_argument(
            "--session", default="default", help="Plexum session id (default: default)"
        )
        say.add_argument("--model", default="codex", help="Plexum model id (default: codex)")
        say.add_argument("--config", help="config.json to use instead of the default path")
        say.add_argument("--json", action="store_true", help="one canonical event per line")
        say.add_argument("--verbose", action="store_true", help="debug logs on stderr")
        say.add_argument(
            "--no-tools",
            action="store_true",
            help="offer codex no tools (default: the built-in echo)",
        )
        say.add_argument(
            "--image",
            action="append",
            default=[],
            metavar="FILE",
            help="attach a PNG/JPEG/GIF/WebP image (repeatable)",
        )
        say.add_argument(
            "--output-schema",
            metavar="FILE",
            help="a JSON Schema file: the final message must be JSON of that shape",
        )
        say.add_argument(
            "--reasoning-effort",
            metavar="EFFORT",
            help="none, minimal, low, medium, high or xhigh (default: the model's)",
        )
        say.add_argument(
            "--sandbox",
            choices=("read-only", "workspace-write", "bypass"),
            help="narrow the agent's sandbox (config `sandbox`) for this turn; never widens it",
        )
        say.add_argument("text", nargs="+", metavar="TEXT", help="the prompt; `-` reads stdin")
    if wanted("consume"):
        consume = sub.add_parser("consume", help="blank tool calls in a session's codex rollout")
        consume.add_argument("--config", help="config.json to use instead of the default path")
        consume.add_argument(
            "--workspace", default=".", help="the agent's workspace (default: cwd)"
        )
        consume.add_argument("--session", default="default", help="Plexum session id")
        consume.add_argument("--json", action="store_true", help="print {consumed, unknown}")
        consume.add_argument("block_ids", nargs="+", metavar="BLOCK_ID", help="codex call ids")
    if wanted("serve"):
        serve = sub.add_parser(
            "serve", help="speak the Plexum daemon protocol on stdio (docs/protocol.md)"
        )
        serve.add_argument("--config", help="config.json to use instead of the default path")
        serve.add_argument("--verbose", action="store_true", help="debug logs on stderr")
        serve.add_argument(
            "--max-line-bytes",
            type=_positive_int,
            default=32 * 1024 * 1024,
            help="longest accepted protocol line in bytes (default: 32 MiB)",
        )
    if wanted("demo"):
        demo = sub.add_parser(
            "demo", help="the whole stack on the fake codex: nothing to install or log into"
        )
        demo.add_argument(
            "--json", action="store_true", help="raw events, one JSON object per line"
        )
        demo.add_argument("--keep", action="store_true", help="keep the throwaway folder")
    if wanted("doctor"):
        doctor = sub.add_parser(
            "doctor", help="check the setup the daemon runs the plugin in, and say what to fix"
        )
        doctor.add_argument("--config", help="config.json to check instead of the default path")
        doctor.add_argument("--json", action="store_true", help="the findings as one JSON object")
    if wanted("install"):
        install = sub.add_parser(
            "install", help="write the plugin's config.json and daemon manifest under ~/.plexum"
        )
        install.add_argument(
            "--force", action="store_true", help="replace an existing config.json with the defaults"
        )
    return parser


def _help_width() -> int:
    """The width argparse gives help text: the terminal's columns (`COLUMNS` first, 80 when
    neither says) less 2, as `shutil.get_terminal_size` would tell it."""
    try:
        columns = int(os.environ.get("COLUMNS", "0"))
    except ValueError:
        columns = 0
    if columns <= 0:
        stdout = sys.__stdout__
        try:
            columns = os.get_terminal_size(stdout.fileno()).columns if stdout else 0
        except (ValueError, OSError):  # closed, detached or not a terminal
            columns = 0
    return (columns if columns > 0 else 80) - 2


def _positive_int(text: str) -> int:
    import argparse

    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def main(argv: Sequence[str] | None = None) -> int:
    raw = list(sys.argv[1:] if argv is None else argv)
    if raw[:1] == ["mcp-host"]:
        # Started by codex on every turn: go straight to the stdlib-only relay, no argparse.
        from ..bridge.relay import main as mcp_host_main

        return mcp_host_main(raw[1:])
    args = _parser(raw[0] if raw else None).parse_args(raw)
    if args.command == "say":
        from .say import say

        return say(args)
    if args.command == "serve":
        from .serve import serve

        return serve(args)
    if args.command == "demo":
        from .demo import demo

        return demo(args)
    if args.command == "consume":
        from .consume_command import consume

        return consume(args)
    if args.command == "doctor":
        from .doctor import doctor

        return doctor(args)
    if args.command == "install":
        from .install import install

        return install(args)
    return 2  # pragma: no cover - argparse rejects unknown commands


def run() -> NoReturn:
    """The console script (and `python -m`): `main`, then leave without the interpreter's teardown.

    Tearing down the ~300 modules a turn imports costs a cold `say` 15-20 ms (measured with
    `python -m benchmarks --only P1b`), and by the time `main` returns every file, lock, socket
    and child of the turn is already closed or reaped; only Python's buffers remain to flush.
    """
    if sys.argv[1:2] == ["say"]:
        # `say` opens no TLS connection itself (codex does the network), and asyncio treats ssl
        # as optional: keep it from loading OpenSSL for nothing (~9 ms of CPU per cold turn).
        sys.modules.setdefault("ssl", None)  # type: ignore[arg-type]
    code = main()
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except OSError:  # stdout is a closed pipe: what Python itself exits with then
        code = code or 120
    if "logging" in sys.modules:
        sys.modules["logging"].shutdown()
    os._exit(code)
