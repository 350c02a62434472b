"""Settle the order codex leaves undefined: the events of MCP calls it runs concurrently.

Codex starts the calls of one model reply (classic) or of one `Promise.all` (code mode) at once;
which starts, ends and is numbered first depends on scheduling. Only adjacent runs of such events
are settled; everything around them, and each call's own started-before-completed, stays ordered.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

# (item id, what identifies the call whatever its id) of an MCP call event, else None.
CallOf = Callable[[Any], "tuple[str, str] | None"]


def _id_order(item_id: str) -> tuple[int, str]:
    # `item_10` comes after `item_9`.
    digits = item_id.rpartition("_")[2]
    return (int(digits), item_id) if digits.isdigit() else (-1, item_id)


def _relabel(value: Any, ids: dict[str, str]) -> Any:
    if isinstance(value, str):
        return ids.get(value, value)
    if isinstance(value, list):
        return [_relabel(v, ids) for v in value]
    if isinstance(value, dict):
        return {k: _relabel(v, ids) for k, v in value.items()}
    return value


def _settle_run(run: list[Any], call_of: CallOf) -> list[Any]:
    keys: dict[str, str] = {}  # item id -> call key, in order of first appearance
    for event in run:
        item_id, key = call_of(event)  # type: ignore[misc]
        keys.setdefault(item_id, key)
    if len(keys) < 2:
        return run
    # Calls sorted by what they do get the run's ids in numeric order: a swap of two calls then
    # gives the same ids and the same events.
    by_key = sorted(keys, key=lambda i: keys[i])
    ids = dict(zip(by_key, sorted(keys, key=_id_order), strict=True))
    rank = {item_id: n for n, item_id in enumerate(by_key)}
    # A stable sort: each call's own events keep their order (started before completed).
    ordered = sorted(run, key=lambda e: rank[call_of(e)[0]])  # type: ignore[index]
    return [_relabel(e, ids) for e in ordered]


def settle(events: list[Any], call_of: CallOf) -> list[Any]:
    """`events` with every maximal run of adjacent MCP call events of two or more calls put in
    a canonical order (calls sorted by what they do, their item ids renumbered to match)."""
    out: list[Any] = []
    run: list[Any] = []
    for event in [*events, None]:
        if event is not None and call_of(event) is not None:
            run.append(event)
            continue
        out += _settle_run(run, call_of)
        run = []
        if event is not None:
            out.append(event)
    return out


def _call_key(item: dict[str, Any]) -> str:
    return json.dumps([item.get("server"), item.get("tool"), item.get("arguments")], sort_keys=True)


def exec_call(event: Any) -> tuple[str, str] | None:
    """An exec JSONL `item.started`/`item.updated`/`item.completed` of an `mcp_tool_call`."""
    if not isinstance(event, dict) or not str(event.get("type", "")).startswith("item."):
        return None
    item = event.get("item")
    if not isinstance(item, dict) or item.get("type") != "mcp_tool_call":
        return None
    return str(item.get("id")), _call_key(item)


def provider_call(event: Any) -> tuple[str, str] | None:
    """A provider `item` event of kind `mcp_tool_call`."""
    if not isinstance(event, dict) or event.get("type") != "item":
        return None
    if event.get("kind") != "mcp_tool_call" or not isinstance(event.get("detail"), dict):
        return None
    return str(event.get("item_id")), _call_key(event["detail"])


def settle_outputs(calls: list[Any]) -> list[Any]:
    """Rollout call lines: adjacent tool outputs (only the calls of one reply, run concurrently,
    end up adjacent: a sequential call has its own call line in between) sorted by call id."""
    out: list[Any] = []
    run: list[Any] = []
    for line in [*calls, None]:
        if isinstance(line, dict) and str(line.get("type", "")).endswith("_output"):
            run.append(line)
            continue
        out += sorted(run, key=lambda o: json.dumps(o.get("call_id")))
        run = []
        if line is not None:
            out.append(line)
    return out


_CALL_EVENT_MSGS = frozenset({"mcp_tool_call_begin", "mcp_tool_call_end"})


def settle_event_types(types: list[Any]) -> list[Any]:
    """Rollout event_msg types: a run of MCP begin/end notices of two or more calls is sorted
    (they interleave however the concurrent calls happen to finish)."""
    out: list[Any] = []
    run: list[Any] = []
    for kind in [*types, None]:
        if kind in _CALL_EVENT_MSGS:
            run.append(kind)
            continue
        out += sorted(run) if run.count("mcp_tool_call_begin") >= 2 else run
        run = []
        if kind is not None:
            out.append(kind)
    return out
