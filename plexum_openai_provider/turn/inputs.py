"""A turn's inputs beyond its text — images, an output JSON Schema, a reasoning effort and a few
allow-listed `-c` options — checked before codex starts and turned into codex argv.

Why the checks are ours: codex 0.135–0.171 run the turn anyway when an image is missing or not an
image (the model gets a note instead), send any JSON as the schema, and from 0.150 send any effort
string to the model (measured, see conformance/NOTES.md (f)). Every image is copied, after its
magic bytes are checked, into the turn's private temp folder, so codex reads exactly the bytes we
checked (the workspace is hostile: a checked file could be swapped before codex opens it) and no
path with a comma (codex splits `--image` values at commas) reaches argv.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import re
import stat
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from ..errors import TurnInputError
from ..events import CanonicalEvent, ErrorEvent, MessageEnd, StructuredOutput

_Final = TypeVar("_Final")  # the attempt's last value: an event, or the lost-thread signal

REASONING_EFFORTS = ("none", "minimal", "low", "medium", "high", "xhigh")
# Per-turn `-c` overrides a host may set: key -> the values every supported codex accepts.
# (`web_search="indexed"` exists from 0.150 only; `sandbox_mode` and the like are never here:
# the sandbox is the agent's (config), narrowed by the turn's own `sandbox` field, see sandbox.py.)
CODEX_OPTIONS: Mapping[str, tuple[str, ...]] = {
    "web_search": ("disabled", "cached", "live"),
    "model_reasoning_summary": ("auto", "concise", "detailed", "none"),
    "model_verbosity": ("low", "medium", "high"),
}
MAX_IMAGE_BYTES = 20 * 1024 * 1024
MAX_SCHEMA_BYTES = 1024 * 1024
_IMAGE_KINDS = (
    (b"\x89PNG\r\n\x1a\n", "png"),
    (b"\xff\xd8\xff", "jpg"),
    (b"GIF87a", "gif"),
    (b"GIF89a", "gif"),
)
_SAFE_NAME = re.compile(r"[^A-Za-z0-9._-]+")
_JSON_TYPES = frozenset({"object", "array", "string", "number", "integer", "boolean", "null"})
_SCHEMA_MAPS = ("properties", "$defs", "definitions", "patternProperties")
_SCHEMA_LISTS = ("anyOf", "allOf", "oneOf", "prefixItems")
_SCHEMA_ONE = ("items", "not", "additionalProperties", "contains", "if", "then", "else")


@dataclass(frozen=True)
class TurnInputs:
    """The checked inputs, ready to be written to the turn's temp folder."""

    images: tuple[tuple[str, bytes], ...] = ()  # (file name, bytes)
    output_schema: dict[str, Any] | None = None
    reasoning_effort: str | None = None
    codex_options: tuple[tuple[str, str], ...] = ()

    @property
    def needs_files(self) -> bool:
        return bool(self.images) or self.output_schema is not None

    def config_args(self) -> list[str]:
        """The effort and option `-c`s. They go with the other `-c` BEFORE `resume`: codex
        0.135/0.150 drop every `-c` before `resume` as soon as one follows it (the provider's
        own settings included), while all of them before `resume` apply to a resumed thread."""
        args: list[str] = []
        if self.reasoning_effort is not None:
            args += ["-c", f'model_reasoning_effort="{self.reasoning_effort}"']
        for key, value in self.codex_options:
            args += ["-c", f'{key}="{value}"']
        return args

    def file_args(self, folder: Path | None) -> list[str]:
        """`--output-schema` and `--image` for `exec … resume <here> -- <id> -`: `--image` takes
        every following plain argument as another image (before `resume` it would take `resume`),
        so these go after it, images last, ended by `--`. Files are written by `write_files`."""
        args: list[str] = []
        if self.output_schema is not None:
            assert folder is not None
            args += ["--output-schema", str(folder / "output-schema.json")]
        for name, _data in self.images:
            assert folder is not None
            args += ["--image", str(folder / name)]
        return args

    def write_files(self, folder: Path) -> None:
        """Write the schema and image copies into `folder` (the turn's own 0700 temp folder)."""
        if self.output_schema is not None:
            _write_private(folder / "output-schema.json", json.dumps(self.output_schema).encode())
        for name, data in self.images:
            _write_private(folder / name, data)


@contextlib.contextmanager
def prepared(inputs: TurnInputs) -> Iterator[list[str] | None]:
    """The turn's file options (`file_args`), their files in a private 0700 temp folder that is
    removed on exit however the turn ends (completed, failed, cancelled, timed out, codex
    crashed). Yields None when the files cannot be written (no temp folder, disk full)."""
    if not inputs.needs_files:
        yield []
        return
    import tempfile  # only here: with shutil, bz2 and lzma it costs a cold plain turn ~3 ms

    try:
        holder = tempfile.TemporaryDirectory(prefix="plexum-openai-turn-")
    except OSError:
        yield None
        return
    with holder as name:
        folder = Path(name)
        try:
            inputs.write_files(folder)
        except OSError:
            yield None
            return
        yield inputs.file_args(folder)


def _write_private(path: Path, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)


def image_kind(data: bytes) -> str | None:
    """`png`, `jpg`, `gif` or `webp` from the magic bytes; None when it is no such image."""
    for magic, kind in _IMAGE_KINDS:
        if data.startswith(magic):
            return kind
    if len(data) >= 12 and data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "webp"
    return None


def _read_image(path: Path, key: str) -> bytes:
    try:
        # O_NONBLOCK: a FIFO planted in the workspace must not hang the turn before it starts
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    except OSError as exc:
        raise TurnInputError(f"cannot read {path}: {exc.strerror or exc}", key=key) from None
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise TurnInputError(f"{path} is not a regular file", key=key)
    with os.fdopen(fd, "rb") as fh:
        try:
            data = fh.read(MAX_IMAGE_BYTES + 1)
        except OSError as exc:
            raise TurnInputError(f"cannot read {path}: {exc.strerror or exc}", key=key) from None
    if len(data) > MAX_IMAGE_BYTES:
        raise TurnInputError(f"{path} is larger than {MAX_IMAGE_BYTES} bytes", key=key)
    return data


def _image(raw: object, index: int) -> tuple[str, bytes]:
    key = f"images[{index}]"
    if isinstance(raw, (bytes, bytearray, memoryview)):
        data, stem = bytes(raw), "image"
    elif isinstance(raw, (str, Path)):
        path = Path(raw).expanduser()
        data, stem = _read_image(path, key), path.stem
    else:
        raise TurnInputError(f"must be a file path or bytes, not {type(raw).__name__}", key=key)
    kind = image_kind(data)
    if kind is None:
        what = "the bytes" if isinstance(raw, (bytes, bytearray, memoryview)) else str(raw)
        raise TurnInputError(
            f"{what} is not a PNG, JPEG, GIF or WebP image (checked by its first bytes)", key=key
        )
    safe = _SAFE_NAME.sub("-", stem).strip("-.")[:40] or "image"
    return f"image-{index + 1}-{safe}.{kind}", data


def check_schema(schema: object, where: str = "output_schema") -> None:
    """A structural JSON Schema check: the keywords codex and the Responses API rely on have the
    right shape. Raises TurnInputError naming the place (`output_schema.properties.a.type`)."""
    if isinstance(schema, bool):
        return
    if not isinstance(schema, Mapping):
        raise TurnInputError("a schema must be a JSON object (or true/false)", key=where)
    kind = schema.get("type")
    kinds = kind if isinstance(kind, list) else [kind] if kind is not None else []
    for k in kinds:
        if not isinstance(k, str) or k not in _JSON_TYPES:
            raise TurnInputError(f"{k!r} is not a JSON Schema type", key=f"{where}.type")
    for name in _SCHEMA_MAPS:
        if name in schema:
            children = schema[name]
            if not isinstance(children, Mapping):
                raise TurnInputError("must be an object of schemas", key=f"{where}.{name}")
            for child, sub in children.items():
                check_schema(sub, f"{where}.{name}.{child}")
    for name in _SCHEMA_LISTS:
        if name in schema:
            subs = schema[name]
            if not isinstance(subs, list) or not subs:
                raise TurnInputError("must be a non-empty list of schemas", key=f"{where}.{name}")
            for i, sub in enumerate(subs):
                check_schema(sub, f"{where}.{name}[{i}]")
    for name in _SCHEMA_ONE:
        if name in schema:
            check_schema(schema[name], f"{where}.{name}")
    required = schema.get("required")
    if required is not None and (
        not isinstance(required, list) or not all(isinstance(r, str) for r in required)
    ):
        raise TurnInputError("must be a list of property names", key=f"{where}.required")
    enum = schema.get("enum")
    if enum is not None and not isinstance(enum, list):
        raise TurnInputError("must be a list", key=f"{where}.enum")


def _schema(raw: object) -> dict[str, Any]:
    if not isinstance(raw, Mapping):
        raise TurnInputError(
            'must be a JSON Schema object (e.g. {"type": "object", ...})', key="output_schema"
        )
    try:
        text = json.dumps(raw, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise TurnInputError(f"is not JSON-serialisable: {exc}", key="output_schema") from None
    if len(text.encode()) > MAX_SCHEMA_BYTES:
        raise TurnInputError(f"is larger than {MAX_SCHEMA_BYTES} bytes", key="output_schema")
    check_schema(raw)
    schema: dict[str, Any] = json.loads(text)
    return schema


def _choice(value: object, allowed: Sequence[str], key: str) -> str:
    if not isinstance(value, str) or value not in allowed:
        raise TurnInputError(f"{value!r} is not one of {', '.join(allowed)}", key=key)
    return value


def check_turn_inputs(
    images: Sequence[object] = (),
    output_schema: object = None,
    reasoning_effort: object = None,
    codex_options: Mapping[str, object] | None = None,
) -> TurnInputs:
    """Check everything (reading the images); raises TurnInputError for the first bad field."""
    if isinstance(images, (str, bytes, Path)):
        raise TurnInputError("must be a list of paths or bytes, not a single value", key="images")
    checked_images = tuple(_image(raw, i) for i, raw in enumerate(images))
    schema = None if output_schema is None else _schema(output_schema)
    effort = (
        None
        if reasoning_effort is None
        else _choice(reasoning_effort, REASONING_EFFORTS, "reasoning_effort")
    )
    options: list[tuple[str, str]] = []
    for key, value in sorted((codex_options or {}).items()):
        if key not in CODEX_OPTIONS:
            raise TurnInputError(
                f"unknown option {key!r}; allowed: {', '.join(CODEX_OPTIONS)}",
                key="codex_options",
            )
        options.append((key, _choice(value, CODEX_OPTIONS[key], f"codex_options.{key}")))
    return TurnInputs(checked_images, schema, effort, tuple(options))


def parse_structured(text: str | None) -> tuple[Any, str | None]:
    """(value, None) when the final message is JSON, else (None, why not)."""
    if text is None:
        return None, "the turn produced no final message"
    try:
        value = json.loads(text, parse_constant=_no_constant)
    except ValueError as exc:
        return None, f"the final message is not JSON ({exc}): {text[:200]!r}"
    if isinstance(value, float) and not math.isfinite(value):
        return None, "the final message is not finite JSON"
    return value, None


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def turn_end(
    final: _Final, output_schema: object | None, last_text: str | None
) -> list[_Final | CanonicalEvent]:
    """The turn's last events: with an output schema, a completed turn reports its final message
    parsed (`structured_output`) before `message_end`, or ends in an error when it is not JSON."""
    if not isinstance(final, MessageEnd) or output_schema is None:
        return [final]
    value, problem = parse_structured(last_text)
    if problem is not None:
        return [
            ErrorEvent(
                "structured_output",
                f"the turn had an output schema, but {problem}. The thread is kept; "
                "ask again (the model usually complies) or relax the schema.",
            )
        ]
    return [StructuredOutput(value), final]
