"""The reverse request's answer: a daemon's `tools/call` result becomes a ToolReply or an
explanation."""

from __future__ import annotations

from typing import Any

import pytest

from plexum_openai_provider import ToolReply
from plexum_openai_provider.door.tools_call import parse_call_tool_result


@pytest.mark.parametrize(
    ("result", "problem"),
    [
        ([], "not an object"),
        ({"content": "x"}, "`content` is not an array"),
        ({"content": [{"text": "no type"}]}, "`content[0]`"),
        ({"content": [], "isError": "yes"}, "`isError`"),
        ({"content": [], "structuredContent": []}, "`structuredContent`"),
    ],
)
def test_an_answer_that_is_not_a_call_tool_result_is_explained(result: Any, problem: str) -> None:
    reply = parse_call_tool_result(result)
    assert isinstance(reply, str) and problem in reply


def test_a_call_tool_result_becomes_a_tool_reply() -> None:
    reply = parse_call_tool_result(
        {
            "content": [{"type": "text", "text": "hi"}],
            "isError": True,
            "structuredContent": {"a": 1},
        }
    )
    assert reply == ToolReply(
        content=({"type": "text", "text": "hi"},), structured_content={"a": 1}, is_error=True
    )
