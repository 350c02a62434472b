"""`install`: the plugin's folder under `$HOME/.plexum/plugins/`, a default config.json and the
manifest that tells the daemon how to start `serve`; then the steps left to the operator.

Idempotent: a second run changes nothing and says so. An existing config.json is validated, never
overwritten without `--force` (which keeps the old one as `config.json.bak`).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import shutil
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from ..config import HostConfig, load_config
from ..door.version import PROTOCOL_VERSION
from ..errors import ConfigError
from ..files import atomic_write_text
from ..version import __version__

PLUGIN_NAME = "plexum-openai-provider"
MANIFEST_NAME = "manifest.json"
MANIFEST_VERSION = 1

Action = Literal["written", "unchanged", "replaced", "kept", "invalid"]


def plugin_dir(home: Path | None = None) -> Path:
    return (Path.home() if home is None else home) / ".plexum" / "plugins" / PLUGIN_NAME


def _json_value(value: object) -> Any:
    if isinstance(value, tuple):
        return list(value)
    if isinstance(value, Mapping):
        return dict(value)
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def default_config() -> dict[str, Any]:
    """Every config.json key with its default, taken from HostConfig itself (nothing copied)."""
    defaults = HostConfig()
    config = {
        f.name: _json_value(getattr(defaults, f.name))
        for f in dataclasses.fields(HostConfig)
        if f.name not in ("source", "sandbox")  # where a config came from; a key group
    }
    # The sandbox is four top-level keys (the same four per agent under `agents`).
    sandbox = defaults.sandbox
    config.update(
        sandbox=sandbox.mode,
        network_access=sandbox.network_access,
        writable_roots=list(sandbox.writable_roots),
        approvals=sandbox.approvals,
    )
    return config


def manifest() -> dict[str, Any]:
    """How the daemon starts the plugin: this interpreter, absolute, running `serve` on stdio."""
    return {
        "manifest_version": MANIFEST_VERSION,
        "name": PLUGIN_NAME,
        "version": __version__,
        "protocol_version": PROTOCOL_VERSION,
        "command": sys.executable,
        "args": ["-m", "plexum_openai_provider", "serve"],
    }


def read_manifest(home: Path | None = None) -> object:
    """The installed manifest, decoded; raises OSError (FileNotFoundError: not installed) or
    ValueError (not JSON)."""
    return json.loads((plugin_dir(home) / MANIFEST_NAME).read_text(encoding="utf-8"))


def _dumps(document: Mapping[str, Any]) -> str:
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


def _install_manifest(directory: Path) -> Action:
    path = directory / MANIFEST_NAME
    text = _dumps(manifest())
    try:
        if path.read_text(encoding="utf-8") == text:
            return "unchanged"
        existed = True
    except FileNotFoundError:
        existed = False
    atomic_write_text(path, text)
    return "replaced" if existed else "written"


def _install_config(directory: Path, *, force: bool) -> tuple[Action, str | None]:
    """(what happened, the validation error of a kept config)."""
    path = directory / "config.json"
    text = _dumps(default_config())
    if not path.exists():
        atomic_write_text(path, text)
        return "written", None
    if force:
        if path.read_bytes() == text.encode("utf-8"):
            return "unchanged", None
        # Copy, then replace: config.json exists at every instant, the old or the new one.
        staged = path.with_name(".config.json.bak.tmp")
        shutil.copy2(path, staged)
        os.replace(staged, path.with_name("config.json.bak"))
        atomic_write_text(path, text)
        return "replaced", None
    try:
        load_config(str(path))
    except ConfigError as exc:
        return "invalid", str(exc)
    return ("unchanged" if path.read_bytes() == text.encode("utf-8") else "kept"), None


def _doctor_command() -> str:
    if shutil.which(PLUGIN_NAME):
        return f"{PLUGIN_NAME} doctor"
    return f"{sys.executable} -m plexum_openai_provider doctor"


def install(args: argparse.Namespace) -> int:
    directory = plugin_dir()
    try:
        directory.mkdir(parents=True, exist_ok=True)
        config_action, config_error = _install_config(directory, force=args.force)
        manifest_action = _install_manifest(directory)
    except OSError as exc:
        print(
            f"{PLUGIN_NAME} install: cannot write {directory}: {exc}. Check that the folder and "
            "its parents belong to you and are writable.",
            file=sys.stderr,
        )
        return 1
    out = sys.stdout
    config_path = directory / "config.json"
    out.write(f"{PLUGIN_NAME} install: {directory}\n")
    config_lines = {
        "written": f"written with every key at its default: {config_path}",
        "replaced": f"replaced by the defaults (--force); the old one is {config_path}.bak",
        "unchanged": f"already the defaults: {config_path}",
        "kept": f"kept (exists and is valid; --force replaces it with the defaults): {config_path}",
        "invalid": f"INVALID, left as it is: {config_error}",
    }
    out.write(f"  config.json    {config_lines[config_action]}\n")
    started = " ".join([str(manifest()["command"]), *manifest()["args"]])
    manifest_line = {
        "written": "written",
        "replaced": "updated",
        "unchanged": "unchanged",
    }[manifest_action]
    out.write(
        f"  {MANIFEST_NAME}  {manifest_line}: the daemon starts `{started}` "
        f"(protocol {PROTOCOL_VERSION})\n"
    )
    if config_action in ("kept", "unchanged") and manifest_action == "unchanged":
        out.write("Nothing changed: the plugin was already installed.\n")
    if config_action == "invalid":
        out.write(
            f"Fix {config_path} (or run `{PLUGIN_NAME} install --force` to replace it with the "
            "defaults, keeping the old one as config.json.bak), then run install again.\n"
        )
        return 1
    out.write(
        "\nRemaining steps:\n"
        "  1. allow the plugin in the Plexum daemon's config:\n"
        f'       .plugins.allow += ["{PLUGIN_NAME}"]\n'
        "  2. add an agent on the codex model:  plexum agent-add --model codex my-agent\n"
        "  3. restart the daemon:               systemctl --user restart plexum\n"
        f"  4. check the setup:                  {_doctor_command()}\n"
        '     (it says, among others, whether `"binary"` in config.json needs an absolute path)\n'
    )
    return 0
