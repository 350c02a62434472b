"""`doctor` on healthy and broken setups, with the fake codex behind it: every finding says what
is wrong and what to do; exit 1 on a failure, 0 with warnings only."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from plexum_openai_provider.bridge.registration import default_plugin_command, ensure_registered
from plexum_openai_provider.bridge.socket_path import stable_socket_path
from plexum_openai_provider.cli.doctor import binary as doctor_binary
from plexum_openai_provider.cli.doctor import codex as doctor_codex
from plexum_openai_provider.cli.doctor import run_checks
from plexum_openai_provider.cli.doctor.finding import Finding
from plexum_openai_provider.config import CONFIG_ENV

from .conftest import ProviderOnFake, group_alive

API_KEY_AUTH = {"auth_mode": "apikey", "OPENAI_API_KEY": "sk-test-1234567890abcdef"}


class Doctor:
    """A throwaway HOME with the fake codex; `run` writes config.json and runs every check."""

    def __init__(self, fake: ProviderOnFake, monkeypatch: pytest.MonkeyPatch) -> None:
        self.fake = fake
        self.monkeypatch = monkeypatch
        self.home = fake.root / "user"
        self.home.mkdir()
        self.codex_home = Path(str(fake.config.codex_home))
        self.socket_dir = fake.root / "sock"
        monkeypatch.setenv("HOME", str(self.home))
        for name in ("OPENAI_API_KEY", "CODEX_HOME", CONFIG_ENV):
            monkeypatch.delenv(name, raising=False)

    def login(self) -> None:
        (self.codex_home / "auth.json").write_text(json.dumps(API_KEY_AUTH))

    def install(self) -> Path:
        """`install` as the operator runs it; returns the manifest's path."""
        argv = [sys.executable, "-m", "plexum_openai_provider", "install"]
        subprocess.run(argv, env=dict(os.environ), capture_output=True, check=True, timeout=60)
        return self.home / ".plexum" / "plugins" / "plexum-openai-provider" / "manifest.json"

    def healthy(self) -> None:
        self.login()
        self.install()

    def write_config(self, **keys: Any) -> Path:
        body = {
            "binary": self.fake.config.binary,
            "codex_home": str(self.codex_home),
            "socket_dir": str(self.socket_dir),
            **keys,
        }
        path = self.fake.root / "config.json"
        path.write_text(json.dumps(body))
        return path

    async def run(self, **keys: Any) -> dict[str, Finding]:
        findings = await run_checks(str(self.write_config(**keys)), dict(os.environ))
        return {f.check: f for f in findings}

    def cli(self, *args: str, **keys: Any) -> subprocess.CompletedProcess[str]:
        argv = [sys.executable, "-m", "plexum_openai_provider", "doctor"]
        argv += ["--config", str(self.write_config(**keys)), *args]
        return subprocess.run(argv, capture_output=True, text=True, timeout=60)

    def codex(self, *args: str) -> None:
        env = {**os.environ, "CODEX_HOME": str(self.codex_home)}
        subprocess.run([self.fake.config.binary, *args], env=env, check=True, timeout=30)


@pytest.fixture
def doc(provider: ProviderOnFake, monkeypatch: pytest.MonkeyPatch) -> Doctor:
    return Doctor(provider, monkeypatch)


def problems(found: dict[str, Finding]) -> list[Finding]:
    return [f for f in found.values() if f.status in ("warn", "fail")]


async def test_a_healthy_setup_passes_every_check(doc: Doctor) -> None:
    doc.healthy()
    found = await doc.run(sandbox="workspace-write")
    assert problems(found) == []
    assert found["sandbox"].message.startswith("every agent: workspace-write (network off")
    assert found["version"].message == "codex 0.169.0"
    assert found["login"].message.startswith("codex login status: API key configured")
    assert "will be created (0700)" in found["socket_dir"].message


def test_the_command_exits_0_when_healthy_and_prints_json_for_machines(doc: Doctor) -> None:
    doc.healthy()
    result = doc.cli("--json")
    assert result.returncode == 0, result.stdout + result.stderr
    document = json.loads(result.stdout)
    assert document["ok"] is True
    checks = {c["check"]: c for c in document["checks"]}
    assert checks["binary"]["status"] == "ok"
    assert set(checks["version"]) == {"check", "status", "message", "fix"}


def test_the_command_exits_1_on_a_failure_and_shows_the_fix(doc: Doctor) -> None:
    result = doc.cli(binary="/nonexistent/codex")
    assert result.returncode == 1
    assert "FAIL  binary" in result.stdout and "fix: point `binary`" in result.stdout
    assert "problem(s) to fix" in result.stdout


async def test_a_missing_manifest_warns_and_points_at_install(doc: Doctor) -> None:
    manifest = (await doc.run())["manifest"]
    assert manifest.status == "warn" and "the daemon cannot start the plugin" in manifest.message
    assert manifest.fix.startswith("run `plexum-openai-provider install`")


async def test_a_manifest_of_another_protocol_or_a_gone_python_fails(doc: Doctor) -> None:
    path = doc.install()
    written = json.loads(path.read_text())
    path.write_text(json.dumps({**written, "protocol_version": "0"}))
    manifest = (await doc.run())["manifest"]
    assert manifest.status == "fail" and "(protocol_version differ)" in manifest.message
    path.write_text(json.dumps({**written, "command": "/gone/bin/python"}))
    manifest = (await doc.run())["manifest"]
    assert manifest.status == "fail"
    assert "starts '/gone/bin/python', which cannot be run" in manifest.message


async def test_a_missing_binary_fails_and_the_codex_checks_are_skipped(doc: Doctor) -> None:
    found = await doc.run(binary="/nonexistent/codex")
    assert found["binary"].status == "fail"
    assert "'/nonexistent/codex' (from " in found["binary"].message
    assert "does not exist" in found["binary"].message
    assert "command -v codex" in found["binary"].fix
    assert found["login"].status == "skip" and found["registrations"].status == "skip"


async def test_a_bare_name_not_on_path_fails(doc: Doctor) -> None:
    doc.monkeypatch.setenv("PATH", "/nonexistent-dir")
    found = await doc.run(binary="codex")
    assert found["binary"].status == "fail"
    assert found["binary"].message == "'codex' is not on your PATH"


async def test_a_codex_found_only_on_the_shell_path_warns_of_the_systemd_trap(doc: Doctor) -> None:
    doc.login()
    shim_dir = str(Path(doc.fake.config.binary).parent)
    doc.monkeypatch.setenv("PATH", f"{shim_dir}:{os.environ['PATH']}")
    found = await doc.run(binary="codex")
    binary = found["binary"]
    assert binary.status == "warn"
    assert "found only through your shell's PATH" in binary.message
    assert "minimal PATH (checked: /usr/local/bin:/usr/bin:/bin)" in binary.message
    assert binary.fix == f'set "binary": "{doc.fake.config.binary}" in config.json'
    assert found["version"].status == "ok"  # it still runs from this shell


async def test_a_shell_and_a_daemon_that_find_different_codexes_warn(
    doc: Doctor, monkeypatch: pytest.MonkeyPatch
) -> None:
    doc.login()
    system_dir = doc.fake.root / "system-bin"
    system_dir.mkdir()
    (system_dir / "codex").symlink_to("/bin/true")
    shim_dir = str(Path(doc.fake.config.binary).parent)
    monkeypatch.setattr(doctor_binary, "MINIMAL_PATH", str(system_dir))
    doc.monkeypatch.setenv("PATH", f"{shim_dir}:{system_dir}")
    binary = (await doc.run(binary="codex"))["binary"]
    assert binary.status == "warn"
    assert binary.message.startswith(f"your shell runs {doc.fake.config.binary}, but a daemon")
    assert f"would run {system_dir / 'codex'}" in binary.message


def test_warnings_alone_exit_0(doc: Doctor) -> None:
    doc.login()
    shim_dir = str(Path(doc.fake.config.binary).parent)
    doc.monkeypatch.setenv("PATH", f"{shim_dir}:{os.environ['PATH']}")
    result = doc.cli(binary="codex")
    assert result.returncode == 0, result.stdout
    assert "WARN  binary" in result.stdout and "warning(s) worth a look" in result.stdout


async def test_an_old_codex_fails_the_version_floor(doc: Doctor) -> None:
    doc.login()
    doc.fake.scenario([], codex_version="0.135.0", reported_version="0.120.0")
    found = await doc.run()
    assert found["version"].status == "fail"
    assert found["version"].message == (
        "codex 0.120.0 is older than the oldest supported version, 0.135.0"
    )
    assert "npm install -g @openai/codex@latest" in found["version"].fix
    assert found["login"].status == "ok"  # an old codex is still asked the rest


async def test_the_floor_itself_passes_and_a_newer_codex_is_noted(doc: Doctor) -> None:
    doc.login()
    doc.fake.scenario([], codex_version="0.135.0")
    assert (await doc.run())["version"].status == "ok"
    doc.fake.scenario([], codex_version="0.169.0", reported_version="0.171.0")
    version = (await doc.run())["version"]
    assert version.status == "info" and "newer than the newest version tested" in version.message


async def test_a_binary_that_is_not_codex_fails(doc: Doctor) -> None:
    found = await doc.run(binary="/bin/true")
    assert found["version"].status == "fail"
    assert "does not run like codex: exit 0" in found["version"].message
    assert found["login"].status == "skip"


async def test_a_hanging_binary_is_stopped_with_its_process_group(
    doc: Doctor, monkeypatch: pytest.MonkeyPatch
) -> None:
    pid_file = doc.fake.root / "pid"
    script = doc.fake.root / "hangs"
    script.write_text(f"#!/bin/sh\necho $$ > {pid_file}\nsleep 60 &\nwait\n")
    script.chmod(0o755)
    monkeypatch.setattr(doctor_codex, "CODEX_CALL_TIMEOUT_S", 0.5)
    found = await doc.run(binary=str(script))
    assert "did not finish in 0.5 s and was stopped" in found["version"].message
    # It leads its own group; `sleep`, its child, went with it.
    assert not group_alive(int(pid_file.read_text()))


async def test_a_bad_config_fails_with_its_key_and_the_rest_uses_the_defaults(
    doc: Doctor,
) -> None:
    found = await doc.run(turn_timeout=5)
    assert found["config"].status == "fail"
    assert "key 'turn_timeout': unknown key" in found["config"].message
    assert "the checks below use the defaults" in found["config"].message
    assert "install --force" in found["config"].fix
    assert "binary" in found  # the other checks still ran


async def test_no_config_file_warns_and_points_at_install(doc: Doctor) -> None:
    findings = await run_checks(None, dict(os.environ))
    config = {f.check: f for f in findings}["config"]
    assert config.status == "warn" and "the defaults are used" in config.message
    assert "plexum-openai-provider install" in config.fix


async def test_a_config_variable_naming_a_missing_file_fails(doc: Doctor) -> None:
    doc.monkeypatch.setenv(CONFIG_ENV, str(doc.home / "typo.json"))
    findings = await run_checks(None, dict(os.environ))
    config = {f.check: f for f in findings}["config"]
    assert config.status == "fail" and f"(named by ${CONFIG_ENV})" in config.message


async def test_not_logged_in_fails_with_codex_login(doc: Doctor) -> None:
    found = await doc.run()
    login = found["login"]
    assert login.status == "fail"
    assert login.message == f"codex is not logged in (CODEX_HOME {doc.codex_home})"
    assert f"CODEX_HOME={doc.codex_home} codex login" in login.fix


async def test_not_logged_in_with_an_api_key_in_the_shell_only_warns(doc: Doctor) -> None:
    doc.monkeypatch.setenv("OPENAI_API_KEY", "sk-test-1234567890abcdef")
    found = await doc.run()
    login = found["login"]
    assert login.status == "warn"
    assert "OPENAI_API_KEY is set in this shell" in login.message
    assert login.fix == (
        f"store the key for codex: printenv OPENAI_API_KEY | CODEX_HOME={doc.codex_home} "
        "codex login --with-api-key"
    )


async def test_an_unsafe_socket_dir_fails_with_chmod(doc: Doctor) -> None:
    doc.login()
    doc.socket_dir.mkdir(mode=0o755)
    doc.socket_dir.chmod(0o755)
    found = await doc.run()
    assert found["socket_dir"].status == "fail"
    assert "mode 0755; it must be 0700" in found["socket_dir"].message
    assert found["socket_dir"].fix == f"chmod 700 {doc.socket_dir}"


async def test_a_symlinked_socket_dir_fails(doc: Doctor) -> None:
    target = doc.fake.root / "elsewhere"
    target.mkdir(mode=0o700)
    doc.socket_dir.symlink_to(target)
    socket_dir = (await doc.run())["socket_dir"]
    assert socket_dir.status == "fail" and "symlink" in socket_dir.message
    assert socket_dir.fix.startswith(f"remove {doc.socket_dir}")


async def test_a_correct_global_registration_passes(doc: Doctor) -> None:
    doc.healthy()
    socket = stable_socket_path("agent1", socket_dir=doc.socket_dir)
    await ensure_registered(
        doc.fake.config.binary,
        "agent1",
        socket,
        default_plugin_command(),
        env=dict(os.environ),
        codex_home=doc.codex_home,
    )
    found = await doc.run(mcp_registration="global", sandbox="read-only")
    assert found["registration plexum-host-agent1"].status == "ok"
    assert problems(found) == []


async def test_a_stale_global_registration_fails_and_names_what_differs(doc: Doctor) -> None:
    doc.login()
    socket = stable_socket_path("agent1", socket_dir=doc.socket_dir)
    doc.codex(
        "mcp", "add", "plexum-host-agent1",
        "--env", f"PLEXUM_MCP_SOCKET={socket}", "--env", "PLEXUM_MCP_AGENT_ID=agent1",
        "--", "/gone/venv/bin/python", *default_plugin_command()[1:], "mcp-host",
    )  # fmt: skip
    found = await doc.run(mcp_registration="global")
    stale = found["registration plexum-host-agent1"]
    assert stale.status == "fail"
    assert stale.message == (
        "plexum-host-agent1 is stale: its command is /gone/venv/bin/python, which no longer "
        f"exists, not {sys.executable}"
    )
    assert stale.fix.startswith("codex mcp remove plexum-host-agent1")


async def test_leftover_registrations_in_per_turn_mode_warn(doc: Doctor) -> None:
    doc.login()
    doc.codex("mcp", "add", "plexum-host-old", "--", "/usr/bin/true")
    doc.codex("mcp", "add", "unrelated", "--", "/usr/bin/true")
    registrations = (await doc.run())["registrations"]
    assert registrations.status == "warn"
    assert "mode per-turn does not use plexum-host-old" in registrations.message
    assert registrations.fix == "codex mcp remove plexum-host-old"


async def test_models_are_explained_and_unused_model_args_warn(doc: Doctor) -> None:
    found = await doc.run(
        supported_models=["codex", "gpt", "o3"], model_args={"gpt": "gpt-5.5", "old": "gpt-4"}
    )
    assert (
        found["model codex"].status == "ok" and "passes no --model" in found["model codex"].message
    )
    assert found["model gpt"].status == "ok" and "--model gpt-5.5" in found["model gpt"].message
    assert found["model o3"].status == "info"
    assert "passed to codex as is (--model o3)" in found["model o3"].message
    assert found["model_args"].status == "warn" and "not in supported_models: old" in (
        found["model_args"].message
    )


async def test_an_empty_model_arg_fails(doc: Doctor) -> None:
    found = await doc.run(supported_models=["gpt"], model_args={"gpt": " "})
    assert found["model gpt"].status == "fail"


async def test_a_codex_home_that_is_a_file_fails(doc: Doctor, tmp_path: Path) -> None:
    not_a_dir = tmp_path / "home-file"
    not_a_dir.write_text("")
    found = await doc.run(codex_home=str(not_a_dir))
    assert found["codex_home"].status == "fail"
    assert "is not a directory" in found["codex_home"].message


async def test_codex_home_only_in_the_shell_warns(doc: Doctor) -> None:
    doc.monkeypatch.setenv("CODEX_HOME", str(doc.codex_home))
    found = await doc.run(codex_home=None)
    assert found["codex_home"].status == "warn"
    assert "a daemon without that variable uses ~/.codex" in found["codex_home"].message
    assert found["codex_home"].fix == f'set "codex_home": "{doc.codex_home}" in config.json'


async def test_rollouts_are_read_after_a_turn(doc: Doctor) -> None:
    doc.login()
    assert (await doc.fake.turn())[-1].type == "message_end"
    rollouts = (await doc.run())["rollouts"]
    assert rollouts.status == "ok" and rollouts.message.startswith("readable (newest: rollout-")


def test_a_node_launcher_without_node_on_the_minimal_path_warns(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    modules = tmp_path / "node_modules"
    launcher = modules / "@openai" / "codex" / "bin" / "codex.js"
    native = modules / "@openai" / "codex-linux-x64" / "vendor" / "x86_64" / "bin" / "codex"
    for path in (launcher, native):
        path.parent.mkdir(parents=True)
        path.write_text("#!/usr/bin/env node\n" if path == launcher else "")
    empty = tmp_path / "empty"
    empty.mkdir()
    monkeypatch.setattr(doctor_binary, "MINIMAL_PATH", str(empty))
    finding = doctor_binary.check_launcher(str(launcher), {"PATH": str(empty)})
    assert finding is not None and finding.status == "warn"
    assert "npm's node launcher" in finding.message
    assert f'set "binary": "{native}" in config.json (the native binary)' in finding.fix
    monkeypatch.setattr(doctor_binary, "MINIMAL_PATH", "/usr/local/bin:/usr/bin:/bin")
    if any(os.access(f"{d}/node", os.X_OK) for d in ("/usr/local/bin", "/usr/bin", "/bin")):
        assert doctor_binary.check_launcher(str(launcher), {}) is None


async def test_with_the_app_server_backend_doctor_checks_its_handshake(doc: Doctor) -> None:
    doc.healthy()
    found = await doc.run(backend="app-server")
    assert found["app-server"].status == "ok", found["app-server"]
    assert "answers" in found["app-server"].message
    assert "app-server" not in await doc.run()  # the exec backend: not checked


async def test_an_app_server_that_dies_at_its_handshake_fails_with_its_stderr(doc: Doctor) -> None:
    doc.healthy()
    # `codex app-server --strict-config` is refused by the fake: it exits 2 before any answer.
    found = await doc.run(backend="app-server", extra_args=["--strict-config"])
    check = found["app-server"]
    assert check.status == "fail", check
    assert "handshake" in check.message and "--strict-config" in check.message


async def test_doctor_names_each_agents_sandbox_and_warns_about_bypass_plainly(doc: Doctor) -> None:
    doc.healthy()
    found = await doc.run(agents={"ro": {"sandbox": "read-only"}, "wild": {"sandbox": "bypass"}})
    default, ro, wild = found["sandbox"], found["sandbox ro"], found["sandbox wild"]
    assert default.status == "warn" and default.message.startswith("agents not listed: codex runs")
    assert "other agents' workspaces" in default.message and "workspace-write" in default.fix
    assert ro.status == "ok" and ro.message == (
        "agent ro: read-only (no writes, no network; approvals: never)"
    )
    assert wild.status == "warn"
    exec_daemon = await doc.run(sandbox="workspace-write", approvals="daemon")
    assert exec_daemon["sandbox"].status == "warn"
    assert "exec backend cannot ask" in exec_daemon["sandbox"].message


# A process holding a thread's writer lock the way codex does (tests/unit/test_ownership_*).
_HOLD_LOCK = r"""
import fcntl, os, sys
folder, thread = sys.argv[1], sys.argv[2]
os.makedirs(folder, exist_ok=True)
c = os.open(os.path.join(folder, ".coordination.lock"), os.O_RDWR | os.O_CREAT)
fcntl.flock(c, fcntl.LOCK_EX)
fd = os.open(os.path.join(folder, thread + ".lock"), os.O_RDWR | os.O_CREAT)
fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
os.close(c)
print("ready", flush=True)
sys.stdin.read()
"""


async def test_a_thread_held_by_another_process_warns_naming_it_and_stale_locks_are_noted(
    doc: Doctor,
) -> None:
    doc.healthy()
    held, stale = "01a24876-6e8c-7680-93ee-98a687165f97", "01a24876-0000-7680-93ee-98a687165f97"
    folder = doc.codex_home / "thread-writer-locks"
    folder.mkdir(parents=True)
    (folder / f"{stale}.lock").touch()
    with subprocess.Popen(
        [sys.executable, "-c", _HOLD_LOCK, str(folder), held],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    ) as proc:
        try:
            assert proc.stdout is not None and proc.stdout.readline() == "ready\n"
            found = await doc.run()
        finally:
            proc.kill()
            proc.wait(timeout=10)
    threads = found["threads"]
    assert threads.status == "warn"
    assert f"thread {held} by pid {proc.pid}" in threads.message
    assert "thread_busy" in threads.fix
    assert (
        found["stale_locks"].status == "info"
        and "1 stale lock file" in found["stale_locks"].message
    )
    # once the holder is gone its file is stale too, and nothing is held
    found = await doc.run()
    assert found["threads"].status == "ok"
    assert "2 stale lock file" in found["stale_locks"].message


async def test_a_codex_home_without_writer_locks_is_explained(doc: Doctor) -> None:
    doc.healthy()
    found = await doc.run()
    assert found["threads"].status == "info"
    assert "0.135 takes no writer lock" in found["threads"].message
    assert "stale_locks" not in found
