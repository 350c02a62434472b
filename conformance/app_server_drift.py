"""The app-server half of the drift check: the JSON Schema a new codex generates diffed against the
emulated (newest pinned) version's, stable and experimental, and the app-server conformance cases
played on the new version against the fake. Methods and notifications the provider uses come
first. `schema_diff` compares method sets and, per method, every definition its params and result
reach (properties, required fields, enum values); `render` writes the report's app-server part.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from conformance.app_server_schema import FLAVOURS, Schema, methods_of

# What the provider sends and reads (docs/app-server.md, "The method subset").
PROVIDER_REQUESTS = (
    "initialize",
    "thread/start",
    "thread/resume",
    "thread/archive",
    "thread/unarchive",
    "turn/start",
    "turn/interrupt",
)
PROVIDER_NOTIFICATIONS = (
    "turn/started",
    "turn/completed",
    "item/started",
    "item/completed",
    "item/agentMessage/delta",
    "thread/tokenUsage/updated",
    "error",
    "warning",
)
KINDS = (
    ("request", "ClientRequest.json"),
    ("notification", "ServerNotification.json"),
    ("server request", "ServerRequest.json"),
)
MAX_DETAILS = 12


@dataclass(frozen=True)
class MethodChange:
    kind: str  # request | notification | server request
    method: str
    change: str  # added | removed | changed
    via: tuple[str, ...] = ()  # changed: the definitions it reaches that changed

    @property
    def used(self) -> bool:
        if self.kind == "request":
            return self.method in PROVIDER_REQUESTS
        return self.kind == "notification" and self.method in PROVIDER_NOTIFICATIONS


@dataclass
class SchemaDiff:
    flavour: str
    changes: list[MethodChange] = field(default_factory=list)
    definitions: dict[str, list[str]] = field(default_factory=dict)  # name → what changed

    def note(self, details: dict[str, list[str]]) -> tuple[str, ...]:
        self.definitions.update(details)
        return tuple(sorted(details))


def _defs(root: Path, union: str) -> tuple[dict[str, str], dict[str, Any]]:
    document = json.loads((root / union).read_text())
    return methods_of(document), document.get("definitions", {})


def _reach(name: str, defs: dict[str, Any]) -> dict[str, Any]:
    """`name` and every definition it reaches through `$ref`."""
    seen: dict[str, Any] = {}
    todo = [name]
    while todo:
        current = todo.pop()
        if current in seen or current not in defs:
            continue
        seen[current] = defs[current]
        todo.extend(_refs(defs[current]))
    return seen


def _refs(value: Any) -> Iterable[str]:
    if isinstance(value, dict):
        ref = value.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/definitions/"):
            yield ref.rsplit("/", 1)[-1]
        for child in value.values():
            yield from _refs(child)
    elif isinstance(value, list):
        for child in value:
            yield from _refs(child)


def _shape(definition: Any) -> dict[str, set[str]]:
    """What a definition promises: its properties, required fields, enum values, variants."""
    out: dict[str, set[str]] = {"property": set(), "required": set(), "enum": set()}
    stack = [definition]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            out["property"].update(node.get("properties", {}) or {})
            out["required"].update(node.get("required", []) or [])
            out["enum"].update(str(v) for v in node.get("enum", []) or [])
            for key in ("oneOf", "anyOf", "allOf"):
                stack.extend(node.get(key, []) or [])
    return out


def _compare(old: dict[str, Any], new: dict[str, Any]) -> dict[str, list[str]]:
    """definition name → its changes, for the definitions that changed."""
    found: dict[str, list[str]] = {}
    for name in sorted(set(old) | set(new)):
        if name not in new:
            found[name] = ["removed"]
            continue
        if name not in old:
            found[name] = ["added"]
            continue
        a, b = _shape(old[name]), _shape(new[name])
        lines: list[str] = []
        for aspect in ("property", "required", "enum"):
            lines += [f"+ {aspect} {v}" for v in sorted(b[aspect] - a[aspect])]
            lines += [f"- {aspect} {v}" for v in sorted(a[aspect] - b[aspect])]
        if lines:
            found[name] = lines
    return found


def schema_diff(old: Schema, new: Schema, flavour: str) -> SchemaDiff:
    """What changed from `old` to `new` (one flavour), per method."""
    diff = SchemaDiff(flavour)
    for kind, union in KINDS:
        old_methods, old_defs = _defs(old.root, union)
        new_methods, new_defs = _defs(new.root, union)
        for method in sorted(set(old_methods) | set(new_methods)):
            if method not in new_methods:
                diff.changes.append(MethodChange(kind, method, "removed"))
            elif method not in old_methods:
                diff.changes.append(MethodChange(kind, method, "added"))
            else:
                details = _compare(
                    _reach(old_methods[method], old_defs), _reach(new_methods[method], new_defs)
                )
                if kind == "request":
                    details.update(_compare_responses(old, new, method))
                if details:
                    via = diff.note(details)
                    diff.changes.append(MethodChange(kind, method, "changed", via))
    return diff


def _compare_responses(old: Schema, new: Schema, method: str) -> dict[str, list[str]]:
    names = old.response_name(method), new.response_name(method)
    reach = []
    for schema, name in zip((old, new), names, strict=True):
        path = schema.files.get(name or "")
        document = json.loads(path.read_text()) if path is not None else {}
        reach.append(_reach_root(document, name or ""))
    return _compare(reach[0], reach[1])


def _reach_root(document: dict[str, Any], name: str) -> dict[str, Any]:
    defs = {**document.get("definitions", {}), name: document}
    return _reach(name, defs)


def render_schema(diffs: Sequence[SchemaDiff], old: str, new: str) -> list[str]:
    """The schema part: what the provider uses first, then everything else."""
    out = [f"\n## app-server schema: {old} → {new} (- {old}, + {new})"]
    used = [(d.flavour, c) for d in diffs for c in d.changes if c.used]
    out.append(f"\n### used by the provider: {len(used)} change(s)")
    out += _lines(used) or ["  none"]
    for diff in diffs:
        rest = [(diff.flavour, c) for c in diff.changes if not c.used]
        out.append(f"\n### {diff.flavour}: {len(rest)} other change(s)")
        out += _lines(rest) or ["  none"]
        out.append(f"\n### {diff.flavour}: {len(diff.definitions)} definition(s) changed")
        for name, details in sorted(diff.definitions.items()):
            out.append(f"- {name}: " + "; ".join(details[:MAX_DETAILS]))
            if len(details) > MAX_DETAILS:
                out[-1] += f"; ... {len(details) - MAX_DETAILS} more"
    return out


def _lines(changes: Sequence[tuple[str, MethodChange]]) -> list[str]:
    out: list[str] = []
    for flavour, change in changes:
        line = f"- [{flavour}] {change.kind} {change.method}: {change.change}"
        if change.via:
            line += f" (via {', '.join(change.via)})"
        out.append(line)
    return out


def schema_diffs(old: dict[str, Schema], new: dict[str, Schema]) -> list[SchemaDiff]:
    """Both flavours: `old`/`new` map flavour → schema."""
    return [schema_diff(old[f], new[f], f) for f in FLAVOURS]


def generated(version: str, root: Path) -> dict[str, Schema]:
    """Both flavours of `version`'s schema, generated from its installed binary into `root`."""
    from conformance.app_server_schema import generate
    from conformance.installs import binary

    codex = binary(version)
    return {
        f: Schema(generate(codex, root / f"{version}-{f}", experimental=f == "experimental"))
        for f in FLAVOURS
    }


def check(real: str, emulated: str, root: Path) -> tuple[list[str], bool]:
    """The app-server part of the drift report (schema diff, then the conformance cases on
    `real` against the fake emulating `emulated`) and whether anything changed."""
    import asyncio

    from conformance.app_server import compare, diff_text
    from conformance.app_server_cases import CASES

    diffs = schema_diffs(generated(emulated, root), generated(real, root))
    out = render_schema(diffs, emulated, real)
    results = [
        asyncio.run(compare(case, real, root / f"case-{case.name}", fake_as=emulated))
        for case in CASES
    ]
    equal = sum(r.equal for r in results)
    out.append(
        f"\n## app-server conformance: real codex {real} vs the fake emulating {emulated}: "
        f"{equal}/{len(results)} cases equal"
    )
    for result in results:
        out.append(f"- {result.case}: {'equal' if result.equal else 'DIVERGENT'}")
        if not result.equal:
            out += ["    " + line[:300] for line in diff_text(result).splitlines()[1:]]
    changed = any(d.changes for d in diffs) or equal != len(results)
    return out, changed
