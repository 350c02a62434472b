"""Process ancestry from /proc and peer credentials of a unix socket connection."""

from __future__ import annotations

import os
import socket
import subprocess
import sys

from plexum_openai_provider.bridge.peers import descends_from, parent_pid, peer_credentials


def test_a_child_process_descends_from_its_parent_and_not_the_other_way() -> None:
    child = subprocess.Popen([sys.executable, "-c", "import sys; sys.stdin.read()"],
                             stdin=subprocess.PIPE)  # fmt: skip
    try:
        assert descends_from(child.pid, os.getpid())
        assert not descends_from(os.getpid(), child.pid)
    finally:
        child.communicate(b"")


def test_a_process_counts_as_descending_from_itself() -> None:
    assert descends_from(os.getpid(), os.getpid())


def test_a_vanished_pid_descends_from_nobody() -> None:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    assert parent_pid(child.pid) is None
    assert not descends_from(child.pid, os.getpid())


def test_init_does_not_descend_from_us() -> None:
    assert not descends_from(1, os.getpid())


def test_peer_credentials_name_the_connecting_process() -> None:
    a, b = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    with a, b:
        creds = peer_credentials(a)
    assert creds is not None
    assert (creds.pid, creds.uid) == (os.getpid(), os.geteuid())
