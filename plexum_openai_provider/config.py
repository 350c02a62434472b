"""HostConfig: the operator's config.json, validated strictly.

Path: `--config FILE`, else `$PLEXUM_OPENAI_PROVIDER_CONFIG`, else
`~/.plexum/plugins/plexum-openai-provider/config.json`. A missing default file means defaults (a
file named by the option or the variable must exist); bad JSON, an unknown key or a wrong type is
one ConfigError naming the file and the key.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .codex.rollout.splice import DEFAULT_MARKER
from .errors import ConfigError

CONFIG_ENV = "PLEXUM_OPENAI_PROVIDER_CONFIG"
DEFAULT_MODEL = "codex"


def default_config_path() -> Path:
    return Path.home() / ".plexum" / "plugins" / "plexum-openai-provider" / "config.json"


@dataclass(frozen=True)
class HostConfig:
    binary: str = "codex"
    extra_args: tuple[str, ...] = ()
    supported_models: tuple[str, ...] = (DEFAULT_MODEL,)
    model_args: Mapping[str, str] = field(default_factory=dict)
    codex_home: str | None = None
    turn_timeout_s: float = 3600.0
    idle_timeout_s: float = 300.0
    # How a turn's tools reach codex: `per-turn` passes the MCP server on the exec's argv only;
    # `global` registers it once with `codex mcp add` (the Go plugin's way). See the README.
    mcp_registration: str = "per-turn"
    socket_dir: str | None = None
    # What a consumed tool output becomes in the rollout (the Go plugin's marker).
    consume_marker: str = DEFAULT_MARKER
    consume_wait_s: float = 60.0  # how long consume waits for a running turn of the workspace
    # `serve`: how long a `tools/call` to the daemon may take before codex gets an error result
    # (below codex's own tool_timeout_sec of 600, so the model reads our message, not codex's).
    tool_timeout_s: float = 300.0
    # Prompts are private: the debug log shows a prompt's length and digest unless this is true.
    log_prompts: bool = False
    # `exec`: one `codex exec` per turn; `app-server`: a warm `codex app-server` streaming deltas.
    backend: str = "exec"
    source: str | None = None  # the file this came from, for error messages (not a config key)

    def model_arg(self, model: str) -> str | None:
        """The `--model` value for a Plexum model id; None means "let codex choose".

        The default id `codex` passes no `--model`: ChatGPT-account installs reject explicit ones.
        """
        if model not in self.supported_models:
            supported = ", ".join(self.supported_models)
            raise ConfigError(
                f"model {model!r} is not supported; supported models: {supported}. "
                "Add it to `supported_models` (and `model_args`) in config.json.",
                path=self.source,
                key="supported_models",
            )
        if model in self.model_args:
            return self.model_args[model]
        return None if model == DEFAULT_MODEL else model


def _expect_str(value: Any, key: str, path: str) -> str:
    if not isinstance(value, str) or not value:
        raise ConfigError("must be a non-empty string", path=path, key=key)
    return value


def _expect_str_list(value: Any, key: str, path: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ConfigError("must be a list of strings", path=path, key=key)
    return tuple(value)


def _expect_seconds(value: Any, key: str, path: str) -> float:
    # json.loads reads `Infinity`/`NaN`: a limit must still be a finite number.
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value < math.inf:
        raise ConfigError("must be a positive, finite number of seconds", path=path, key=key)
    return float(value)


def _expect_bool(value: Any, key: str, path: str) -> bool:
    if not isinstance(value, bool):
        raise ConfigError("must be true or false", path=path, key=key)
    return value


MCP_MODES = ("per-turn", "global")


def _expect_mode(value: Any, key: str, path: str) -> str:
    if value not in MCP_MODES:
        raise ConfigError(f"must be one of {', '.join(MCP_MODES)}", path=path, key=key)
    return str(value)


BACKENDS = ("exec", "app-server")


def _expect_backend(value: Any, key: str, path: str) -> str:
    if value not in BACKENDS:
        raise ConfigError(f"must be one of {', '.join(BACKENDS)}", path=path, key=key)
    return str(value)


def _parse_model_args(value: Any, path: str) -> dict[str, str]:
    if not isinstance(value, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in value.items()
    ):
        raise ConfigError(
            'must be an object mapping model ids to --model values, e.g. {"gpt": "gpt-5.5"}',
            path=path,
            key="model_args",
        )
    return dict(value)


_FIELDS = {
    "binary": _expect_str,
    "extra_args": _expect_str_list,
    "supported_models": _expect_str_list,
    "codex_home": _expect_str,
    "turn_timeout_s": _expect_seconds,
    "idle_timeout_s": _expect_seconds,
    "mcp_registration": _expect_mode,
    "socket_dir": _expect_str,
    "consume_marker": _expect_str,
    "consume_wait_s": _expect_seconds,
    "tool_timeout_s": _expect_seconds,
    "log_prompts": _expect_bool,
    "backend": _expect_backend,
}


_UNSET_BY_NULL = ("codex_home", "socket_dir")


def parse_config(raw: Any, path: str) -> HostConfig:
    """Validate a decoded config.json object."""
    if not isinstance(raw, dict):
        raise ConfigError("the top level must be a JSON object", path=path)
    values: dict[str, Any] = {}
    for key, value in raw.items():
        if value is None and key in _UNSET_BY_NULL:
            continue  # `install` writes every key, these two as null ("codex's own default")
        if key == "model_args":
            values[key] = _parse_model_args(value, path)
        elif key in _FIELDS:
            values[key] = _FIELDS[key](value, key, path)
        else:
            known = ", ".join(sorted([*_FIELDS, "model_args"]))
            raise ConfigError(f"unknown key; known keys: {known}", path=path, key=key)
    if "supported_models" in values and not values["supported_models"]:
        raise ConfigError("must list at least one model", path=path, key="supported_models")
    # A relative path would be read against each process's cwd (codex and mcp-host run in the
    # workspace): resolve it against the config file's folder, once.
    folder = Path(path).absolute().parent
    for key in ("codex_home", "socket_dir"):
        if key in values:
            values[key] = str(folder / os.path.expanduser(values[key]))
    return HostConfig(source=path, **values)


def codex_home(config: HostConfig) -> Path:
    """The CODEX_HOME codex uses for our turns."""
    if config.codex_home:
        return Path(config.codex_home)
    from_env = os.environ.get("CODEX_HOME")
    return Path(from_env).absolute() if from_env else Path.home() / ".codex"


def codex_env(config: HostConfig) -> dict[str, str]:
    """The environment codex (and `codex mcp`) runs with."""
    env = dict(os.environ)
    if config.codex_home or env.get("CODEX_HOME"):
        # Absolute: codex runs in the workspace, and the mirror must read the same home.
        env["CODEX_HOME"] = str(codex_home(config))
    return env


def resolve_config_path(explicit: str | None = None) -> Path:
    if explicit:
        return Path(explicit)
    from_env = os.environ.get(CONFIG_ENV)
    return Path(from_env) if from_env else default_config_path()


def load_config(explicit: str | None = None) -> HostConfig:
    """Load the config from the resolved path; a missing file gives the defaults."""
    path = resolve_config_path(explicit)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        if explicit:
            raise ConfigError("file not found", path=str(path)) from None
        if os.environ.get(CONFIG_ENV):
            # Naming a file is asking for it: silently running on defaults would hide a typo.
            raise ConfigError(
                f"file not found (named by ${CONFIG_ENV}); fix the path or unset the variable "
                "to use the default config",
                path=str(path),
            ) from None
        return HostConfig(source=str(path))
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read: {exc}", path=str(path)) from exc
    try:
        raw = json.loads(text)  # NaN/Infinity parse; every number key refuses them by name
    except json.JSONDecodeError as exc:
        raise ConfigError(
            f"invalid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}", path=str(path)
        ) from exc
    return parse_config(raw, str(path))
