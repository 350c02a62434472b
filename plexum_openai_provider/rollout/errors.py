"""Rollout errors: one branch under the provider's root error.

(Lives here rather than in `errors.py` only because that module has another owner; it can move.)
"""

from __future__ import annotations

from plexum_openai_provider.errors import ProviderError


class RolloutError(ProviderError):
    """A rollout file cannot be read or rewritten as asked."""

    def __init__(self, message: str, *, path: str) -> None:
        self.path = path
        super().__init__(f"{path}: {message}")


class RolloutChangedError(RolloutError):
    """The rollout grew or changed while consume was copying it (codex is writing the thread)."""
