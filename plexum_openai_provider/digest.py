"""SHA-256 as hex, by CPython's own module where it has one (`_sha256`, 3.12+ `_sha2`), else
`hashlib`. The digest is the same; `hashlib` loads OpenSSL first (~2 ms of a cold `say` before
codex starts: the agent id, its tool socket's name and its MCP server name are digests). A leaf:
stdlib only, so `bridge/` can use it.
"""

from __future__ import annotations

import importlib


def sha256_hex(data: bytes) -> str:
    try:
        module = importlib.import_module("_sha256")  # CPython 3.11
    except ImportError:
        try:
            module = importlib.import_module("_sha2")  # CPython 3.12+
        except ImportError:
            module = importlib.import_module("hashlib")
    return str(module.sha256(data).hexdigest())
