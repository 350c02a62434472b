"""codex's own app-server JSON Schema: generated from a real binary (`app-server
generate-json-schema --out DIR [--experimental]`), and every message an app-server sends checked
against it — a reply by the method it answers (`<Params>` → `<Response>` of `ClientRequest.json`),
a notification by its method (`ServerNotification.json`), a request of the server's (an approval)
by `ServerRequest.json`, an error by `JSONRPCError.json`.
`problems()` returns why a message breaks the schema (empty: valid). Needs `jsonschema`.
"""

from __future__ import annotations

import json
import subprocess
import tempfile
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import jsonschema  # type: ignore[import-untyped]

from fake_codex.testing.real_env import codex_env

GENERATE_TIMEOUT_S = 120.0
FLAVOURS = ("stable", "experimental")


class SchemaGenerationError(RuntimeError):
    """The binary could not write its schema (it exited non-zero or timed out)."""


def generate(codex: Path, out: Path, *, experimental: bool) -> Path:
    """Write the schema `codex` generates into `out` (a throwaway CODEX_HOME beside it)."""
    argv = [str(codex), "app-server", "generate-json-schema", "--out", str(out)]
    if experimental:
        argv.append("--experimental")
    with tempfile.TemporaryDirectory(prefix="schema-home-") as home:
        try:
            done = subprocess.run(
                argv,
                env=codex_env(Path(home)),
                capture_output=True,
                timeout=GENERATE_TIMEOUT_S,
                check=False,
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise SchemaGenerationError(f"{codex}: {exc}") from None
    if done.returncode != 0 or not (out / "ClientRequest.json").is_file():
        tail = done.stderr.decode(errors="replace")[-500:]
        raise SchemaGenerationError(f"{' '.join(argv)}: exit {done.returncode}: {tail}")
    return out


def _load(path: Path) -> dict[str, Any]:
    value = json.loads(path.read_text())
    assert isinstance(value, dict), path
    return value


def methods_of(union: dict[str, Any]) -> dict[str, str]:
    """method → the definition its `params` names, for a `oneOf` union file."""
    found: dict[str, str] = {}
    for variant in union.get("oneOf", []):
        props = variant.get("properties", {})
        ref = props.get("params", {}).get("$ref", "")
        for method in props.get("method", {}).get("enum", []):
            found[method] = ref.rsplit("/", 1)[-1]
    return found


@dataclass
class Schema:
    """One generated schema folder (one version, one flavour)."""

    root: Path
    _validators: dict[str, Any] = field(default_factory=dict, repr=False)

    @cached_property
    def files(self) -> dict[str, Path]:
        return {p.stem: p for p in sorted(self.root.rglob("*.json"))}

    @cached_property
    def requests(self) -> dict[str, str]:
        return methods_of(_load(self.root / "ClientRequest.json"))

    @cached_property
    def notifications(self) -> dict[str, str]:
        return methods_of(_load(self.root / "ServerNotification.json"))

    @cached_property
    def _notification_defs(self) -> dict[str, Any]:
        defs = _load(self.root / "ServerNotification.json").get("definitions", {})
        assert isinstance(defs, dict)
        return defs

    def _validator(self, key: str, schema: dict[str, Any]) -> Any:
        if key not in self._validators:
            cls = jsonschema.validators.validator_for(schema)
            self._validators[key] = cls(schema)
        return self._validators[key]

    def _file_validator(self, name: str) -> Any:
        return self._validator(name, _load(self.files[name]))

    def response_name(self, method: str) -> str | None:
        params = self.requests.get(method)
        if params is None or not params.endswith("Params"):
            return None
        return params[: -len("Params")] + "Response"

    def problems(self, message: dict[str, Any], answered: str | None = None) -> list[str]:
        """Why `message` (as sent by an app-server) breaks this schema; `answered` is the method
        of the request a reply answers."""
        where = json.dumps(message)[:240]
        if "method" in message and "id" in message:  # a request of the server's (an approval)
            if "ServerRequest" not in self.files:
                return [f"{where}: this schema has no server requests"]
            errors = self._file_validator("ServerRequest").iter_errors(message)
        elif "method" in message:
            method = message["method"]
            ref = self.notifications.get(method)
            if ref is None:
                return [f"{where}: notification {method!r} is not in this schema"]
            key = f"note:{ref}"
            schema: dict[str, Any] = {
                "$schema": "http://json-schema.org/draft-07/schema#",
                "allOf": [{"$ref": f"#/definitions/{ref}"}],
                "definitions": self._notification_defs,
            }
            errors = self._validator(key, schema).iter_errors(message.get("params"))
        elif "error" in message:
            errors = self._file_validator("JSONRPCError").iter_errors(message)
        else:
            if answered is None:
                return [f"{where}: a reply to an unknown request"]
            name = self.response_name(answered)
            if name is None or name not in self.files:
                return [f"{where}: {answered!r} has no response type in this schema"]
            errors = self._file_validator(name).iter_errors(message.get("result"))
        return [
            f"{where}: {'/'.join(map(str, e.absolute_path))}: {e.message[:300]}" for e in errors
        ]


def check_stream(
    schema: Schema, sent: list[dict[str, Any]], received: list[dict[str, Any]]
) -> list[str]:
    """Every received message checked; replies matched to the request `sent` with their id."""
    methods = {m.get("id"): m.get("method") for m in sent if "id" in m}
    out: list[str] = []
    for message in received:
        answered = None if "method" in message else methods.get(message.get("id"))
        out += schema.problems(message, answered)
    return out
