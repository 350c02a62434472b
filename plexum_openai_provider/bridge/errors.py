"""Errors of the MCP bridge: unsafe socket directories, busy sockets, failed registrations.

All derive from `ProviderError`, carry the path or name involved, and say what to do.
"""

from __future__ import annotations

from plexum_openai_provider.errors import ProviderError


class BridgeError(ProviderError):
    """Root of the bridge's errors."""


class UnsafeSocketDirError(BridgeError):
    """The socket directory is a symlink, owned by another user, or open to group/other."""

    def __init__(self, message: str, *, path: str) -> None:
        self.path = path
        super().__init__(f"{path}: {message}")


class SocketInUseError(BridgeError):
    """Another live process listens on (or holds the lock of) the agent's socket."""

    def __init__(self, message: str, *, path: str) -> None:
        self.path = path
        super().__init__(f"{path}: {message}")


class RegistrationError(BridgeError):
    """`codex mcp get/add` failed or printed something we cannot read."""

    def __init__(
        self, message: str, *, name: str, exit_code: int | None = None, stderr: str = ""
    ) -> None:
        self.name = name
        self.exit_code = exit_code
        self.stderr = stderr
        super().__init__(f"MCP server {name!r}: {message}")
