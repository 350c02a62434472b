"""The reverse request `tools/call`: codex calls a Plexum tool, the daemon runs it.

`ToolCalls.call(...)` sends the request through the server's output and waits for the daemon's
answer for at most `tool_timeout_s`. Whatever goes wrong — a JSON-RPC error, no answer in time, an
answer that is not an MCP `CallToolResult` — becomes an MCP error result for codex, never an
exception: the turn goes on and the model reads what happened.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from .. import ToolReply
from ..jsonrpc.messages import RequestId, Response, lone_surrogate, request_message

log = logging.getLogger(__name__)

Send = Callable[[Mapping[str, Any]], Awaitable[None]]


def parse_call_tool_result(result: Any) -> ToolReply | str:
    """A `CallToolResult` as a ToolReply, or a sentence saying why it is not one."""
    if not isinstance(result, dict):
        return "the result is not an object"
    where = lone_surrogate(result)
    if where is not None:  # refused like a lone surrogate in a request: never passed to codex
        return f"`{where.lstrip('.') or 'result'}` holds a lone surrogate: not Unicode text"
    content = result.get("content")
    if not isinstance(content, list):
        return "`content` is not an array"
    for i, block in enumerate(content):
        if not isinstance(block, dict) or not isinstance(block.get("type"), str):
            return f"`content[{i}]` is not an MCP content block (an object with a `type`)"
    is_error = result.get("isError", False)
    if not isinstance(is_error, bool):
        return "`isError` is not a boolean"
    structured = result.get("structuredContent")
    if structured is not None and not isinstance(structured, dict):
        return "`structuredContent` is not an object"
    return ToolReply(content=tuple(content), structured_content=structured, is_error=is_error)


class ToolCalls:
    """Outstanding `tools/call` requests of one `serve` process, by request id."""

    def __init__(self, send: Send, *, timeout_s: float) -> None:
        self._send = send
        self._timeout_s = timeout_s
        self._ids = itertools.count(1)
        self._pending: dict[RequestId, asyncio.Future[Response]] = {}

    def resolve(self, response: Response) -> bool:
        """Hand the daemon's answer to its waiting call; False when no call waits for this id."""
        future = self._pending.pop(response.id, None)
        if future is None or future.done():
            return False
        future.set_result(response)
        return True

    async def call(
        self, turn_id: str, agent_id: str, name: str, arguments: dict[str, Any]
    ) -> ToolReply:
        request_id = f"plugin-{next(self._ids)}"
        future: asyncio.Future[Response] = asyncio.get_running_loop().create_future()
        self._pending[request_id] = future
        params = {"turn_id": turn_id, "agent_id": agent_id, "name": name, "arguments": arguments}
        try:
            await self._send(request_message(request_id, "tools/call", params))
            async with asyncio.timeout(self._timeout_s):
                response = await future
        except TimeoutError:
            return ToolReply.text(
                f"the Plexum daemon did not answer tools/call for {name!r} within "
                f"tool_timeout_s={self._timeout_s:g}s",
                is_error=True,
            )
        finally:
            self._pending.pop(request_id, None)
        if response.is_error:
            error = response.error if isinstance(response.error, dict) else {}
            message = error.get("message", "no message")
            if not isinstance(message, str) or lone_surrogate(message) is not None:
                message = "(the error's message is not Unicode text)"
            return ToolReply.text(
                f"the Plexum daemon failed tools/call for {name!r}: {message} "
                f"(JSON-RPC error {error.get('code')})",
                is_error=True,
            )
        reply = parse_call_tool_result(response.result)
        if isinstance(reply, str):
            log.warning("daemon answered tools/call %s with an invalid result: %s", name, reply)
            return ToolReply.text(
                f"the Plexum daemon answered tools/call for {name!r} with an invalid "
                f"CallToolResult: {reply}",
                is_error=True,
            )
        return reply

    async def ask(
        self, method: str, params: Mapping[str, Any], timeout_s: float
    ) -> Response | None:
        """Another reverse request (`approval/request`): the daemon's response, or None when it
        gave none within `timeout_s` (or went away)."""
        request_id = f"plugin-{next(self._ids)}"
        future: asyncio.Future[Response] = asyncio.get_running_loop().create_future()
        self._pending[request_id] = future
        try:
            await self._send(request_message(request_id, method, params))
            async with asyncio.timeout(timeout_s):
                return await future
        except TimeoutError:
            return None
        finally:
            self._pending.pop(request_id, None)

    def cancel_all(self) -> None:
        """Fail every waiting call (the daemon is gone): each becomes an MCP error result."""
        for future in self._pending.values():
            if not future.done():
                future.set_result(
                    Response(
                        "", error={"code": None, "message": "the daemon went away"}, is_error=True
                    )
                )
