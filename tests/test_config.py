"""HostConfig: defaults, strict validation, clear errors naming the file and the key."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from plexum_openai_provider.config import CONFIG_ENV, HostConfig, load_config
from plexum_openai_provider.errors import ConfigError


def write(tmp_path: Path, body: object) -> Path:
    path = tmp_path / "config.json"
    path.write_text(body if isinstance(body, str) else json.dumps(body), encoding="utf-8")
    return path


def test_missing_default_file_gives_defaults(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv(CONFIG_ENV, raising=False)
    config = load_config()
    assert config.binary == "codex"
    assert config.supported_models == ("codex",)
    assert config.turn_timeout_s == 3600 and config.idle_timeout_s == 300
    assert config.source == str(tmp_path / ".plexum/plugins/plexum-openai-provider/config.json")


def test_env_variable_overrides_the_default_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write(tmp_path, {"binary": "/opt/codex"})
    monkeypatch.setenv(CONFIG_ENV, str(path))
    assert load_config().binary == "/opt/codex"


def test_explicit_path_wins_over_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(CONFIG_ENV, str(write(tmp_path, {"binary": "from-env"})))
    other = tmp_path / "other.json"
    other.write_text(json.dumps({"binary": "from-flag"}))
    assert load_config(str(other)).binary == "from-flag"


def test_explicit_path_that_does_not_exist_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="file not found"):
        load_config(str(tmp_path / "nope.json"))


def test_all_keys_are_read(tmp_path: Path) -> None:
    config = load_config(
        str(
            write(
                tmp_path,
                {
                    "binary": "/usr/local/bin/codex",
                    "extra_args": ["-c", "x=1"],
                    "supported_models": ["codex", "gpt"],
                    "model_args": {"gpt": "gpt-5.5"},
                    "codex_home": "~/codex-home",
                    "turn_timeout_s": 60,
                    "idle_timeout_s": 2.5,
                    "backend": "app-server",
                    "busy_wait_s": 0,
                    "idle_unload_s": 0,
                    "max_loaded_threads": 4,
                },
            )
        )
    )
    assert (config.busy_wait_s, config.idle_unload_s, config.max_loaded_threads) == (0, 0, 4)
    assert config.extra_args == ("-c", "x=1")
    assert config.model_arg("gpt") == "gpt-5.5"
    assert config.model_arg("codex") is None
    assert config.codex_home is not None and not config.codex_home.startswith("~")
    assert config.idle_timeout_s == 2.5
    assert config.backend == "app-server"


def test_the_default_backend_is_exec() -> None:
    assert HostConfig().backend == "exec"


def test_thread_sharing_defaults_wait_for_nothing_and_give_threads_back() -> None:
    config = HostConfig()
    assert (config.busy_wait_s, config.idle_unload_s, config.max_loaded_threads) == (0, 10, 32)


@pytest.mark.parametrize(
    ("body", "key", "fragment"),
    [
        ({"bianry": "codex"}, "bianry", "unknown key"),
        ({"binary": 3}, "binary", "non-empty string"),
        ({"extra_args": "-c x"}, "extra_args", "list of strings"),
        ({"supported_models": []}, "supported_models", "at least one"),
        ({"model_args": {"a": 1}}, "model_args", "mapping model ids"),
        ({"turn_timeout_s": 0}, "turn_timeout_s", "positive"),
        ({"idle_timeout_s": True}, "idle_timeout_s", "positive"),
        ({"backend": "appserver"}, "backend", "exec, app-server"),
        ({"busy_wait_s": -1}, "busy_wait_s", "0 or more"),
        ({"idle_unload_s": float("inf")}, "idle_unload_s", "0 or more"),
        ({"max_loaded_threads": 0}, "max_loaded_threads", "whole number"),
        ({"max_loaded_threads": 2.5}, "max_loaded_threads", "whole number"),
    ],
)
def test_bad_values_name_the_file_and_the_key(
    tmp_path: Path, body: dict[str, object], key: str, fragment: str
) -> None:
    path = write(tmp_path, body)
    with pytest.raises(ConfigError) as info:
        load_config(str(path))
    assert str(path) in str(info.value)
    assert repr(key) in str(info.value)
    assert fragment in str(info.value)
    assert info.value.key == key


def test_invalid_json_names_the_file_and_position(tmp_path: Path) -> None:
    path = write(tmp_path, '{"binary": "codex",}')
    with pytest.raises(ConfigError, match=r"invalid JSON at line 1 column \d+") as info:
        load_config(str(path))
    assert str(path) in str(info.value)


def test_top_level_must_be_an_object(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="JSON object"):
        load_config(str(write(tmp_path, "[1, 2]")))


def test_unsupported_model_lists_the_supported_ones() -> None:
    config = HostConfig(supported_models=("codex", "gpt"), source="/etc/x.json")
    with pytest.raises(ConfigError) as info:
        config.model_arg("o3")
    message = str(info.value)
    assert "'o3' is not supported" in message
    assert "codex, gpt" in message
    assert "/etc/x.json" in message


def test_a_supported_model_without_model_args_is_passed_as_is() -> None:
    assert HostConfig(supported_models=("gpt-5.5",)).model_arg("gpt-5.5") == "gpt-5.5"


def test_null_leaves_codex_home_and_socket_dir_unset_but_not_other_keys(tmp_path: Path) -> None:
    config = load_config(str(write(tmp_path, {"codex_home": None, "socket_dir": None})))
    assert (config.codex_home, config.socket_dir) == (None, None)
    with pytest.raises(ConfigError, match="'binary'"):
        load_config(str(write(tmp_path, {"binary": None})))


def test_a_config_variable_naming_a_missing_file_is_an_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(CONFIG_ENV, str(tmp_path / "typo.json"))
    with pytest.raises(ConfigError, match=r"typo\.json: file not found \(named by \$PLEXUM"):
        load_config()
