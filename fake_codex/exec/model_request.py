"""What a turn's model request carries besides the history: the user message parts (images
included), `text.format` from `--output-schema` and `reasoning.effort`.

The fake sends no request; `request_record` is what it writes to the invocation log
(`model_request`), in the form the real codex sends (measured on 0.135.0–0.171.0): `text.format`
is `{"type": "json_schema", "strict": true, "schema": <the file's JSON>, "name":
"codex_output_schema"}`; the effort is the `-c model_reasoning_effort` value, else the default
model's (0.135 `medium`, 0.150+ `low`).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

SCHEMA_NAME = "codex_output_schema"


class SchemaFileError(Exception):
    """`--output-schema` names no readable JSON file: codex prints this and exits 1."""


def load_output_schema(path: str, cwd: Path) -> Any:
    """The schema file's JSON, whatever it is (codex sends any JSON value as is)."""
    try:
        raw = (cwd / path).read_bytes()
    except OSError as exc:
        detail = f"{exc.strerror} (os error {exc.errno})"
        raise SchemaFileError(f"Failed to read output schema file {path}: {detail}") from None
    try:
        return json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        # The prefix is codex's; the detail is Python's, not serde's (a known difference).
        raise SchemaFileError(f"Output schema file {path} is not valid JSON: {exc}") from None


def text_format(schema: Any) -> dict[str, Any]:
    return {"type": "json_schema", "strict": True, "schema": schema, "name": SCHEMA_NAME}


def reasoning_effort(config: dict[str, Any], family: int) -> str:
    value = config.get("model_reasoning_effort")
    if isinstance(value, str):
        return value
    return "medium" if family < 150 else "low"


def request_record(
    user: list[dict[str, Any]], schema: Any | None, has_schema: bool, effort: str
) -> dict[str, Any]:
    """The invocation log's `model_request`: the turn's first request, the parts that matter."""
    return {
        "user": user,
        "text_format": text_format(schema) if has_schema else None,
        "reasoning_effort": effort,
    }
