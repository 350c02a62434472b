"""Stable socket paths: bounded, env-independent; safe 0700 dir; stale and live sockets.

The permission checks run their subject as an unprivileged user (uid 65534 via `setpriv`), since
CI runs as root and root bypasses file permissions: as root these tests could never fail.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

import plexum_openai_provider
from plexum_openai_provider.bridge.socket_path import (
    MAX_SOCKET_PATH_BYTES,
    bind_listener,
    default_socket_dir,
    ensure_socket_dir,
    stable_socket_path,
)
from plexum_openai_provider.errors import SocketInUseError

SUBJECT = Path(__file__).resolve().parent.parent / "bridge" / "perm_subject.py"
PACKAGE = Path(plexum_openai_provider.__file__).resolve().parent
NOBODY, OTHER = 65534, 65533
SETPRIV = shutil.which("setpriv") or "setpriv"  # util-linux; missing → the test fails loudly


@pytest.fixture
def base() -> Iterator[Path]:
    """A short, world-traversable base dir (so an unprivileged subject can work below it)."""
    path = Path(tempfile.mkdtemp(prefix="pbs-", dir="/tmp"))
    path.chmod(0o755)
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


@pytest.fixture(scope="module")
def readable_code() -> Iterator[Path]:
    """The subject and the package, copied where an unprivileged user can read them.

    The checkout may sit in a folder only root can enter (a clone in `mktemp -d`, say).
    """
    root = Path(tempfile.mkdtemp(prefix="perm-code-", dir="/tmp"))
    shutil.copytree(PACKAGE, root / "plexum_openai_provider",
                    ignore=shutil.ignore_patterns("__pycache__"))  # fmt: skip
    shutil.copy(SUBJECT, root / "perm_subject.py")
    for path in [root, *root.rglob("*")]:
        path.chmod(0o755 if path.is_dir() else 0o644)
    try:
        yield root
    finally:
        shutil.rmtree(root, ignore_errors=True)


def subject_argv(code: Path, uid: int, *args: str) -> list[str]:
    return [SETPRIV, f"--reuid={uid}", f"--regid={uid}", "--clear-groups",
            sys.executable, str(code / "perm_subject.py"), *args]  # fmt: skip


def subject_env(code: Path) -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(code)}


def as_user(code: Path, uid: int, *args: str, stdin: bytes = b"") -> dict[str, object]:
    """Run perm_subject.py as `uid` (no supplementary groups) and return its last JSON line."""
    argv = subject_argv(code, uid, *args)
    out = subprocess.run(
        argv, input=stdin, capture_output=True, timeout=60, check=True, cwd="/",
        env=subject_env(code),
    )  # fmt: skip
    return json.loads(out.stdout.decode().splitlines()[-1])  # type: ignore[no-any-return]


@given(st.text(max_size=500), st.integers(min_value=0, max_value=2**32 - 1))
def test_default_socket_paths_stay_within_100_bytes_for_any_id_and_uid(aid: str, uid: int) -> None:
    path = stable_socket_path(aid, uid=uid)
    assert len(os.fsencode(path)) <= MAX_SOCKET_PATH_BYTES
    assert path.parent == Path(f"/tmp/plexum-{uid}")


@given(st.text(max_size=300), st.text(alphabet="abcdefgh/-_.", min_size=1, max_size=60))
def test_paths_under_a_reasonable_socket_dir_stay_within_100_bytes(aid: str, sub: str) -> None:
    path = stable_socket_path(aid, socket_dir=Path("/home/someuser/.plexum") / sub)
    assert len(os.fsencode(path)) <= MAX_SOCKET_PATH_BYTES


def test_a_socket_dir_too_long_for_sun_path_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match=r"socket_dir .* too long"):
        stable_socket_path("a", socket_dir=Path("/x" * 60))


def test_the_path_ignores_tmpdir_and_xdg_runtime_dir(monkeypatch: pytest.MonkeyPatch) -> None:
    before = stable_socket_path("agent", uid=1000)
    monkeypatch.setenv("TMPDIR", "/var/tmp/elsewhere")
    monkeypatch.setenv("XDG_RUNTIME_DIR", "/run/user/1000")
    assert stable_socket_path("agent", uid=1000) == before
    assert default_socket_dir(1000) == Path("/tmp/plexum-1000")


def test_distinct_agents_get_distinct_paths() -> None:
    assert stable_socket_path("a", uid=1) != stable_socket_path("b", uid=1)


def test_an_unprivileged_user_creates_the_dir_0700_and_binds_the_socket_0600(
    base: Path, readable_code: Path
) -> None:
    (base / "nb").mkdir()
    os.chown(base / "nb", NOBODY, NOBODY)
    sock = base / "nb" / "sockets" / "a.sock"
    argv = subject_argv(readable_code, NOBODY, "bind", str(sock))
    proc = subprocess.Popen(
        argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, cwd="/", env=subject_env(readable_code)
    )
    try:
        assert proc.stdout is not None
        first = json.loads(proc.stdout.readline())
        assert first == {"ok": True, "listening": True, "dir_mode": 0o700, "sock_mode": 0o600}
        # Another unprivileged user cannot even reach the socket.
        other = as_user(readable_code, OTHER, "connect", str(sock))
        assert other == {"ok": False, "error": "PermissionError", "errno": 13}
        # A second listener (same user) on a live socket is a clear error, not a takeover.
        second = as_user(readable_code, NOBODY, "bind", str(sock), stdin=b"")
        assert second["error"] == "SocketInUseError" and str(sock) in str(second["message"])
    finally:
        out, _ = proc.communicate(b"", timeout=30)
    assert json.loads(out.decode().splitlines()[-1]) == {"ok": True, "closed": True}
    assert not sock.exists()


def test_a_socket_dir_owned_by_another_user_is_refused(base: Path, readable_code: Path) -> None:
    foreign = base / "foreign"
    foreign.mkdir(mode=0o700)  # owned by root, the "other user" here
    result = as_user(readable_code, NOBODY, "ensure-dir", str(foreign))
    assert result["error"] == "UnsafeSocketDirError"
    assert "owned by uid 0" in str(result["message"])


def test_a_socket_dir_open_to_group_or_other_is_refused(base: Path, readable_code: Path) -> None:
    loose = base / "loose"
    loose.mkdir()
    loose.chmod(0o755)
    os.chown(loose, NOBODY, NOBODY)
    result = as_user(readable_code, NOBODY, "ensure-dir", str(loose))
    assert result["error"] == "UnsafeSocketDirError"
    assert "mode 0755" in str(result["message"])


def test_a_symlinked_socket_dir_is_refused(base: Path, readable_code: Path) -> None:
    real = base / "real"
    real.mkdir(mode=0o700)
    os.chown(real, NOBODY, NOBODY)
    (base / "link").symlink_to(real)
    result = as_user(readable_code, NOBODY, "ensure-dir", str(base / "link"))
    assert result["error"] == "UnsafeSocketDirError"
    assert "symlink" in str(result["message"])


def test_a_stale_socket_of_a_dead_process_is_replaced(base: Path) -> None:
    sock = base / "d" / "a.sock"
    ensure_socket_dir(sock.parent)
    code = ("import socket,sys; s=socket.socket(socket.AF_UNIX); s.bind(sys.argv[1]); "
            "s.listen(); import os; os._exit(0)")  # fmt: skip
    subprocess.run([sys.executable, "-c", code, str(sock)], check=True, timeout=30)
    assert sock.exists()  # the dead process left its socket file behind
    listener = bind_listener(sock)
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as client:
            client.connect(str(sock))  # the new listener is the one answering
    finally:
        listener.close()
    assert not sock.exists()


def test_a_live_listener_of_another_process_is_a_clear_error_naming_the_path(base: Path) -> None:
    sock = base / "d" / "a.sock"
    ensure_socket_dir(sock.parent)
    code = ("import socket,sys; s=socket.socket(socket.AF_UNIX); s.bind(sys.argv[1]); "
            "s.listen(); print('up', flush=True); sys.stdin.read()")  # fmt: skip
    other = subprocess.Popen([sys.executable, "-c", code, str(sock)],
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE)  # fmt: skip
    try:
        assert other.stdout is not None and other.stdout.readline() == b"up\n"
        with pytest.raises(SocketInUseError, match="live process") as info:
            bind_listener(sock)
        assert info.value.path == str(sock)
        assert sock.exists()  # untouched
    finally:
        other.communicate(b"", timeout=30)


def test_a_regular_file_in_place_of_the_socket_is_not_deleted(base: Path) -> None:
    sock = base / "d" / "a.sock"
    ensure_socket_dir(sock.parent)
    sock.write_text("precious")
    with pytest.raises(SocketInUseError, match="not a socket"):
        bind_listener(sock)
    assert sock.read_text() == "precious"


def test_closing_a_listener_leaves_a_newer_socket_on_the_path_alone(base: Path) -> None:
    sock = base / "d" / "a.sock"
    first = bind_listener(sock)
    os.unlink(sock)
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as newer:
        newer.bind(str(sock))
        first.close()
        assert sock.exists()
