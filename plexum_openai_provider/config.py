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

from .codex.rollout.splice import DEFAULT_MARKER
from .errors import ConfigError
from .sandbox import APPROVALS, MODES, Sandbox

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (mypy knows the name)
if TYPE_CHECKING:
    from typing import Any

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
    # What codex's shell may touch (`sandbox`, `network_access`, `writable_roots`, `approvals`),
    # and per agent id the same keys under `agents` (see `sandbox.py` and the README).
    # A turn whose thread's context is at least this full (tokens / the model's window) ends with
    # a `warning` before its `message_end` (which carries the figures in `context`).
    context_warning_fraction: float = 0.8
    # How long the daemon may take to answer an approval (`approval/request`); then: decline.
    approval_timeout_s: float = 120.0
    sandbox: Sandbox = field(default_factory=Sandbox)
    agents: Mapping[str, Sandbox] = field(default_factory=dict)
    # A session whose codex thread another process holds (docs/sharing-codex-home.md): how long a
    # turn waits for it before ending in `thread_busy` (0: at once).
    busy_wait_s: float = 0.0
    # `app-server`: a loaded thread is given back (codex's writer lock freed) after this long
    # without a turn, and beyond `max_loaded_threads` the least recently used go first.
    idle_unload_s: float = 10.0
    max_loaded_threads: int = 32
    source: str | None = None  # the file this came from, for error messages (not a config key)

    def sandbox_for(self, agent_id: str) -> Sandbox:
        """The agent's own sandbox (config `agents`), else the default one."""
        return self.agents.get(agent_id, self.sandbox)

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

    def allows_model_arg(self, model_arg: str | None) -> bool:
        """Whether `model_arg` is a `--model` value this config can produce (None: codex's
        default). A session file's model is checked with it before it may reach codex's argv:
        the file is in the workspace, which the model can write."""
        return any(self.model_arg(model) == model_arg for model in self.supported_models)


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


def _expect_fraction(value: Any, key: str, path: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value <= 1:
        raise ConfigError("must be a number above 0 and at most 1 (e.g. 0.8)", path=path, key=key)
    return float(value)


def _expect_wait(value: Any, key: str, path: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value < math.inf:
        raise ConfigError("must be a finite number of seconds, 0 or more", path=path, key=key)
    return float(value)


def _expect_count(value: Any, key: str, path: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 100_000:
        raise ConfigError("must be a whole number from 1 to 100000", path=path, key=key)
    return value


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
    "context_warning_fraction": _expect_fraction,
    "approval_timeout_s": _expect_seconds,
    "busy_wait_s": _expect_wait,
    "idle_unload_s": _expect_wait,
    "max_loaded_threads": _expect_count,
}


_UNSET_BY_NULL = ("codex_home", "socket_dir")
_SANDBOX_KEYS = ("sandbox", "network_access", "writable_roots", "approvals")


def _parse_sandbox(raw: Mapping[str, Any], base: Sandbox, where: str, path: str) -> Sandbox:
    """The sandbox keys of `raw` over `base`; `where` prefixes the key in errors."""
    values: dict[str, Any] = {}
    if "sandbox" in raw:
        if raw["sandbox"] not in MODES:
            raise ConfigError(
                f"must be one of {', '.join(MODES)}", path=path, key=f"{where}sandbox"
            )
        values["mode"] = raw["sandbox"]
    if "network_access" in raw:
        values["network_access"] = _expect_bool(
            raw["network_access"], f"{where}network_access", path
        )
    if "writable_roots" in raw:
        roots = _expect_str_list(raw["writable_roots"], f"{where}writable_roots", path)
        for root in roots:
            if not os.path.isabs(root) or any(ord(c) < 32 for c in root):
                raise ConfigError(
                    f"{root!r} must be an absolute path without control characters",
                    path=path,
                    key=f"{where}writable_roots",
                )
        values["writable_roots"] = roots
    if "approvals" in raw:
        if raw["approvals"] not in APPROVALS:
            raise ConfigError(
                f"must be one of {', '.join(APPROVALS)}", path=path, key=f"{where}approvals"
            )
        values["approvals"] = raw["approvals"]
    sandbox = Sandbox(**{**base.__dict__, **values})
    if sandbox.approvals == "daemon" and not sandbox.sandboxed:
        raise ConfigError(
            'approvals "daemon" needs a sandbox (`workspace-write` or `read-only`): with '
            "`bypass` codex never asks",
            path=path,
            key=f"{where}approvals",
        )
    return sandbox


def _parse_agents(raw: Any, base: Sandbox, path: str) -> dict[str, Sandbox]:
    if not isinstance(raw, dict):
        raise ConfigError(
            'must be an object mapping agent ids to their sandbox keys, e.g. {"ada": '
            '{"sandbox": "read-only"}}',
            path=path,
            key="agents",
        )
    agents: dict[str, Sandbox] = {}
    for agent_id, entry in raw.items():
        where = f"agents.{agent_id}."
        if not isinstance(entry, dict):
            raise ConfigError("must be an object", path=path, key=f"agents.{agent_id}")
        unknown = sorted(set(entry) - set(_SANDBOX_KEYS))
        if unknown:
            raise ConfigError(
                f"unknown key; known keys: {', '.join(_SANDBOX_KEYS)}",
                path=path,
                key=where + unknown[0],
            )
        agents[agent_id] = _parse_sandbox(entry, base, where, path)
    return agents


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
        elif key not in (*_SANDBOX_KEYS, "agents"):
            known = ", ".join(sorted([*_FIELDS, "model_args", *_SANDBOX_KEYS, "agents"]))
            raise ConfigError(f"unknown key; known keys: {known}", path=path, key=key)
    values["sandbox"] = _parse_sandbox(raw, Sandbox(), "", path)
    if "agents" in raw:
        values["agents"] = _parse_agents(raw["agents"], values["sandbox"], path)
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
