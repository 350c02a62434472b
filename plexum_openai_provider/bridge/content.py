"""MCP content blocks a host tool returns, checked and trimmed as the official SDK's models do.

`invalid_content(blocks)` names the first problem (None when all are valid); `normalise_content`
keeps each block's known keys only, as the SDK drops unknown fields when it re-serialises.
Stdlib only: this runs in the warm server of every turn with tools.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

_STR, _OPT_STR, _OPT_INT, _OBJ, _ANNOTATIONS, _ICONS, _RESOURCE = range(7)

# type -> {key: (kind, required)}, after mcp_types 2.3.0 (TextContent, ImageContent, AudioContent,
# ResourceLink, EmbeddedResource).
_COMMON = {"type": (_STR, True), "annotations": (_ANNOTATIONS, False), "_meta": (_OBJ, False)}
_SHAPES: dict[str, dict[str, tuple[int, bool]]] = {
    "text": {**_COMMON, "text": (_STR, True)},
    "image": {**_COMMON, "data": (_STR, True), "mimeType": (_STR, True)},
    "audio": {**_COMMON, "data": (_STR, True), "mimeType": (_STR, True)},
    "resource_link": {
        **_COMMON,
        "uri": (_STR, True),
        "name": (_STR, True),
        "title": (_OPT_STR, False),
        "description": (_OPT_STR, False),
        "mimeType": (_OPT_STR, False),
        "size": (_OPT_INT, False),
        "icons": (_ICONS, False),
    },
    "resource": {**_COMMON, "resource": (_RESOURCE, True)},
}


def _annotations_problem(value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, Mapping):
        return "annotations must be an object"
    audience = value.get("audience")
    if audience is not None and (
        not isinstance(audience, list) or any(a not in ("user", "assistant") for a in audience)
    ):
        return "annotations.audience must be a list of 'user'/'assistant'"
    priority = value.get("priority")
    number = isinstance(priority, int | float) and not isinstance(priority, bool)
    if priority is not None and (not number or not 0 <= priority <= 1):
        return "annotations.priority must be a number from 0 to 1"
    modified = value.get("lastModified")
    if modified is not None and not isinstance(modified, str):
        return "annotations.lastModified must be a string"
    return None


def _resource_problem(value: Any) -> str | None:
    if not isinstance(value, Mapping) or not isinstance(value.get("uri"), str):
        return "resource must be an object with a string `uri`"
    if not isinstance(value.get("text"), str) and not isinstance(value.get("blob"), str):
        return "resource needs a string `text` or `blob`"
    if value.get("mimeType") is not None and not isinstance(value["mimeType"], str):
        return "resource.mimeType must be a string"
    return None


def _icons_problem(value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, list) or not all(
        isinstance(i, Mapping) and isinstance(i.get("src"), str) for i in value
    ):
        return "icons must be a list of objects with a string `src`"
    return None


def _value_problem(kind: int, key: str, value: Any) -> str | None:
    if kind == _STR:
        return None if isinstance(value, str) else f"`{key}` must be a string"
    if kind == _OPT_STR:
        return None if value is None or isinstance(value, str) else f"`{key}` must be a string"
    if kind == _OPT_INT:
        ok = value is None or (isinstance(value, int) and not isinstance(value, bool))
        return None if ok else f"`{key}` must be an integer"
    if kind == _OBJ:
        return None if value is None or isinstance(value, Mapping) else f"`{key}` must be an object"
    if kind == _ANNOTATIONS:
        return _annotations_problem(value)
    if kind == _ICONS:
        return _icons_problem(value)
    return _resource_problem(value)


def invalid_content(blocks: Iterable[Any]) -> str | None:
    """The first problem in `blocks` as text (`block 0: ...`), or None when all are valid."""
    for i, block in enumerate(blocks):
        if not isinstance(block, Mapping):
            return f"block {i}: not an object"
        shape = _SHAPES.get(block.get("type"))  # type: ignore[arg-type]
        if shape is None:
            known = ", ".join(_SHAPES)
            return f"block {i}: `type` must be one of {known} (got {block.get('type')!r})"
        for key, (kind, required) in shape.items():
            if key not in block:
                if required:
                    return f"block {i} ({block['type']}): `{key}` is required"
                continue
            problem = _value_problem(kind, key, block[key])
            if problem is not None:
                return f"block {i} ({block['type']}): {problem}"
    return None


def normalise_content(blocks: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Valid blocks with their known keys only (unknown keys and null optionals dropped)."""
    out: list[dict[str, Any]] = []
    for block in blocks:
        shape = _SHAPES[block["type"]]
        out.append({k: v for k, v in block.items() if k in shape and v is not None})
    return out
