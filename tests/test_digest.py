"""`digest.sha256_hex` is SHA-256 (whichever module computes it) and loads no OpenSSL."""

from __future__ import annotations

import hashlib
import subprocess
import sys

import pytest

from plexum_openai_provider.digest import sha256_hex


@pytest.mark.parametrize("data", [b"", b"abc", "cli-é/ws".encode(), bytes(range(256)) * 70])
def test_the_digest_is_sha256(data: bytes) -> None:
    assert sha256_hex(data) == hashlib.sha256(data).hexdigest()


def test_it_does_not_import_hashlib() -> None:
    code = (
        "import sys; from plexum_openai_provider.digest import sha256_hex; sha256_hex(b'x'); "
        "print('hashlib' in sys.modules, '_hashlib' in sys.modules)"
    )
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    assert run.stdout.split() == ["False", "False"]
