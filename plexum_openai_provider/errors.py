"""The provider's exception tree: one root, a few branches with structured fields.

Failures that codex *reports* (`turn.failed`, `error` events) are data and become canonical events;
these exceptions are for what stops us before or around codex (bad config, unusable session file).
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
