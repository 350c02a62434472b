"""Where the user prompt comes from, exactly like `codex exec` (codex-facts §6).

`-` reads stdin to EOF (no notice); no argument prints `Reading prompt from stdin...` and reads
it; an argument with a non-TTY stdin prints `Reading additional input from stdin...` and appends
non-empty data as a `<stdin>` block. Reading to EOF is what makes an open stdin hang forever.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass


class PromptError(Exception):
    """No usable prompt: codex prints the message and exits 1."""


@dataclass(frozen=True)
class Prompt:
    text: str
    stdin_text: str | None
    """What was read from stdin (None when stdin was not read)."""


def _read_stdin() -> str:
    data = sys.stdin.buffer.read()
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise PromptError(f"Failed to read prompt from stdin: {exc}") from None


def _notice(text: str) -> None:
    sys.stderr.write(text + "\n")
    sys.stderr.flush()


def resolve_prompt(arg: str | None, read_extra_stdin: bool = True) -> Prompt:
    """The prompt for `arg` (the PROMPT positional); may block reading stdin until EOF.

    `read_extra_stdin=False` is `exec resume` with a prompt argument: the captures of the real
    binary show no stdin notice there, so stdin is left alone.
    """
    stdin_is_tty = os.isatty(0)
    if arg is None or arg == "-":
        if arg is None:
            if stdin_is_tty:
                raise PromptError(
                    "No prompt provided. Either specify one as an argument or pipe the prompt "
                    "into stdin."
                )
            _notice("Reading prompt from stdin...")
        text = _read_stdin()
        if not text.strip():
            raise PromptError("No prompt provided via stdin.")
        return Prompt(text, text)
    if stdin_is_tty or not read_extra_stdin:
        return Prompt(arg, None)
    _notice("Reading additional input from stdin...")
    extra = _read_stdin()
    if not extra:
        return Prompt(arg, extra)
    block = extra if extra.endswith("\n") else extra + "\n"
    return Prompt(f"{arg}\n\n<stdin>\n{block}</stdin>", extra)
