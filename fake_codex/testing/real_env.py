"""Argv, config and environment that point a REAL codex at the fake Responses server, no keys.

`provider_args(base_url, version)` are the `-c` and `--disable` options (start-up chores off, see
`HERMETIC_OFF`); `provider_toml` is the same as a `config.toml` (so a plain `codex exec` a wrapper
runs reaches the server too);
`codex_env(home)` is the whole environment (nothing inherited that could reach a real `~/.codex`
or a real key). `exec_argv` / `resume_argv` build full command lines in the ordering verified in
conformance/NOTES.md: all options after `resume` and `--` before id and prompt.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from pathlib import Path

API_KEY = "sk-test"
EXEC_FLAGS: tuple[str, ...] = (
    "--skip-git-repo-check",
    "--dangerously-bypass-approvals-and-sandbox",
    "--json",
)
# Features every pinned version (0.135.0 … 0.171.0) knows and turns on by default, off for tests:
# `plugins` makes each start `git ls-remote` the curated plugin repository on github.com (a DNS
# lookup and an HTTPS fetch: not hermetic); `shell_snapshot` runs the user's login shell once per
# start to record its environment (commands then run `bash -lc` themselves, as the items already
# show). Both also cost CPU: ~0.05–0.1 s of the ~0.3 s of a one-reply `codex exec`.
HERMETIC_OFF: tuple[str, ...] = ("plugins", "shell_snapshot")
# Versions whose `--disable` knows `unbounded_connection_retries` (see NOTES.md).
_UNBOUNDED_RETRIES_SINCE = (0, 150, 0)
_PASSED_THROUGH = ("PATH", "LANG", "LC_ALL", "TERM", "TZ", "TMPDIR", "SSL_CERT_FILE")


def _version_tuple(version: str) -> tuple[int, ...]:
    return tuple(int(p) for p in version.split(".")[:3])


def provider_args(base_url: str, version: str) -> list[str]:
    """`-c` options selecting a `mock` provider at base_url, with retries and `HERMETIC_OFF` off."""
    provider = (
        f'{{name="mock",base_url="{base_url}",wire_api="responses",supports_websockets=false,'
        f'env_key="OPENAI_API_KEY",request_max_retries=0,stream_max_retries=0}}'
    )
    args = ["-c", "model_provider=mock", "-c", f"model_providers.mock={provider}"]
    for feature in HERMETIC_OFF:
        args += ["--disable", feature]
    if _version_tuple(version) >= _UNBOUNDED_RETRIES_SINCE:
        # Without it a refused connection retries forever (codex-facts §2).
        args += ["--disable", "unbounded_connection_retries"]
    return args


def provider_toml(base_url: str) -> str:
    """`config.toml` text selecting the `mock` provider at base_url, retries and `HERMETIC_OFF` off
    (checked on the real 0.135.0, 0.150.1, 0.169.0 and 0.171.0: each accepts these `[features]`
    keys)."""
    off = "".join(f"{feature} = false\n" for feature in HERMETIC_OFF)
    return (
        'model_provider = "mock"\n\n'
        "[model_providers.mock]\n"
        'name = "mock"\n'
        f"base_url = {json.dumps(base_url)}\n"
        'wire_api = "responses"\n'
        "supports_websockets = false\n"
        'env_key = "OPENAI_API_KEY"\n'
        "request_max_retries = 0\n"
        "stream_max_retries = 0\n\n"
        "[features]\n"
        "# Without it a refused connection retries forever (codex-facts §2).\n"
        "unbounded_connection_retries = false\n"
        "# No plugin sync (network) and no login-shell snapshot at start (see HERMETIC_OFF).\n"
        f"{off}"
    )


def codex_env(codex_home: Path, base: Mapping[str, str] | None = None) -> dict[str, str]:
    """A minimal environment: throwaway CODEX_HOME and HOME, the test key, no backtraces."""
    source = os.environ if base is None else base
    env = {k: source[k] for k in _PASSED_THROUGH if k in source}
    env.setdefault("PATH", "/usr/local/bin:/usr/bin:/bin")
    env.update(
        CODEX_HOME=str(codex_home),
        # HOME too, so nothing falls back to a real ~/.codex or ~/.config.
        HOME=str(codex_home),
        OPENAI_API_KEY=API_KEY,
        RUST_BACKTRACE="0",
        NO_COLOR="1",
    )
    return env


def exec_argv(
    binary: Path | str,
    base_url: str,
    version: str,
    *,
    model: str | None = None,
    prompt: str = "-",
    extra: Sequence[str] = (),
) -> list[str]:
    """`codex exec [flags] -- PROMPT` (`-` = read the prompt from stdin)."""
    argv = [str(binary), "exec", *EXEC_FLAGS, *provider_args(base_url, version)]
    if model is not None:
        argv += ["-m", model]
    return [*argv, *extra, "--", prompt]


def resume_argv(
    binary: Path | str,
    base_url: str,
    version: str,
    thread_id: str,
    *,
    model: str | None = None,
    prompt: str = "-",
    extra: Sequence[str] = (),
) -> list[str]:
    """`codex exec resume [flags] -- ID PROMPT`."""
    argv = [str(binary), "exec", "resume", *EXEC_FLAGS, *provider_args(base_url, version)]
    if model is not None:
        argv += ["-m", model]
    return [*argv, *extra, "--", thread_id, prompt]
