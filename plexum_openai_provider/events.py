"""Canonical events: what a turn reports to its host, one JSON object each.

Every event is a frozen dataclass with a ``type`` tag; ``to_json()`` gives the stable wire form
(the CLI's ``--json`` output, later the plugin protocol). A turn ends with exactly one terminal
event, ``message_end`` or ``error``, and nothing follows it.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Literal

USAGE_KEYS = (
    "input_tokens",
    "cached_input_tokens",
    "cache_write_input_tokens",
    "output_tokens",
    "reasoning_output_tokens",
)

# The fixed list of `error.code` values (documented in the README's error ladder).
ErrorCode = Literal[
    "config",  # config.json unreadable or invalid, unsupported model
    "binary_not_found",  # `binary` missing or not executable
    "spawn",  # the OS refused to start codex for another reason
    "exit",  # codex exited non-zero (or by a signal) without a terminal event
    "thread_busy",  # another process (a codex not run by this turn) holds the session's thread
    "auth",  # codex is not logged in / the API key was refused (HTTP 401)
    "model_rejected",  # the account does not allow this model (HTTP 400 invalid_request_error)
    "turn_failed",  # codex reported `turn.failed`
    "timeout",  # the turn ran longer than `turn_timeout_s`
    "idle_timeout",  # codex was silent for `idle_timeout_s` while nothing was running
    "cancelled",  # the host cancelled the turn
    "session_store",  # the workspace's session file is unreadable
    "mcp",  # the turn's tools could not be offered to codex (socket, registration)
    "protocol",  # codex ended the stream without any terminal event
    "structured_output",  # an output schema was given, but the final message is not JSON
    "internal",  # a bug in the plugin: an unexpected exception, caught so the turn still ends
]

ERROR_CODES: tuple[str, ...] = ErrorCode.__args__  # type: ignore[attr-defined]

ItemPhase = Literal["started", "updated", "completed"]


@dataclass(frozen=True)
class Usage:
    """Token counts; 0 where a codex version does not report a field."""

    input_tokens: int = 0
    cached_input_tokens: int = 0
    cache_write_input_tokens: int = 0
    output_tokens: int = 0
    reasoning_output_tokens: int = 0

    @classmethod
    def from_mapping(cls, raw: object) -> Usage:
        if not isinstance(raw, dict):
            return cls()
        values = {}
        for key in USAGE_KEYS:
            value = raw.get(key, 0)
            plain = isinstance(value, int) and not isinstance(value, bool) and value >= 0
            values[key] = value if plain else 0
        return cls(**values)

    def minus(self, earlier: Usage) -> Usage:
        """Per-turn figures from two cumulative thread totals (never negative)."""
        return Usage(**{k: max(0, getattr(self, k) - getattr(earlier, k)) for k in USAGE_KEYS})

    def to_json(self) -> dict[str, int]:
        return {k: getattr(self, k) for k in USAGE_KEYS}


class _Event:
    """Mixin: the wire form of an event is its fields, `type` first."""

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for f in dataclasses.fields(self):  # type: ignore[arg-type]
            value = getattr(self, f.name)
            out[f.name] = value.to_json() if isinstance(value, Usage) else value
        return out


@dataclass(frozen=True)
class TextDelta(_Event):
    """One completed agent message (codex exec has no token deltas)."""

    text: str
    type: Literal["text_delta"] = "text_delta"


@dataclass(frozen=True)
class Reasoning(_Event):
    text: str
    type: Literal["reasoning"] = "reasoning"


@dataclass(frozen=True)
class WarningEvent(_Event):
    """Something the user should know that does not end the turn."""

    message: str
    type: Literal["warning"] = "warning"


@dataclass(frozen=True)
class Item(_Event):
    """Live tool activity for display (command, file change, MCP call, web search).

    `item_id` is codex's `item_N`, unique only within one codex process.
    `detail` carries the item's own fields as codex sent them, minus `id` and `type`.
    """

    phase: ItemPhase
    item_id: str
    kind: str
    detail: dict[str, Any] = field(default_factory=dict)
    type: Literal["item"] = "item"


@dataclass(frozen=True)
class ErrorEvent(_Event):
    """Terminal: the turn failed. `code` is one of ERROR_CODES."""

    code: ErrorCode
    message: str
    type: Literal["error"] = "error"


@dataclass(frozen=True)
class Context:
    """How full the thread's context is after the turn: `tokens` (the last model request's input
    plus its output) of the model's `window` (None when codex did not report it)."""

    tokens: int
    window: int | None

    @property
    def fraction(self) -> float | None:
        return self.tokens / self.window if self.window else None

    def to_json(self) -> dict[str, Any]:
        fraction = self.fraction
        return {
            "tokens": self.tokens,
            "window": self.window,
            "fraction": round(fraction, 4) if fraction is not None else None,
        }


@dataclass(frozen=True)
class MessageEnd(_Event):
    """Terminal: the turn completed.

    `usage` is this turn alone; `thread_usage` is codex's running total for the thread;
    `context` how full the thread's context is now (absent when codex reported no usage).
    """

    thread_id: str
    usage: Usage
    thread_usage: Usage
    context: Context | None = None
    type: Literal["message_end"] = "message_end"

    def to_json(self) -> dict[str, Any]:
        out = super().to_json()
        if self.context is None:
            del out["context"]
        else:
            out["context"] = self.context.to_json()
        return out


@dataclass(frozen=True)
class StructuredOutput(_Event):
    """The final message parsed as JSON, for a turn with an `output_schema`; comes right before
    `message_end` (a final message that does not parse ends the turn in
    `error{code: structured_output}` instead). The model was held to the schema by the API's
    strict mode; the plugin parses, it does not re-validate."""

    value: Any
    type: Literal["structured_output"] = "structured_output"


@dataclass(frozen=True)
class ToolCall(_Event):
    """A model-visible tool call of this turn, mirrored from codex's rollout file.

    `block_id` is codex's own `call_id` (what `consume` takes). `kind` is the rollout payload type
    (`function_call`, `custom_tool_call`, `tool_search_call`, ...); `input` is the call's
    arguments/input exactly as in the rollout. `server`/`tool` are set for MCP calls;
    `inner_calls` lists the MCP and shell calls a code-mode `exec` block made.
    """

    block_id: str
    kind: str
    name: str
    namespace: str | None = None
    server: str | None = None
    tool: str | None = None
    input: Any = None
    inner_calls: tuple[dict[str, Any], ...] = ()
    type: Literal["tool_call"] = "tool_call"

    def to_json(self) -> dict[str, Any]:
        out = super().to_json()
        out["inner_calls"] = list(self.inner_calls)
        return out


@dataclass(frozen=True)
class ToolResult(_Event):
    """The output of a mirrored tool call, as in the rollout (a string or a list of parts)."""

    block_id: str
    output: Any
    is_error: bool = False
    type: Literal["tool_result"] = "tool_result"


CanonicalEvent = (
    TextDelta
    | Reasoning
    | WarningEvent
    | Item
    | ToolCall
    | ToolResult
    | StructuredOutput
    | ErrorEvent
    | MessageEnd
)
TERMINAL_TYPES = frozenset({"message_end", "error"})


def is_terminal(event: CanonicalEvent) -> bool:
    return event.type in TERMINAL_TYPES
