"""Every error type the package raises on purpose: one root, a few branches with structured fields.

Failures that codex *reports* (`turn.failed`, `error` events) are data and become canonical events;
these exceptions are for what stops us before or around codex (bad config, unusable session file,
an unsafe socket directory, a rollout that cannot be rewritten). A turn never lets one escape.
"""

from __future__ import annotations


class ProviderError(Exception):
    """Root of every error this package raises on purpose."""


class ConfigError(ProviderError):
    """config.json is unreadable or invalid, or a turn asks for a model it does not allow."""

    def __init__(self, message: str, *, path: str | None = None, key: str | None = None) -> None:
        self.path = path
        self.key = key
        where = f"{path}: " if path else ""
        what = f"key {key!r}: " if key else ""
        super().__init__(f"{where}{what}{message}")


class SessionStoreError(ProviderError):
    """The workspace's session file cannot be read or written."""

    def __init__(self, message: str, *, path: str) -> None:
        self.path = path
        super().__init__(f"{path}: {message}")


class BridgeError(ProviderError):
    """The turn's tools cannot be offered to codex over MCP (socket, registration)."""


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


class RolloutError(ProviderError):
    """A rollout file cannot be read or rewritten as asked."""

    def __init__(self, message: str, *, path: str) -> None:
        self.path = path
        super().__init__(f"{path}: {message}")


class RolloutChangedError(RolloutError):
    """The rollout grew or changed while consume was copying it (codex is writing the thread)."""


class ConsumeError(ProviderError):
    """Consume could not run (no thread, no rollout, a turn that did not end in time)."""


class AppServerStartError(ProviderError):
    """The app-server could not be started or did not complete the handshake."""

    def __init__(self, message: str, stderr: str = "") -> None:
        super().__init__(message)
        self.stderr = stderr
