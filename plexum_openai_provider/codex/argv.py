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

import re
from collections.abc import Sequence

# No sandbox and no approvals: the Go plugin's way, and config `sandbox: "bypass"`.
BYPASS_FLAG = "--dangerously-bypass-approvals-and-sandbox"
BASE_FLAGS = ("--skip-git-repo-check", BYPASS_FLAG, "--json")


def build_exec_argv(
    binary: str,
    *,
    resume_thread_id: str | None,
    model_arg: str | None,
    extra_args: Sequence[str] = (),
    turn_args: Sequence[str] = (),
    sandbox_args: Sequence[str] = (BYPASS_FLAG,),
) -> list[str]:
    """`sandbox_args` stand where the bypass flag stands (`-s MODE` and its `-c`s, or the flag
    itself): before `resume`, which rejects `-s` after it."""
    argv = [binary, "exec", "--skip-git-repo-check", *sandbox_args, "--json"]
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


_SECRET_HINTS = ("key", "token", "secret", "auth", "header", "password", "cookie", "credential")
# `name =` inside a TOML value (inline tables), the name bare or quoted.
_INNER_KEY = re.compile(r"""(?:[A-Za-z0-9_-]+|"[^"]*"|'[^']*')\s*=\s*""")


def _secret(key: str) -> bool:
    return any(hint in key.lower() for hint in _SECRET_HINTS)


def _value_end(text: str, start: int) -> int:
    """End of the TOML value starting at `start`: a string, a bracketed value, or a bare word."""
    if start >= len(text):
        return start
    quote = text[start]
    if quote in "\"'":
        i = start + 1
        while i < len(text) and text[i] != quote:
            i += 2 if quote == '"' and text[i] == "\\" else 1
        return min(i + 1, len(text))
    if quote in "{[":
        depth, i = 0, start
        while i < len(text):
            ch = text[i]
            if ch in "\"'":
                i = _value_end(text, i)
                continue
            depth += ch in "{["
            depth -= ch in "}]"
            i += 1
            if depth == 0:
                return i
        return len(text)
    i = start
    while i < len(text) and text[i] not in ",}]":
        i += 1
    return i


def _mask_value(value: str) -> str:
    """Mask what secret-looking keys hold inside an inline table or array."""
    out, i = [], 0
    while (match := _INNER_KEY.search(value, i)) is not None:
        name = match.group().split("=")[0].strip().strip("\"'")
        out.append(value[i : match.end()])
        if _secret(name):
            out.append("***")
            i = _value_end(value, match.end())
        else:
            i = match.end()
    out.append(value[i:])
    return "".join(out)


def _mask_override(override: str) -> str:
    key, sep, value = override.partition("=")
    if not sep:
        return override
    if _secret(key):
        return f"{key}=***"
    return f"{key}={_mask_value(value)}"


def redact_argv(argv: Sequence[str]) -> list[str]:
    """argv for logs: secret-looking values of config overrides are masked, in every spelling
    (`-c k=v`, `--config k=v`, `--config=k=v`, `-ck=v`) and inside inline tables."""
    out: list[str] = []
    expect_override = False
    for arg in argv:
        if expect_override:
            arg = _mask_override(arg)
            expect_override = False
        elif arg in ("-c", "--config"):
            expect_override = True
        elif arg.startswith("--config="):
            arg = "--config=" + _mask_override(arg[len("--config=") :])
        elif arg.startswith("-c") and not arg.startswith("--"):
            arg = "-c" + _mask_override(arg[2:])
        out.append(arg)
    return out
