"""Every error type the package raises on purpose: one root, a few branches with structured fields.

Failures that codex *reports* (`turn.failed`, `error` events) are data and become canonical events;
these exceptions are for what stops us before or around codex (bad config, unusable session file,
an unsafe socket directory, a rollout that cannot be rewritten) and for JSON-RPC errors, sent or
received (`RpcError`, `RemoteError`). A turn never lets one escape.
"""

from __future__ import annotations

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (mypy knows the name)
if TYPE_CHECKING:
    from typing import Any


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


class SandboxWidened(ConfigError):
    """A turn asked for a sandbox mode wider than its agent's (or for no known mode)."""


class TurnInputError(ConfigError):
    """A turn input is unusable; `key` names the TurnRequest field (and where in it)."""


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


class RpcError(ProviderError):
    """A JSON-RPC error: `code`, a message a reader can act on, and optional `data` (any JSON).

    Raised inside a server to answer a request with it (`to_json` is the error object)."""

    def __init__(self, code: int, message: str, data: Any = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.data = data

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.data is not None:
            out["data"] = self.data
        return out


class RemoteError(RpcError):
    """The other side answered one of our requests (`method`, when known) with a JSON-RPC error."""

    def __init__(
        self, code: int, message: str, data: Any = None, *, method: str | None = None
    ) -> None:
        super().__init__(code, message, data)
        self.method = method

    def __str__(self) -> str:
        where = f"{self.method}: " if self.method else ""
        return f"{where}{self.message} (JSON-RPC error {self.code})"


class NoAnswer(RpcError):
    """A child (`codex app-server`) left one of our requests unanswered past its deadline."""


class ReplyTooLong(RpcError):
    """A child's reply to one of our requests was longer than the line limit (it was dropped)."""


class ServerGone(ProviderError):
    """A JSON-RPC child process (`codex app-server`) closed its stdout before the reply came."""


class NoReply(ProviderError):
    """Raised by a daemon's `tools/call` handler that has answered on its own (with `send_raw`)."""


class DemoFailed(ProviderError):
    """A step of `demo` did not show what it should (a bug: the demo checks itself)."""


class AppServerStartError(ProviderError):
    """The app-server could not be started or did not complete the handshake."""

    def __init__(self, message: str, stderr: str = "") -> None:
        super().__init__(message)
        self.stderr = stderr


class ControlError(ProviderError):
    """A control of a running turn or a session (steer, fork) could not be applied. `reason` is
    what a daemon can act on: `steer_unsupported` (the exec backend: send it as the next turn),
    `not_running` (no codex turn to steer), `codex_refused`, `fork_failed`."""

    def __init__(self, reason: str, message: str) -> None:
        self.reason = reason
        super().__init__(message)
