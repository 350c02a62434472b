"""The argv of one `codex exec` turn. The prompt is never in it.

`codex exec <flags> [--model M] [extra_args] [resume] [turn_args] -- [<thread_id>] -`: options go
on `exec`, before `resume` — codex 0.135–0.171 apply `-m` and every `-c` to the resumed thread
there, while after `resume` some (`-s`, `-C`) are rejected with exit 2, and on 0.135/0.150 a `-c`
after `resume` silently drops every `-c` before it. Only a turn's file inputs (`turn_args`:
`--output-schema`, `--image`) go after `resume`: `--image` takes every following plain argument
as another image, `resume` included (conformance/NOTES.md (a), (f)). `--` ends the options so
nothing after it is read as a flag, and `-` makes codex read the prompt from stdin, which the turn
writes and closes.
"""

from __future__ import annotations

from collections.abc import Sequence

BASE_FLAGS = ("--skip-git-repo-check", "--dangerously-bypass-approvals-and-sandbox", "--json")


def build_exec_argv(
    binary: str,
    *,
    resume_thread_id: str | None,
    model_arg: str | None,
    extra_args: Sequence[str] = (),
    turn_args: Sequence[str] = (),
) -> list[str]:
    argv = [binary, "exec", *BASE_FLAGS]
    if model_arg is not None:
        argv.extend(["--model", model_arg])
    argv.extend(extra_args)
    if resume_thread_id is not None:
        argv.append("resume")
    argv.extend(turn_args)
    argv.append("--")
    if resume_thread_id is not None:
        argv.append(resume_thread_id)
    argv.append("-")
    return argv


_SECRET_HINTS = ("key", "token", "secret", "auth", "header", "password")


def redact_argv(argv: Sequence[str]) -> list[str]:
    """argv for logs: values of `-c key=value` overrides whose key looks secret are masked."""
    out: list[str] = []
    expect_override = False
    for arg in argv:
        if expect_override and "=" in arg:
            key, _, _value = arg.partition("=")
            if any(hint in key.lower() for hint in _SECRET_HINTS):
                arg = f"{key}=***"
        expect_override = arg in ("-c", "--config")
        out.append(arg)
    return out
