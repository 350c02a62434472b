"""plexum-openai-provider: the OpenAI codex CLI as a Plexum model backend. The public API.

Names resolve lazily (PEP 562): `mcp-host` imports this package on codex's critical path, so
importing the root alone must load nothing but this file.
"""

from __future__ import annotations

import importlib

from .version import __version__

# typing.TYPE_CHECKING without importing `typing` (and `re`): mcp-host imports this package on
# every exec, ~2-3 ms. mypy knows the name.
TYPE_CHECKING = False

# Public name → the module that defines it.
_HOMES = {
    "Turn": "turn",
    "TurnLimits": "turn",
    "TurnRequest": "turn",
    "open_turn": "turn",
    "run_turn": "turn",
    "close_backends": "turn",
    "ToolCallback": "bridge.spec",
    "ToolReply": "bridge.spec",
    "ToolSpec": "bridge.spec",
    "HostConfig": "config",
    "load_config": "config",
    "ConsumeResult": "consume",
    "consume_blocks": "consume",
    "CanonicalEvent": "events",
    "Context": "events",
    "ERROR_CODES": "events",
    "ErrorCode": "events",
    "ErrorEvent": "events",
    "Item": "events",
    "ItemPhase": "events",
    "MessageEnd": "events",
    "Reasoning": "events",
    "StructuredOutput": "events",
    "TextDelta": "events",
    "ToolCall": "events",
    "ToolResult": "events",
    "Usage": "events",
    "WarningEvent": "events",
    "is_terminal": "events",
    "BridgeError": "errors",
    "ConfigError": "errors",
    "ConsumeError": "errors",
    "ControlError": "errors",
    "ProviderError": "errors",
    "RegistrationError": "errors",
    "RolloutChangedError": "errors",
    "RolloutError": "errors",
    "SessionStoreError": "errors",
    "SocketInUseError": "errors",
    "UnsafeSocketDirError": "errors",
    "TurnInputError": "errors",
    "SandboxWidened": "errors",
    "RpcError": "errors",
    "RemoteError": "errors",
    "ServerGone": "errors",
    "NoAnswer": "errors",
    "ReplyTooLong": "errors",
    "NoReply": "errors",
    "DemoFailed": "errors",
    "AppServerStartError": "errors",
}

__all__ = [
    "ERROR_CODES",
    "AppServerStartError",
    "BridgeError",
    "CanonicalEvent",
    "ConfigError",
    "ConsumeError",
    "ConsumeResult",
    "Context",
    "ControlError",
    "DemoFailed",
    "ErrorCode",
    "ErrorEvent",
    "HostConfig",
    "Item",
    "ItemPhase",
    "MessageEnd",
    "NoAnswer",
    "NoReply",
    "ProviderError",
    "Reasoning",
    "RegistrationError",
    "RemoteError",
    "ReplyTooLong",
    "RolloutChangedError",
    "RolloutError",
    "RpcError",
    "SandboxWidened",
    "ServerGone",
    "SessionStoreError",
    "SocketInUseError",
    "StructuredOutput",
    "TextDelta",
    "ToolCall",
    "ToolCallback",
    "ToolReply",
    "ToolResult",
    "ToolSpec",
    "Turn",
    "TurnInputError",
    "TurnLimits",
    "TurnRequest",
    "UnsafeSocketDirError",
    "Usage",
    "WarningEvent",
    "__version__",
    "close_backends",
    "consume_blocks",
    "is_terminal",
    "load_config",
    "open_turn",
    "run_turn",
]

if TYPE_CHECKING:
    from typing import Any

    from .bridge.spec import ToolCallback, ToolReply, ToolSpec
    from .config import HostConfig, load_config
    from .consume import ConsumeResult, consume_blocks
    from .errors import (
        AppServerStartError,
        BridgeError,
        ConfigError,
        ConsumeError,
        ControlError,
        DemoFailed,
        NoAnswer,
        NoReply,
        ProviderError,
        RegistrationError,
        RemoteError,
        ReplyTooLong,
        RolloutChangedError,
        RolloutError,
        RpcError,
        SandboxWidened,
        ServerGone,
        SessionStoreError,
        SocketInUseError,
        TurnInputError,
        UnsafeSocketDirError,
    )
    from .events import (
        ERROR_CODES,
        CanonicalEvent,
        Context,
        ErrorCode,
        ErrorEvent,
        Item,
        ItemPhase,
        MessageEnd,
        Reasoning,
        StructuredOutput,
        TextDelta,
        ToolCall,
        ToolResult,
        Usage,
        WarningEvent,
        is_terminal,
    )
    from .turn import Turn, TurnLimits, TurnRequest, close_backends, open_turn, run_turn


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{home}"), name)
    globals()[name] = value  # later lookups skip this function
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_HOMES})
