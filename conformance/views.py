"""Turn a `Capture` into the compared columns: exec, rollout, requests, provider, mcp, request.

Each column is plain JSON after normalisation, so comparing two backends is comparing two
strings. The rollout column keeps response_item payloads that carry a `call_id` (the tool calls
and their outputs), the sequence of event_msg types and the model of each turn_context. The mcp
column is what the conformance echo server received (`mcp_view`). The request column (scenarios
whose sidecar sets `compare_request`) is, per invocation, what its first model request carried of
a turn's inputs: the new user message's parts (images included), `text.format`, the effort.
"""

from __future__ import annotations

import json
from typing import Any

from conformance import concurrent
from conformance.backends import Capture
from conformance.normalise import Normaliser, canonical_arguments

# Rollout payload ids of model output items are invented by the model server (ours numbers them
# by output index, the fake by its own counter, OpenAI randomly): not a codex property.
_MODEL_ITEM_TYPES = frozenset({"function_call", "custom_tool_call"})


def _register_threads(capture: Capture, norm: Normaliser) -> None:
    for inv in capture.invocations:
        for event in inv.events:
            if isinstance(event, dict) and event.get("type") == "thread.started":
                norm.thread(str(event.get("thread_id")))
    for thread_id in capture.rollouts:
        norm.thread(thread_id)


def _call_payload(payload: dict[str, Any]) -> dict[str, Any]:
    out = dict(payload)
    if out.get("type") in _MODEL_ITEM_TYPES and "id" in out:
        out["id"] = "<model item id>"
    if "arguments" in out:
        out["arguments"] = canonical_arguments(out["arguments"])
    return out


def rollout_view(lines: list[Any]) -> dict[str, Any]:
    calls: list[Any] = []
    event_types: list[Any] = []
    models: list[Any] = []
    for line in lines:
        if not isinstance(line, dict) or not isinstance(line.get("payload"), dict):
            continue
        payload = line["payload"]
        if line.get("type") == "response_item" and "call_id" in payload:
            calls.append(_call_payload(payload))
        elif line.get("type") == "event_msg":
            event_types.append(payload.get("type"))
        elif line.get("type") == "turn_context":
            # The model codex chose: a new version's default model shows here first.
            models.append(payload.get("model"))
    return {
        "calls": concurrent.settle_outputs(calls),
        "event_msg": concurrent.settle_event_types(event_types),
        "models": models,
    }


def _provider_event(event: dict[str, Any]) -> dict[str, Any]:
    if event.get("type") == "tool_call" and event.get("kind") == "function_call":
        return {**event, "input": canonical_arguments(event.get("input"))}
    return event


def _mcp_message(message: Any) -> Any:
    if not isinstance(message, dict):
        return message
    raw_params = message.get("params")
    params: dict[str, Any] = raw_params if isinstance(raw_params, dict) else {}
    out: dict[str, Any] = {"method": message.get("method")}
    if "id" not in message:
        out["notification"] = True
    if message.get("method") == "initialize":
        out["params"] = params
    elif message.get("method") == "tools/call":
        raw_meta = params.get("_meta")
        meta: dict[str, Any] = raw_meta if isinstance(raw_meta, dict) else {}
        out.update(
            name=params.get("name"),
            arguments=params.get("arguments"),
            # _meta values are ids and turn metadata: compare which keys codex sends.
            meta_keys=sorted(meta),
        )
    return out


def mcp_view(messages: list[Any]) -> dict[str, Any]:
    """What the echo server received: the lifecycle messages in order, the calls sorted (parallel
    calls reach it in either order; each waits on its own thread)."""
    reduced = [_mcp_message(m) for m in messages]
    calls = [m for m in reduced if isinstance(m, dict) and m.get("method") == "tools/call"]
    return {
        "lifecycle": [m for m in reduced if m not in calls],
        "calls": sorted(calls, key=lambda m: json.dumps(m, sort_keys=True)),
    }


def _last_user_parts(body: dict[str, Any]) -> Any:
    for item in reversed(body.get("input") or []):
        if isinstance(item, dict) and item.get("type") == "message" and item.get("role") == "user":
            return item.get("content")
    return None


def request_view(capture: Capture) -> Any:
    """Per invocation: None (no model request), else its first request's turn inputs."""
    if not capture.compare_request:
        return None
    out: list[Any] = []
    for inv in capture.invocations:
        request = inv.request
        if request is None or capture.backend == "fake":
            out.append(request)  # the fake records exactly these three keys
            continue
        body = request if isinstance(request, dict) else {}
        text, reasoning = body.get("text") or {}, body.get("reasoning") or {}
        out.append(
            {
                "user": _last_user_parts(body),
                "text_format": text.get("format"),
                "reasoning_effort": reasoning.get("effort"),
            }
        )
    return out


def _exec(capture: Capture) -> list[dict[str, Any]]:
    """One entry per codex process (a provider invocation may start two, see `earlier`)."""
    out: list[dict[str, Any]] = []
    for inv in capture.invocations:
        runs = [*inv.earlier, (inv.returncode, inv.events)]
        for rc, events in runs:
            out.append({"rc": rc, "events": concurrent.settle(events, concurrent.exec_call)})
    return out


def views(capture: Capture) -> dict[str, Any]:
    """column name -> normalised JSON value."""
    norm = Normaliser(str(capture.run_dir))
    _register_threads(capture, norm)
    by_thread = sorted(capture.rollouts.items(), key=lambda kv: norm.threads[kv[0]])
    if capture.backend == "fake":
        turns = capture.turns_used
    else:
        turns = sum(1 for inv in capture.invocations if inv.model_requests)
    return {
        "exec": norm.value(_exec(capture)),
        "rollout": norm.value({norm.thread(t): rollout_view(lines) for t, lines in by_thread}),
        # The fake does not say which replies it consumed, only how many turns: compare that.
        "requests": {"turns_reaching_the_model": turns},
        "provider": norm.value(
            [
                concurrent.settle(
                    [_provider_event(e) for e in inv.canonical], concurrent.provider_call
                )
                for inv in capture.invocations
                if inv.canonical is not None
            ]
        ),
        "mcp": norm.value({name: mcp_view(log) for name, log in sorted(capture.mcp_logs.items())}),
        "request": norm.value(request_view(capture)),
    }
