"""Codex MCP server names for Plexum agents, and codex's model-visible namespace for them.

`server_name(agent_id)` is `plexum-host-<id>` when the id is short and plain ASCII alphanumeric,
else `plexum-host-<readable part>-<16 hex of sha256(id)>`. Names use only `[A-Za-z0-9-]` (valid for
codex 0.135 and 0.169), are at most `MAX_NAME_LENGTH` long, and stay distinct after codex's
`mcp__` namespace mapping (see `namespace`).
"""

from __future__ import annotations

import re

from ..digest import sha256_hex

PREFIX = "plexum-host-"
# The model sees `mcp__<name>` and, in code mode, `tools.mcp__<name>__<tool>`; OpenAI caps tool and
# namespace names at 64 characters, so keep the namespace well under that.
MAX_NAME_LENGTH = 48
HASH_HEX_CHARS = 16  # 64 bits of sha256
_SUFFIX_LENGTH = 1 + HASH_HEX_CHARS
_MAX_PLAIN_ID = MAX_NAME_LENGTH - len(PREFIX)
_MAX_READABLE = MAX_NAME_LENGTH - len(PREFIX) - _SUFFIX_LENGTH
_NOT_NAMESPACE_CHAR = re.compile(r"[^A-Za-z0-9_]")


def _is_plain(agent_id: str) -> bool:
    return agent_id.isascii() and agent_id.isalnum()


def server_name(agent_id: str) -> str:
    """The codex MCP server name for `agent_id` (deterministic, injective up to sha256-64)."""
    if _is_plain(agent_id) and len(agent_id) <= _MAX_PLAIN_ID:
        # Unhashed names have no '-' after the prefix; hashed ones always do, so the two forms
        # can never meet, not even after `-` becomes `_` in the namespace.
        return PREFIX + agent_id
    readable = "".join(c for c in agent_id if c.isascii() and c.isalnum())[:_MAX_READABLE]
    digest = sha256_hex(agent_id.encode("utf-8", "surrogatepass"))
    return f"{PREFIX}{readable or 'agent'}-{digest[:HASH_HEX_CHARS]}"


def namespace(name: str) -> str:
    """Codex's model-visible namespace for a server: `mcp__` + name, non-`[A-Za-z0-9_]` → `_`."""
    return "mcp__" + _NOT_NAMESPACE_CHAR.sub("_", name)
