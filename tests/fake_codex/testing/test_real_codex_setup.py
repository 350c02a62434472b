"""Real codex plumbing without codex: the installer's layout search, the argv, env and provider
config that point a real codex at the Responses server."""

from __future__ import annotations

import platform
from pathlib import Path

import pytest

from fake_codex.testing import real_codex
from fake_codex.testing.real_env import (
    API_KEY,
    codex_env,
    exec_argv,
    provider_args,
    provider_toml,
    resume_argv,
)


@pytest.mark.skipif(platform.machine() not in ("x86_64", "aarch64"), reason="linux layouts only")
@pytest.mark.parametrize("package", ["codex-linux-x64", "codex-linux-arm64", "codex"])
def test_installer_finds_the_native_binary_in_either_package_layout(
    tmp_path: Path, package: str
) -> None:
    triple = real_codex._triples()[0]
    binary = tmp_path / "node_modules/@openai" / package / "vendor" / triple / "bin/codex"
    binary.parent.mkdir(parents=True)
    binary.write_text("#!/bin/sh\n")
    binary.chmod(0o755)
    launcher = tmp_path / "node_modules/.bin/codex"
    launcher.parent.mkdir(parents=True)
    launcher.write_text("#!/usr/bin/env node\n")
    assert real_codex.find_native_binary(tmp_path) == binary.resolve()


def test_installer_reports_a_layout_without_a_native_binary(tmp_path: Path) -> None:
    (tmp_path / "node_modules/@openai/codex/bin").mkdir(parents=True)
    with pytest.raises(real_codex.InstallError, match="no native codex binary"):
        real_codex.find_native_binary(tmp_path)


def test_retry_switch_is_only_passed_to_versions_that_know_it() -> None:
    url = "http://127.0.0.1:1/v1"
    assert "unbounded_connection_retries" not in provider_args(url, "0.135.0")
    assert provider_args(url, "0.169.0")[-2:] == ["--disable", "unbounded_connection_retries"]
    provider = provider_args(url, "0.169.0")[3]
    assert 'base_url="http://127.0.0.1:1/v1"' in provider
    assert "request_max_retries=0,stream_max_retries=0" in provider


def test_exec_and_resume_argv_put_the_prompt_and_id_after_a_double_dash() -> None:
    argv = exec_argv("/bin/codex", "http://h/v1", "0.169.0", model="m")
    assert argv[:2] == ["/bin/codex", "exec"] and argv[-2:] == ["--", "-"]
    resume = resume_argv("/bin/codex", "http://h/v1", "0.169.0", "T", prompt="--help")
    assert resume[:3] == ["/bin/codex", "exec", "resume"] and resume[-3:] == ["--", "T", "--help"]


def test_codex_env_isolates_home_and_uses_the_test_key(tmp_path: Path) -> None:
    base = {"PATH": "/usr/bin", "HOME": "/root", "OPENAI_API_KEY": "sk-real", "RUST_BACKTRACE": "1",
            "CODEX_HOME": "/root/.codex", "UNRELATED": "x"}  # fmt: skip
    env = codex_env(tmp_path, base)
    assert env["CODEX_HOME"] == env["HOME"] == str(tmp_path)
    assert env["OPENAI_API_KEY"] == API_KEY
    assert env["RUST_BACKTRACE"] == "0"
    assert env["PATH"] == "/usr/bin"
    assert "UNRELATED" not in env


def test_the_provider_config_file_says_what_the_provider_args_say() -> None:
    import tomllib

    toml = tomllib.loads(provider_toml("http://127.0.0.1:1/v1"))
    assert toml["model_provider"] == "mock"
    mock = toml["model_providers"]["mock"]
    assert mock["base_url"] == "http://127.0.0.1:1/v1" and mock["env_key"] == "OPENAI_API_KEY"
    assert mock["request_max_retries"] == mock["stream_max_retries"] == 0
    assert toml["features"] == {
        "unbounded_connection_retries": False, "plugins": False, "shell_snapshot": False
    }  # fmt: skip


@pytest.mark.parametrize("version", ["0.135.0", "0.169.0"])
def test_plugin_sync_and_shell_snapshot_are_off_for_every_version(version: str) -> None:
    args = provider_args("http://127.0.0.1:1/v1", version)
    disabled = {args[i + 1] for i, token in enumerate(args) if token == "--disable"}
    assert {"plugins", "shell_snapshot"} <= disabled
