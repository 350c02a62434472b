"""What `doctor` reads of config.json: is it valid, and what each supported model passes codex."""

from __future__ import annotations

from ...config import DEFAULT_MODEL, HostConfig, load_config, resolve_config_path
from ...errors import ConfigError
from .finding import Finding


def check_config(explicit: str | None) -> tuple[Finding, HostConfig]:
    """The config the daemon will load; on error the later checks use the defaults."""
    path = resolve_config_path(explicit)
    try:
        config = load_config(explicit)
    except ConfigError as exc:
        return (
            Finding(
                "config",
                "fail",
                f"{exc} (the checks below use the defaults)",
                "fix the file as the message says, or replace it with the defaults: "
                "`plexum-openai-provider install --force` (keeps the old one as config.json.bak)",
            ),
            HostConfig(source=str(path)),
        )
    if not path.exists():
        return (
            Finding(
                "config",
                "warn",
                f"no config.json at {path}: the defaults are used",
                "run `plexum-openai-provider install` to write one with every key at its default",
            ),
            config,
        )
    return Finding("config", "ok", f"{path} is valid"), config


def check_models(config: HostConfig) -> list[Finding]:
    found: list[Finding] = []
    for model in config.supported_models:
        name = f"model {model}"
        arg = config.model_arg(model)
        if arg is not None and not arg.strip():
            found.append(
                Finding(
                    name,
                    "fail",
                    f"model_args maps {model!r} to an empty --model value",
                    f'give it a real model name, e.g. "model_args": {{"{model}": "gpt-5.5"}}',
                )
            )
        elif arg is None:
            found.append(
                Finding(
                    name,
                    "ok",
                    "passes no --model: codex's own default model (the only one a ChatGPT-account "
                    "login accepts)",
                )
            )
        elif model in config.model_args:
            found.append(
                Finding(
                    name,
                    "ok",
                    f"--model {arg} (explicit models need an API-key login; a ChatGPT account "
                    "rejects them with HTTP 400)",
                )
            )
        else:
            found.append(
                Finding(
                    name,
                    "info",
                    f"no model_args entry: passed to codex as is (--model {arg})",
                    f'if codex names it otherwise, add "model_args": {{"{model}": "<name>"}}',
                )
            )
    unused = sorted(set(config.model_args) - set(config.supported_models))
    if unused:
        found.append(
            Finding(
                "model_args",
                "warn",
                f"model_args has entries for models not in supported_models: {', '.join(unused)}; "
                "turns asking for them are refused",
                "add them to supported_models, or remove the entries",
            )
        )
    if DEFAULT_MODEL in config.model_args:
        found.append(
            Finding(
                "model_args",
                "info",
                f"the default id {DEFAULT_MODEL!r} is mapped to --model "
                f"{config.model_args[DEFAULT_MODEL]}: a ChatGPT-account login rejects it",
            )
        )
    return found
