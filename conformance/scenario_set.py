"""The conformance scenarios and the invocation script each one is played with.

A scenario is `conformance/scenarios/<name>.json` (docs/scenarios.md). The fake codex rejects
unknown top-level keys, so HOW it is invoked lives in an optional sidecar
`conformance/scenarios/invocations/<name>.json`: `{"invocations": [Invocation, ...], "versions":
[lowest, highest] | [lowest], "mcp_servers": {NAME: McpServer}, "extra_args": [...],
"compare_request": bool}` (all optional: versions is the inclusive range the scenario applies
to, `[lowest]` meaning that version and later; `mcp_servers` registers the conformance echo
server under NAME for every invocation of both backends; `extra_args` go on every codex argv;
`compare_request` adds the `request` column). Without one, every turn is one provider invocation
in session `a`, on every version.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SCENARIO_DIR = Path(__file__).resolve().parent / "scenarios"
IMAGE_DIR = Path(__file__).resolve().parent / "images"  # copied into every run's workspace
_INVOCATION_KEYS = frozenset(
    {
        "session",
        "prompt",
        "prompt_repeat",
        "model",
        "direct",
        "stream_max_retries",
        "consume",
        "delete_rollout",
        "cut_after_call",
        "drop_call",
        "images",
        "output_schema",
        "reasoning_effort",
        "codex_options",
        "codex_args",
    }
)
_SIDECAR_KEYS = frozenset(
    {"invocations", "versions", "mcp_servers", "extra_args", "compare_request"}
)
_MCP_KEYS = frozenset({"required", "startup_delay_s", "startup_timeout_sec", "tool_timeout_sec"})
MCP_ECHO_SERVER = Path(__file__).resolve().parent / "mcp_echo_server.py"


@dataclass(frozen=True)
class McpServer:
    """The conformance echo server (`mcp_echo_server.py`) registered under `name`."""

    name: str
    required: bool = False
    startup_delay_s: float = 0.0
    startup_timeout_sec: float | None = None
    tool_timeout_sec: float | None = None

    def config_args(self, python: str, log: Path) -> list[str]:
        """`-c mcp_servers.NAME={...}`: the same registration for the real and the fake codex."""
        args = ["-I", str(MCP_ECHO_SERVER), "--log", str(log)]
        if self.startup_delay_s:
            args += ["--startup-delay", f"{self.startup_delay_s:g}"]
        fields = [
            f"command={json.dumps(python)}",
            "args=[" + ",".join(json.dumps(a) for a in args) + "]",
            f"required={'true' if self.required else 'false'}",
        ]
        if self.startup_timeout_sec is not None:
            fields.append(f"startup_timeout_sec={self.startup_timeout_sec:g}")
        if self.tool_timeout_sec is not None:
            fields.append(f"tool_timeout_sec={self.tool_timeout_sec:g}")
        key = (
            self.name
            if self.name.replace("_", "").replace("-", "").isalnum()
            else (json.dumps(self.name))
        )
        return ["-c", f"mcp_servers.{key}={{{','.join(fields)}}}"]


@dataclass(frozen=True)
class Invocation:
    """One `codex exec [resume]`: through the provider's runner unless `direct`.

    `session` names a provider session (same name = resume its thread). `direct` runs the argv
    ourselves, for what the provider never does (a model switch on resume). Before the
    invocation, `consume` blanks those call ids in the session's rollout with the provider's
    `consume_blocks`, `delete_rollout` deletes the session thread's rollout file,
    `cut_after_call` cuts it right after that call's line (a crash mid-tool: no output) and
    `drop_call` removes that call's line (its output stays). `images` (file names in the
    workspace, where `images/` is copied), `output_schema`, `reasoning_effort` and
    `codex_options` are the turn's inputs: `TurnRequest` fields, or for a
    direct run the argv the provider would build from them; `codex_args` (direct only) are raw
    codex options put where the provider puts a turn's files (after `resume`; never `-c`).
    """

    session: str = "a"
    prompt: str | None = None
    prompt_repeat: tuple[str, int] | None = None
    model: str | None = None
    direct: bool = False
    stream_max_retries: int = 0
    consume: tuple[str, ...] = ()
    delete_rollout: bool = False
    cut_after_call: str | None = None
    drop_call: str | None = None
    images: tuple[str, ...] = ()
    output_schema: Any = None
    reasoning_effort: str | None = None
    codex_options: tuple[tuple[str, str], ...] = ()
    codex_args: tuple[str, ...] = ()

    def prompt_text(self, turn: dict[str, Any], number: int) -> str:
        if self.prompt_repeat is not None:
            text, count = self.prompt_repeat
            return text * count
        if self.prompt is not None:
            return self.prompt
        expected = turn.get("expect_prompt")
        return expected if isinstance(expected, str) else f"prompt of turn {number}"


@dataclass(frozen=True)
class ConformanceScenario:
    name: str
    path: Path
    document: dict[str, Any]
    invocations: tuple[Invocation, ...]
    versions: tuple[str, str | None] | None = None  # inclusive; None = every version, no high = on
    mcp_servers: tuple[McpServer, ...] = ()
    extra_args: tuple[str, ...] = ()
    compare_request: bool = False

    def applies_to(self, version: str) -> bool:
        if self.versions is None:
            return True
        low, high = self.versions
        return _key(low) <= _key(version) and (high is None or _key(version) <= _key(high))

    @property
    def turns(self) -> list[dict[str, Any]]:
        turns = self.document.get("turns", [])
        return turns if isinstance(turns, list) else []

    def turn(self, index: int) -> dict[str, Any]:
        """The turn an invocation plays (each of ours reaches the model, so one each)."""
        return self.turns[index] if index < len(self.turns) else {}

    def with_version(self, version: str) -> dict[str, Any]:
        """The document the fake plays to emulate `version`."""
        return {**self.document, "codex_version": version}


def _key(version: str) -> tuple[int, ...]:
    return tuple(int(p) for p in version.split(".")[:3])


def _invocation(raw: Any, where: str) -> Invocation:
    if not isinstance(raw, dict) or set(raw) - _INVOCATION_KEYS:
        raise ValueError(
            f"{where}: an invocation is an object with keys {sorted(_INVOCATION_KEYS)}"
        )
    codex_args = tuple(str(a) for a in raw.get("codex_args", ()))
    if {"-c", "--config"} & set(codex_args) or any(a.startswith("--config=") for a in codex_args):
        # after `resume`, one `-c` makes codex 0.135/0.150 drop the provider's own `-c` (and
        # then talk to the real default provider): `-c` belongs in the sidecar's extra_args
        raise ValueError(f"{where}: codex_args must not hold -c; use extra_args")
    repeat = raw.get("prompt_repeat")
    if repeat is not None:
        if not (isinstance(repeat, list) and len(repeat) == 2 and isinstance(repeat[1], int)):
            raise ValueError(f"{where}: prompt_repeat is [text, count]")
        repeat = (str(repeat[0]), repeat[1])
    return Invocation(
        session=str(raw.get("session", "a")),
        prompt=raw.get("prompt"),
        prompt_repeat=repeat,
        model=raw.get("model"),
        direct=bool(raw.get("direct", False)),
        stream_max_retries=int(raw.get("stream_max_retries", 0)),
        consume=tuple(str(c) for c in raw.get("consume", ())),
        delete_rollout=bool(raw.get("delete_rollout", False)),
        cut_after_call=_optional_str(raw.get("cut_after_call")),
        drop_call=_optional_str(raw.get("drop_call")),
        images=tuple(str(i) for i in raw.get("images", ())),
        output_schema=raw.get("output_schema"),
        reasoning_effort=raw.get("reasoning_effort"),
        codex_options=tuple((str(k), str(v)) for k, v in raw.get("codex_options", {}).items()),
        codex_args=codex_args,
    )


def _optional_str(value: Any) -> str | None:
    return None if value is None else str(value)


def _mcp_server(name: str, raw: Any, where: str) -> McpServer:
    if not isinstance(raw, dict) or set(raw) - _MCP_KEYS:
        raise ValueError(f"{where}: an MCP server is an object with keys {sorted(_MCP_KEYS)}")
    timeout, tool_timeout = raw.get("startup_timeout_sec"), raw.get("tool_timeout_sec")
    return McpServer(
        name=name,
        required=bool(raw.get("required", False)),
        startup_delay_s=float(raw.get("startup_delay_s", 0.0)),
        startup_timeout_sec=None if timeout is None else float(timeout),
        tool_timeout_sec=None if tool_timeout is None else float(tool_timeout),
    )


def load(path: Path) -> ConformanceScenario:
    document = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(document, dict):
        raise ValueError(f"{path}: a scenario is a JSON object")
    sidecar = path.parent / "invocations" / path.name
    invocations = tuple(Invocation() for _ in document.get("turns", []))
    versions: tuple[str, str | None] | None = None
    servers: tuple[McpServer, ...] = ()
    extra: tuple[str, ...] = ()
    compare_request = False
    if sidecar.exists():
        script = json.loads(sidecar.read_text(encoding="utf-8"))
        if not isinstance(script, dict) or set(script) - _SIDECAR_KEYS:
            raise ValueError(f"{sidecar}: a sidecar is an object with keys {sorted(_SIDECAR_KEYS)}")
        if "invocations" in script:
            raw = script["invocations"]
            invocations = tuple(_invocation(r, f"{sidecar}[{i}]") for i, r in enumerate(raw))
        if "versions" in script:
            bounds = script["versions"]
            if not (isinstance(bounds, list) and len(bounds) in (1, 2)):
                raise ValueError(f"{sidecar}: versions is [lowest] or [lowest, highest]")
            versions = (str(bounds[0]), str(bounds[1]) if len(bounds) == 2 else None)
        servers = tuple(
            _mcp_server(str(n), r, f"{sidecar}: mcp_servers.{n}")
            for n, r in script.get("mcp_servers", {}).items()
        )
        extra = tuple(str(a) for a in script.get("extra_args", ()))
        compare_request = bool(script.get("compare_request", False))
    return ConformanceScenario(
        path.stem, path, document, invocations, versions, servers, extra, compare_request
    )


def load_all(
    directory: Path = SCENARIO_DIR, names: list[str] | None = None
) -> list[ConformanceScenario]:
    """Every scenario of `directory` (or only `names`), sorted by name."""
    paths = sorted(directory.glob("*.json"))
    if names:
        known = {p.stem for p in paths}
        missing = sorted(set(names) - known)
        if missing:
            raise ValueError(f"unknown scenario(s): {', '.join(missing)}")
        paths = [p for p in paths if p.stem in names]
    return [load(p) for p in paths]
