"""How an app-server conformance run's notification stream is compared: the notifications and
request results a comparison looks at (`normalise`), with ids, paths and times masked and
process-level notices skipped. Pure.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from conformance.app_server_cases import Json

REPLY = "<reply>"  # a request's result, kept in the stream where it arrived
# Process-level notifications (or ones the provider never reads whose fields are codex's own).
SKIPPED = frozenset(
    {
        "account/rateLimits/updated",
        "remoteControl/status/changed",
        "configWarning",
        "mcpServer/startupStatus/updated",
        "thread/started",
        "thread/archived",
        "thread/unarchived",
        "item/commandExecution/outputDelta",
        "item/reasoning/summaryTextDelta",
        "item/reasoning/summaryPartAdded",
        "item/mcpToolCall/progress",
        "thread/name/updated",
        "serverRequest/resolved",
        "deprecationNotice",  # on resume: a notice about codex's own options, not the turn's
        "thread/goal/cleared",  # on resume (0.169+): codex's goal feature, unused here
    }
)
ITEM_KEYS = (
    "type",
    "text",
    "summary",
    "content",
    "command",
    "status",
    "exitCode",
    "aggregatedOutput",
    "server",
    "tool",
    "arguments",
    "result",
    "error",
)


# --- normalisation ---------------------------------------------------------------------------

_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def normalise(notes: list[Json], root: Path) -> list[Json]:
    """The notifications a comparison looks at, volatile values masked."""
    out: list[Json] = []
    last_status: Any = None
    for note in notes:
        method = note.get("method")
        if not isinstance(method, str) or method in SKIPPED:
            continue
        params = note.get("params") if isinstance(note.get("params"), dict) else {}
        assert isinstance(params, dict)
        status = params.get("status")
        if method == "thread/status/changed" and status == {"type": "notLoaded"}:
            # The real process sends it asynchronously around archive: its place in the stream
            # varies from run to run (seen on 0.169.0 under load); the provider never reads it.
            continue
        if method == "thread/status/changed":
            kind = status.get("type") if isinstance(status, dict) else None
            if kind == last_status:
                # Only its flags changed (waitingOnApproval on, then off): the real process sends
                # the "off" racing the declined item (seen on 0.169.0 and 0.171.0); unread.
                continue
            last_status = kind
        view: Json = {"method": method}
        if method == REPLY:
            out.append(_mask(_reply_view(params), root))
            continue
        item = params.get("item")
        if isinstance(item, dict):
            view["item"] = {k: item[k] for k in ITEM_KEYS if k in item}
            if item.get("type") == "mcpToolCall":
                view["item"].pop("arguments", None)  # real: a JSON value; both are shown as sent
        if "delta" in params:
            view["delta"] = params["delta"]
        if method == "turn/completed":
            turn = params.get("turn") or {}
            error = turn.get("error")
            view["status"] = turn.get("status")
            view["error"] = error.get("message") if isinstance(error, dict) else None
        if method == "error":
            error = params.get("error") or {}
            view["error"] = error.get("message")
            view["willRetry"] = params.get("willRetry")
        if method == "thread/status/changed":
            view["status"] = (params.get("status") or {}).get("type")
        if method == "thread/tokenUsage/updated":
            usage = params.get("tokenUsage") or {}
            view["last"], view["total"] = usage.get("last"), usage.get("total")
        if method == "warning":
            view["message"] = params.get("message")
        if method.startswith("$request "):
            view["params"] = params
        out.append(_mask(view, root))
    return _reply_first(out)


# Sent by the real process while it answers `turn/start`, so they race its reply (the reply came
# after them once in a run on 0.169.0); the provider waits for whichever names the turn first.
_RACING_TURN_START = (
    {"method": "thread/status/changed", "status": "active"},
    {"method": "turn/started"},
)


def _reply_first(stream: list[Json]) -> list[Json]:
    """Each `turn/start` reply moved before the turn's start notifications it raced."""
    out: list[Json] = []
    for entry in stream:
        at = len(out)
        if entry.get("reply") == "turn/start":
            while at > 0 and out[at - 1] in _RACING_TURN_START:
                at -= 1
        out.insert(at, entry)
    return out


def _reply_view(params: Json) -> Json:
    """A result as compared: its keys, and the thread's keys, status, preview, fork origin and
    turns (status and item types); ids, times and paths are not compared."""
    result = params.get("result") or {}
    view: Json = {"reply": params.get("to"), "keys": sorted(result)}
    thread = result.get("thread")
    if isinstance(thread, dict):
        view["thread"] = {
            "keys": sorted(thread),
            "status": (thread.get("status") or {}).get("type"),
            "preview": thread.get("preview"),
            "forked": thread.get("forkedFromId") is not None,
            "turns": [
                [t.get("status"), t.get("itemsView"), [i.get("type") for i in t.get("items", [])]]
                for t in thread.get("turns") or []
            ],
        }
    turn = result.get("turn")
    if isinstance(turn, dict):
        view["turn"] = {"keys": sorted(turn), "status": turn.get("status")}
    return view


def _mask(value: Any, root: Path) -> Any:
    if isinstance(value, str):
        return _UUID.sub("<uuid>", value.replace(str(root), "<root>"))
    if isinstance(value, list):
        return [_mask(v, root) for v in value]
    if isinstance(value, dict):
        return {k: _mask(v, root) for k, v in value.items()}
    return value
