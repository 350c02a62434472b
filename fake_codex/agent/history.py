"""The model-visible history, rebuilt from the rollout's `response_item` lines like codex does.

Resume replays exactly these lines (codex-facts §3: an edited `function_call_output` is what
the next request sends), so a consumed/rewritten line is what the model sees. Invalid lines are
skipped. `history_text` concatenates what a scenario's `expect_history_contains` /
`expect_history_excludes` are checked against, one part per line:
user / assistant / developer message texts and image data URLs, function_call `arguments`,
custom_tool_call `input`, and the outputs of function_call_output / custom_tool_call_output (a
string, or the `text` of each input_text part). A `compacted` line replaces everything before
it by its `replacement_history` (which ends with the summary; `compacted_history`), as codex does.
`for_prompt` is codex's pairing repair before every request (a call without output gets an
"aborted" one, an output without its call is dropped).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

# call type -> (the output codex makes up for it when it has none, that output's id prefix)
_REPAIRED = {
    "function_call": ("function_call_output", "fco"),
    "local_shell_call": ("function_call_output", "fco"),
    "custom_tool_call": ("custom_tool_call_output", "ctco"),
}
_ANSWERS = {  # output type -> the call types whose call_id keeps it
    "function_call_output": ("function_call", "local_shell_call"),
    "custom_tool_call_output": ("custom_tool_call",),
}


def history_items(path: Path) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    with open(path, "rb") as fh:
        for raw in fh:
            try:
                line = json.loads(raw)
            except (json.JSONDecodeError, UnicodeDecodeError):
                continue
            if not isinstance(line, dict) or not isinstance(line.get("payload"), dict):
                continue
            payload = line["payload"]
            if line.get("type") == "response_item":
                items.append(payload)
            elif line.get("type") == "compacted":
                items = compacted_history(payload)
    return items


def compacted_history(payload: dict[str, Any]) -> list[dict[str, Any]]:
    """The history a `compacted` line leaves: its `replacement_history` (which ends with the
    summary message, as codex writes it), else just the summary `message` as a user message."""
    replacement = payload.get("replacement_history")
    if isinstance(replacement, list) and replacement:
        return [i for i in replacement if isinstance(i, dict)]
    summary = payload.get("message")
    if isinstance(summary, str) and summary:
        content = [{"type": "input_text", "text": summary}]
        return [{"type": "message", "role": "user", "content": content}]
    return []


def for_prompt(items: list[dict[str, Any]], family: int) -> list[dict[str, Any]]:
    """The input codex sends for `items` (checked on the real 0.135.0, 0.150.1, 0.169.0 and
    0.171.0 by resuming a cut rollout): a function_call / custom_tool_call whose call_id has no
    output of its kind anywhere gets one right after it, text "aborted" (0.150+: with an `id`,
    `fco_`/`ctco_` + a UUID fixed per call); a function_call_output / custom_tool_call_output
    whose call_id no call of its kind has is dropped. By call_id, not by order: an output that
    comes BEFORE its call is kept, and the API rejects that request (the real codex sends it)."""
    calls: dict[str, set[str]] = {}
    outputs: dict[str, set[str]] = {}
    for item in items:
        kind, call_id = item.get("type"), item.get("call_id")
        if isinstance(call_id, str) and kind in _REPAIRED:
            calls.setdefault(call_id, set()).add(str(kind))
        elif isinstance(call_id, str) and kind in _ANSWERS:
            outputs.setdefault(call_id, set()).add(str(kind))
    sent: list[dict[str, Any]] = []
    for item in items:
        kind, call_id = item.get("type"), item.get("call_id")
        orphan = kind in _ANSWERS and not calls.get(str(call_id), set()) & set(_ANSWERS[str(kind)])
        if orphan and isinstance(call_id, str):
            continue  # an output no call of its kind answers: codex leaves it out
        sent.append(item)
        if kind in _REPAIRED and isinstance(call_id, str):
            output, prefix = _REPAIRED[str(kind)]
            if output not in outputs.get(call_id, set()):
                sent.append(_aborted(output, prefix, call_id, family))
    return sent


def _aborted(output: str, prefix: str, call_id: str, family: int) -> dict[str, Any]:
    if family < 150:
        return {"type": output, "call_id": call_id, "output": "aborted"}
    # codex's id is a UUIDv5 fixed per call (its name space is not reproduced; ids are masked)
    import uuid  # here: rare (an unanswered call), and uuid pulls in hashlib at start-up

    fixed = uuid.uuid5(uuid.NAMESPACE_OID, f"{prefix}:{call_id}")
    return {"type": output, "id": f"{prefix}_{fixed}", "call_id": call_id, "output": "aborted"}


def _output_text(output: Any) -> list[str]:
    if isinstance(output, str):
        return [output]
    if isinstance(output, list):
        return [
            str(part.get("text", ""))
            for part in output
            if isinstance(part, dict) and "text" in part
        ]
    return []


def item_texts(item: dict[str, Any]) -> list[str]:
    kind = item.get("type")
    if kind == "message":
        content = item.get("content")
        if isinstance(content, str):
            return [content]
        # an image part counts by its data URL (the Responses server checks every string)
        return [
            str(part.get("text", part.get("image_url", "")))
            for part in content or []
            if isinstance(part, dict) and ("text" in part or "image_url" in part)
        ]
    if kind == "function_call":
        return [str(item.get("arguments", ""))]
    if kind == "custom_tool_call":
        return [str(item.get("input", ""))]
    if kind in ("function_call_output", "custom_tool_call_output"):
        return _output_text(item.get("output"))
    return []


def history_text(items: list[dict[str, Any]], prompt: str | None = None) -> str:
    """What the model would see, as text; `prompt` is this turn's new user message."""
    parts = [text for item in items for text in item_texts(item)]
    if prompt is not None:
        parts.append(prompt)
    return "\n".join(parts)


def shown(text: str, limit: int = 300) -> str:
    """`text` quoted for a message, its middle cut when long (a prompt can be 200 KiB)."""
    if len(text) <= limit:
        return repr(text)
    half = limit // 2
    return f"{text[:half]!r} ... {text[-half:]!r} ({len(text)} characters)"


def check_history(text: str, contains: tuple[str, ...], excludes: tuple[str, ...]) -> str | None:
    """None when the expectations hold, else what was expected and what the history holds (for
    the exit-70 message)."""
    for wanted in contains:
        if wanted not in text:
            return f"expect_history_contains: the history lacks {wanted!r}; it holds {shown(text)}"
    for unwanted in excludes:
        if unwanted in text:
            at = text.index(unwanted)
            near = text[max(0, at - 100) : at + len(unwanted) + 100]
            return (
                f"expect_history_excludes: the history contains {unwanted!r}, here: {shown(near)}"
            )
    return None
