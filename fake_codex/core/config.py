"""The effective configuration: `$CODEX_HOME/config.toml` overlaid with `-c key=value` overrides.

Like codex, each `-c` value is parsed as TOML (inline tables included) and kept as a plain string
when that fails; dotted keys set nested tables. Only what the fake needs is derived: the model,
the provider's retry counts and its `base_url` (which appears in some error texts).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

DEFAULT_URL = "https://api.openai.com/v1/responses"
DEFAULT_STREAM_MAX_RETRIES = 5
DEFAULT_REQUEST_MAX_RETRIES = 4


class ConfigError(Exception):
    """config.toml cannot be parsed (codex: `Error loading config.toml: ...`, rc 1)."""


@dataclass(frozen=True)
class Settings:
    model: str | None
    provider_id: str
    url: str
    stream_max_retries: int
    request_max_retries: int
    auto_compact_limit: int | None = None  # `model_auto_compact_token_limit`


def _parse_value(text: str) -> Any:
    import tomllib  # only paid for when `-c` is used

    try:
        return tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        return text


def _split_key(key: str) -> list[str]:
    parts: list[str] = []
    current = ""
    quote: str | None = None
    for ch in key:
        if quote:
            if ch == quote:
                quote = None
            else:
                current += ch
        elif ch in "\"'":
            quote = ch
        elif ch == ".":
            parts.append(current.strip())
            current = ""
        else:
            current += ch
    parts.append(current.strip())
    return parts


def apply_override(config: dict[str, Any], override: str) -> None:
    """Apply one `key=value` override in place (an override without `=` is ignored)."""
    key, eq, value = override.partition("=")
    if not eq:
        return
    parts = _split_key(key.strip())
    node = config
    for part in parts[:-1]:
        child = node.get(part)
        if not isinstance(child, dict):
            child = {}
            node[part] = child
        node = child
    node[parts[-1]] = _parse_value(value.strip())


def load_config(codex_home: Path, overrides: tuple[str, ...]) -> dict[str, Any]:
    """config.toml (if any) with the overrides applied in order."""
    config: dict[str, Any] = {}
    path = codex_home / "config.toml"
    if path.is_file():
        import tomllib

        try:
            config = tomllib.loads(path.read_text(encoding="utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise ConfigError(f"Error loading config.toml: {exc}") from None
    for override in overrides:
        apply_override(config, override)
    return config


# Keys whose value codex checks while loading its config (measured on 0.135.0–0.171.0: another
# value is rc 1 `Error loading config.toml: unknown variant ...`). Only 0.135 checks the effort;
# 0.150+ send any effort string to the model.
_EFFORTS = ("none", "minimal", "low", "medium", "high", "xhigh")
_CHECKED = {
    "model_reasoning_summary": ("auto", "concise", "detailed", "none"),
    "model_verbosity": ("low", "medium", "high"),
}


def check_enums(config: dict[str, Any], family: int) -> None:
    """Raise codex's config error for a string value outside a checked key's variants."""
    checked = dict(_CHECKED)
    web = ("disabled", "cached", "live")
    checked["web_search"] = web if family < 150 else ("disabled", "cached", "indexed", "live")
    if family < 150:
        checked["model_reasoning_effort"] = _EFFORTS
    for key, values in checked.items():
        value = config.get(key)
        if isinstance(value, str) and value not in values:
            expected = ", ".join(f"`{v}`" for v in values)
            raise ConfigError(
                f"Error loading config.toml: unknown variant `{value}`, expected one of "
                f"{expected}\nin `{key}`\n"
            )


def _int(value: Any, default: int) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else default


def settings_from(config: dict[str, Any], model_flag: str | None) -> Settings:
    """The settings the fake uses, from the merged config and `-m`."""
    provider_id = config.get("model_provider")
    provider_id = provider_id if isinstance(provider_id, str) else "openai"
    providers = config.get("model_providers")
    provider = providers.get(provider_id) if isinstance(providers, dict) else None
    provider = provider if isinstance(provider, dict) else {}
    base_url = provider.get("base_url")
    url = f"{base_url.rstrip('/')}/responses" if isinstance(base_url, str) else DEFAULT_URL
    model = model_flag if model_flag is not None else config.get("model")
    limit = config.get("model_auto_compact_token_limit")
    return Settings(
        model=model if isinstance(model, str) else None,
        provider_id=provider_id,
        url=url,
        stream_max_retries=_int(provider.get("stream_max_retries"), DEFAULT_STREAM_MAX_RETRIES),
        request_max_retries=_int(provider.get("request_max_retries"), DEFAULT_REQUEST_MAX_RETRIES),
        auto_compact_limit=limit
        if isinstance(limit, int) and not isinstance(limit, bool)
        else None,
    )
