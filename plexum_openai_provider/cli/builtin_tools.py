"""The tools `say` offers codex, enough to show a call end to end with no daemon around.

`echo` returns its `text` argument unchanged.
"""

from __future__ import annotations

from typing import Any

from ..bridge.spec import ToolReply, ToolSpec

ECHO = ToolSpec(
    name="echo",
    description="Return the given text unchanged.",
    input_schema={
        "type": "object",
        "properties": {"text": {"type": "string", "description": "the text to return"}},
        "required": ["text"],
    },
)
BUILTIN_TOOLS = (ECHO,)


async def call_builtin(name: str, arguments: dict[str, Any]) -> ToolReply:
    if name == "echo":
        text = arguments.get("text")
        if not isinstance(text, str):
            return ToolReply.text("echo needs a string argument `text`", is_error=True)
        return ToolReply.text(text)
    return ToolReply.text(f"unknown tool {name!r}", is_error=True)
