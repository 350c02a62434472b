"""`plexum-openai-provider install` on a throwaway HOME: files, idempotence, --force, bad config."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from plexum_openai_provider.config import HostConfig, parse_config
from plexum_openai_provider.door.version import PROTOCOL_VERSION


def install(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "HOME": str(home)}
    env.pop("PLEXUM_OPENAI_PROVIDER_CONFIG", None)
    argv = [sys.executable, "-m", "plexum_openai_provider", "install", *args]
    return subprocess.run(argv, capture_output=True, text=True, timeout=60, env=env)


def plugin_dir(home: Path) -> Path:
    return home / ".plexum" / "plugins" / "plexum-openai-provider"


def snapshot(directory: Path) -> dict[str, tuple[bytes, int, int]]:
    """Each file's bytes, inode and mtime: a rewrite with the same bytes still shows."""
    return {
        p.name: (p.read_bytes(), p.stat().st_ino, p.stat().st_mtime_ns)
        for p in sorted(directory.iterdir())
    }


def test_install_writes_a_default_config_with_every_key_and_a_manifest(tmp_path: Path) -> None:
    result = install(tmp_path)
    assert result.returncode == 0, result.stderr
    config_path = plugin_dir(tmp_path) / "config.json"
    raw = json.loads(config_path.read_text())
    keys = {f for f in HostConfig.__dataclass_fields__ if f != "source"}
    # `sandbox` is a group: its four keys are top-level ones (see config.py).
    keys |= {"network_access", "writable_roots", "approvals"}
    assert set(raw) == keys
    assert parse_config(raw, str(config_path)) == HostConfig(source=str(config_path))
    manifest = json.loads((plugin_dir(tmp_path) / "manifest.json").read_text())
    assert manifest["name"] == "plexum-openai-provider"
    assert manifest["protocol_version"] == PROTOCOL_VERSION
    assert manifest["command"] == sys.executable and os.path.isabs(manifest["command"])
    assert manifest["args"] == ["-m", "plexum_openai_provider", "serve"]
    assert sorted(p.name for p in plugin_dir(tmp_path).iterdir()) == [
        "config.json",
        "manifest.json",
    ]


def test_the_manifest_starts_serve_which_speaks_its_protocol_version(tmp_path: Path) -> None:
    install(tmp_path)
    manifest = json.loads((plugin_dir(tmp_path) / "manifest.json").read_text())
    initialize = {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "initialize",
        "params": {
            "protocol_version": manifest["protocol_version"],
            "host": {"name": "t", "version": "0"},
        },
    }
    # As the daemon would: the manifest's argv, from anywhere, stdin closed after one request.
    result = subprocess.run(
        [manifest["command"], *manifest["args"]],
        input=json.dumps(initialize) + "\n",
        capture_output=True,
        text=True,
        timeout=60,
        cwd="/",
        env={**os.environ, "HOME": str(tmp_path)},
    )
    assert result.returncode == 0, result.stderr
    answer = json.loads(result.stdout.splitlines()[0])["result"]
    assert answer["protocol_version"] == manifest["protocol_version"]
    assert answer["plugin"] == {"name": manifest["name"], "version": manifest["version"]}


def test_install_prints_the_remaining_steps(tmp_path: Path) -> None:
    out = install(tmp_path).stdout
    assert '.plugins.allow += ["plexum-openai-provider"]' in out
    assert "plexum agent-add --model codex my-agent" in out
    assert "systemctl --user restart plexum" in out
    assert "doctor" in out.split("systemctl --user restart plexum")[1]


def test_a_second_install_changes_nothing_and_says_so(tmp_path: Path) -> None:
    first = install(tmp_path)
    assert "Nothing changed" not in first.stdout
    before = snapshot(plugin_dir(tmp_path))
    second = install(tmp_path)
    assert second.returncode == 0, second.stderr
    assert "Nothing changed" in second.stdout
    assert snapshot(plugin_dir(tmp_path)) == before


def test_an_edited_valid_config_is_kept_and_reported(tmp_path: Path) -> None:
    install(tmp_path)
    config_path = plugin_dir(tmp_path) / "config.json"
    config_path.write_text(json.dumps({"binary": "/opt/codex/bin/codex"}))
    result = install(tmp_path)
    assert result.returncode == 0
    assert "kept (exists and is valid" in result.stdout
    assert json.loads(config_path.read_text()) == {"binary": "/opt/codex/bin/codex"}


def test_force_replaces_the_config_and_keeps_the_old_one_as_bak(tmp_path: Path) -> None:
    install(tmp_path)
    config_path = plugin_dir(tmp_path) / "config.json"
    edited: dict[str, Any] = {"binary": "/opt/codex/bin/codex"}
    config_path.write_text(json.dumps(edited))
    result = install(tmp_path, "--force")
    assert result.returncode == 0, result.stderr
    assert "replaced by the defaults (--force)" in result.stdout
    assert json.loads(config_path.read_text())["binary"] == "codex"
    assert json.loads((plugin_dir(tmp_path) / "config.json.bak").read_text()) == edited


def test_an_invalid_existing_config_fails_with_its_error_and_is_left_alone(
    tmp_path: Path,
) -> None:
    config_path = plugin_dir(tmp_path) / "config.json"
    config_path.parent.mkdir(parents=True)
    config_path.write_text('{"turn_timeout": 5}')
    result = install(tmp_path)
    assert result.returncode == 1
    assert "INVALID" in result.stdout and "'turn_timeout'" in result.stdout
    assert "unknown key" in result.stdout and "--force" in result.stdout
    assert config_path.read_text() == '{"turn_timeout": 5}'
    assert (plugin_dir(tmp_path) / "manifest.json").is_file()
