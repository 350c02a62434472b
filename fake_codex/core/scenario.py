"""The typed scenario of docs/scenarios.md: frozen dataclasses parsed strictly from JSON.

`load_scenario(path)` raises `ScenarioError` naming the file and the JSON path of the first bad
value (`scenario.json: $.turns[0].requests[1].output[0].type: ...`). Unknown keys are errors too,
so a typo cannot silently turn into an empty reply.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

SCHEMA_VERSION = 1
DEFAULT_CODEX_VERSION = "0.169.0"


class ScenarioError(Exception):
    """A scenario file that cannot be used: names the file and the JSON path."""


class FakeLimitation(Exception):
    """The scenario asks for something this fake cannot do (exit 70, never codex behaviour)."""


@dataclass(frozen=True)
class Usage:
    input_tokens: int = 0
    cached_tokens: int = 0
    cache_write_tokens: int = 0
    output_tokens: int = 0
    reasoning_tokens: int = 0


@dataclass(frozen=True)
class MessageItem:
    text: str
    type: Literal["message"] = "message"
    # How a streaming model sends the text (app-server shows each; exec shows the whole text).
    deltas: tuple[str, ...] = ()


@dataclass(frozen=True)
class ReasoningItem:
    summary: tuple[str, ...]
    type: Literal["reasoning"] = "reasoning"


@dataclass(frozen=True)
class FunctionCallItem:
    name: str
    arguments: Mapping[str, Any]
    call_id: str
    namespace: str | None = None
    type: Literal["function_call"] = "function_call"

    @property
    def arguments_json(self) -> str:
        """The arguments as the Responses API sends them: a compact JSON string."""
        return json.dumps(self.arguments, separators=(",", ":"), ensure_ascii=False)


@dataclass(frozen=True)
class CustomToolCallItem:
    name: str
    input: str
    call_id: str
    namespace: str | None = None
    type: Literal["custom_tool_call"] = "custom_tool_call"


@dataclass(frozen=True)
class WebSearchCallItem:
    query: str
    id: str
    type: Literal["web_search_call"] = "web_search_call"


OutputItem = MessageItem | ReasoningItem | FunctionCallItem | CustomToolCallItem | WebSearchCallItem

EndKind = Literal["completed", "cut", "failed", "incomplete", "http_error"]


@dataclass(frozen=True)
class Reply:
    """The answer to one Responses request: success, or exactly one kind of failure."""

    output: tuple[OutputItem, ...] = ()
    usage: Usage | None = None
    delay_ms: int = 0
    end: EndKind = "completed"
    http_status: int | None = None
    body: str | Mapping[str, Any] | None = None
    error_code: str | None = None
    error_message: str | None = None
    incomplete_reason: str | None = None
    gate: str | None = None  # hold the model here until the test releases this name


@dataclass(frozen=True)
class Garbage:
    after_line: int
    data: bytes


@dataclass(frozen=True)
class BigLine:
    after_line: int
    mib: float


@dataclass(frozen=True)
class Faults:
    """Fake-only misbehaviour (docs/scenarios.md, "Faults"); all off by default."""

    exit_code: int | None = None
    stderr: str | None = None
    crash_after_lines: int | None = None
    hang_after_lines: int | None = None
    garbage: tuple[Garbage, ...] = ()
    big_line: BigLine | None = None
    no_final_newline: bool = False
    split_writes: int | None = None
    line_delay_ms: int = 0
    ignore_sigterm: bool = False
    grandchild: bool = False
    # The fake app-server only: the model never answers the request after a tool call; the
    # turn's end (`turn/completed`, also after an interrupt) is never sent.
    silent_after_tool: bool = False
    no_turn_completed: bool = False


@dataclass(frozen=True)
class OversizeReply:
    method: str
    mib: float


@dataclass(frozen=True)
class AppServerFaults:
    """Process-level misbehaviour of the fake app-server (docs/scenarios.md)."""

    crash_after_reply: str | None = None  # exit 101 right after the first reply to this method
    oversize_reply: OversizeReply | None = None  # that method's replies padded to `mib` MiB


@dataclass(frozen=True)
class Turn:
    requests: tuple[Reply, ...]
    expect_prompt: str | None = None
    expect_prompt_contains: str | None = None
    expect_history_contains: tuple[str, ...] = ()
    expect_history_excludes: tuple[str, ...] = ()
    faults: Faults = field(default_factory=Faults)


@dataclass(frozen=True)
class Scenario:
    turns: tuple[Turn, ...]
    description: str = ""
    codex_version: str = DEFAULT_CODEX_VERSION
    # What `codex --version` prints instead of codex_version (any text): lets a test show a wrapper
    # an old or odd codex without the fake emulating it.
    reported_version: str | None = None
    source: str = "<memory>"
    app_server_faults: AppServerFaults = field(default_factory=AppServerFaults)


class _At:
    """A position in the JSON document, for error messages."""

    def __init__(self, source: str, path: str = "$") -> None:
        self.source = source
        self.path = path

    def key(self, name: str) -> _At:
        return _At(self.source, f"{self.path}.{name}")

    def index(self, i: int) -> _At:
        return _At(self.source, f"{self.path}[{i}]")

    def fail(self, what: str) -> ScenarioError:
        return ScenarioError(f"{self.source}: {self.path}: {what}")


def _obj(value: Any, at: _At, allowed: set[str]) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise at.fail(f"expected an object, got {type(value).__name__}")
    unknown = sorted(set(value) - allowed)
    if unknown:
        raise at.fail(f"unknown key {unknown[0]!r} (allowed: {', '.join(sorted(allowed))})")
    return value


def _str(value: Any, at: _At) -> str:
    if not isinstance(value, str):
        raise at.fail(f"expected a string, got {type(value).__name__}")
    return value


def _opt_str(d: dict[str, Any], key: str, at: _At) -> str | None:
    return None if d.get(key) is None else _str(d[key], at.key(key))


def _int(value: Any, at: _At, minimum: int = 0) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise at.fail(f"expected an integer, got {type(value).__name__}")
    if value < minimum:
        raise at.fail(f"expected an integer >= {minimum}, got {value}")
    return value


def _opt_int(d: dict[str, Any], key: str, at: _At, minimum: int = 0) -> int | None:
    return None if d.get(key) is None else _int(d[key], at.key(key), minimum)


def _bool(d: dict[str, Any], key: str, at: _At) -> bool:
    value = d.get(key, False)
    if not isinstance(value, bool):
        raise at.key(key).fail(f"expected true or false, got {type(value).__name__}")
    return value


def _list(value: Any, at: _At) -> list[Any]:
    if not isinstance(value, list):
        raise at.fail(f"expected an array, got {type(value).__name__}")
    return value


def _usage(value: Any, at: _At) -> Usage:
    names = ("input_tokens", "cached_tokens", "cache_write_tokens", "output_tokens")
    d = _obj(value, at, {*names, "reasoning_tokens"})
    return Usage(**{k: _int(v, at.key(k)) for k, v in d.items()})


def _output_item(value: Any, at: _At) -> OutputItem:
    if not isinstance(value, dict):
        raise at.fail("expected an object")
    kind = value.get("type")
    if kind == "message":
        d = _obj(value, at, {"type", "text", "deltas"})
        text = _str(d.get("text"), at.key("text"))
        raw = _list(d.get("deltas", []), at.key("deltas"))
        deltas = tuple(_str(p, at.key("deltas").index(i)) for i, p in enumerate(raw))
        if deltas and "".join(deltas) != text:
            raise at.key("deltas").fail("the deltas must join to the message's text")
        return MessageItem(text=text, deltas=deltas)
    if kind == "reasoning":
        d = _obj(value, at, {"type", "summary"})
        parts = _list(d.get("summary", []), at.key("summary"))
        return ReasoningItem(
            tuple(_str(p, at.key("summary").index(i)) for i, p in enumerate(parts))
        )
    if kind == "function_call":
        d = _obj(value, at, {"type", "name", "namespace", "arguments", "call_id"})
        args = d.get("arguments", {})
        if not isinstance(args, dict):
            raise at.key("arguments").fail("expected an object (it is sent as a JSON string)")
        return FunctionCallItem(
            name=_str(d.get("name"), at.key("name")),
            arguments=args,
            call_id=_str(d.get("call_id"), at.key("call_id")),
            namespace=_opt_str(d, "namespace", at),
        )
    if kind == "custom_tool_call":
        d = _obj(value, at, {"type", "name", "namespace", "input", "call_id"})
        return CustomToolCallItem(
            name=_str(d.get("name"), at.key("name")),
            input=_str(d.get("input"), at.key("input")),
            call_id=_str(d.get("call_id"), at.key("call_id")),
            namespace=_opt_str(d, "namespace", at),
        )
    if kind == "web_search_call":
        d = _obj(value, at, {"type", "query", "id"})
        return WebSearchCallItem(
            query=_str(d.get("query"), at.key("query")), id=_str(d.get("id"), at.key("id"))
        )
    raise at.key("type").fail(
        f"unknown output item type {kind!r} "
        "(message, reasoning, function_call, custom_tool_call, web_search_call)"
    )


def _reply(value: Any, at: _At) -> Reply:
    reply = _reply_kind(value, at)
    gate = _opt_str(value, "gate", at)
    if gate is not None:
        if not gate or "/" in gate or gate.startswith("."):
            raise at.key("gate").fail("expected a plain, non-empty name")
        reply = replace(reply, gate=gate)
    return reply


def _reply_kind(value: Any, at: _At) -> Reply:
    allowed = {"output", "usage", "delay_ms", "end", "http_status", "body", "error", "reason"}
    allowed.add("gate")
    d = _obj(value, at, allowed)
    output = tuple(
        _output_item(v, at.key("output").index(i))
        for i, v in enumerate(_list(d.get("output", []), at.key("output")))
    )
    usage = None if d.get("usage") is None else _usage(d["usage"], at.key("usage"))
    delay = _opt_int(d, "delay_ms", at) or 0
    if "http_status" in d:
        status = _int(d["http_status"], at.key("http_status"), 100)
        if "end" in d:
            raise at.fail("`http_status` and `end` exclude each other")
        body = d.get("body", "")
        if not isinstance(body, str | dict):
            raise at.key("body").fail("expected a string or an object")
        return Reply(output, usage, delay, "http_error", http_status=status, body=body)
    end = d.get("end", "completed")
    if end == "completed" or end == "cut":
        return Reply(output, usage, delay, end)
    if end == "failed":
        err = _obj(d.get("error", {}), at.key("error"), {"code", "message"})
        return Reply(
            output,
            usage,
            delay,
            "failed",
            error_code=_opt_str(err, "code", at.key("error")) or "server_error",
            error_message=_opt_str(err, "message", at.key("error")) or "",
        )
    if end == "incomplete":
        reason = _opt_str(d, "reason", at) or "max_output_tokens"
        return Reply(output, usage, delay, "incomplete", incomplete_reason=reason)
    raise at.key("end").fail(f"unknown end {end!r} (cut, failed, incomplete)")


def _faults(value: Any, at: _At) -> Faults:
    allowed = {f for f in Faults.__dataclass_fields__}
    d = _obj(value, at, allowed)
    garbage: list[Garbage] = []
    for i, g in enumerate(_list(d.get("garbage", []), at.key("garbage"))):
        gat = at.key("garbage").index(i)
        gd = _obj(g, gat, {"after_line", "text", "hex"})
        if ("text" in gd) == ("hex" in gd):
            raise gat.fail("needs exactly one of `text` or `hex`")
        if "text" in gd:
            data = _str(gd["text"], gat.key("text")).encode()
        else:
            try:
                data = bytes.fromhex(_str(gd["hex"], gat.key("hex")))
            except ValueError as exc:
                raise gat.key("hex").fail(f"not hex bytes: {exc}") from None
        garbage.append(Garbage(_int(gd.get("after_line"), gat.key("after_line")), data))
    big = None
    if d.get("big_line") is not None:
        bat = at.key("big_line")
        bd = _obj(d["big_line"], bat, {"after_line", "mib"})
        mib = bd.get("mib", 1)
        if isinstance(mib, bool) or not isinstance(mib, int | float) or mib <= 0:
            raise bat.key("mib").fail("expected a positive number")
        big = BigLine(_int(bd.get("after_line"), bat.key("after_line")), float(mib))
    exit_code = d.get("exit_code")
    if exit_code is not None:
        exit_code = _int(exit_code, at.key("exit_code"))
    return Faults(
        exit_code=exit_code,
        stderr=_opt_str(d, "stderr", at),
        crash_after_lines=_opt_int(d, "crash_after_lines", at),
        hang_after_lines=_opt_int(d, "hang_after_lines", at),
        garbage=tuple(garbage),
        big_line=big,
        no_final_newline=_bool(d, "no_final_newline", at),
        split_writes=_opt_int(d, "split_writes", at, 1),
        line_delay_ms=_opt_int(d, "line_delay_ms", at) or 0,
        ignore_sigterm=_bool(d, "ignore_sigterm", at),
        grandchild=_bool(d, "grandchild", at),
        silent_after_tool=_bool(d, "silent_after_tool", at),
        no_turn_completed=_bool(d, "no_turn_completed", at),
    )


def _app_server_faults(value: Any, at: _At) -> AppServerFaults:
    d = _obj(value, at, {"crash_after_reply", "oversize_reply"})
    crash = d.get("crash_after_reply")
    if crash is not None:
        crash = _str(crash, at.key("crash_after_reply"))
    oversize = None
    if d.get("oversize_reply") is not None:
        oat = at.key("oversize_reply")
        od = _obj(d["oversize_reply"], oat, {"method", "mib"})
        method = _str(od.get("method"), oat.key("method"))
        mib = od.get("mib", 1)
        if isinstance(mib, bool) or not isinstance(mib, int | float) or mib <= 0:
            raise oat.key("mib").fail("expected a positive number")
        oversize = OversizeReply(method, float(mib))
    return AppServerFaults(crash, oversize)


def _turn(value: Any, at: _At) -> Turn:
    allowed = {"expect_prompt", "expect_prompt_contains", "requests", "faults"}
    d = _obj(value, at, allowed | {"expect_history_contains", "expect_history_excludes"})

    def strings(key: str) -> tuple[str, ...]:
        items = _list(d.get(key, []), at.key(key))
        return tuple(_str(v, at.key(key).index(i)) for i, v in enumerate(items))

    requests = tuple(
        _reply(v, at.key("requests").index(i))
        for i, v in enumerate(_list(d.get("requests", []), at.key("requests")))
    )
    faults = Faults() if d.get("faults") is None else _faults(d["faults"], at.key("faults"))
    return Turn(
        requests=requests,
        expect_prompt=_opt_str(d, "expect_prompt", at),
        expect_prompt_contains=_opt_str(d, "expect_prompt_contains", at),
        expect_history_contains=strings("expect_history_contains"),
        expect_history_excludes=strings("expect_history_excludes"),
        faults=faults,
    )


def parse_scenario(document: Any, source: str = "<memory>") -> Scenario:
    """Build a `Scenario` from an already decoded JSON document."""
    at = _At(source)
    top = {"schema_version", "description", "codex_version", "reported_version", "turns"}
    top.add("app_server_faults")
    d = _obj(document, at, top)
    version = d.get("schema_version", SCHEMA_VERSION)
    if version != SCHEMA_VERSION:
        raise at.key("schema_version").fail(f"unsupported schema_version {version!r} (want 1)")
    turns = tuple(
        _turn(v, at.key("turns").index(i))
        for i, v in enumerate(_list(d.get("turns", []), at.key("turns")))
    )
    return Scenario(
        turns=turns,
        description=_opt_str(d, "description", at) or "",
        codex_version=_opt_str(d, "codex_version", at) or DEFAULT_CODEX_VERSION,
        reported_version=_opt_str(d, "reported_version", at),
        source=source,
        app_server_faults=(
            AppServerFaults()
            if d.get("app_server_faults") is None
            else _app_server_faults(d["app_server_faults"], at.key("app_server_faults"))
        ),
    )


def load_scenario(path: Path) -> Scenario:
    """Read and parse a scenario file; every failure is a `ScenarioError` naming the file."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ScenarioError(f"{path}: cannot read scenario: {exc}") from None
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ScenarioError(f"{path}: $: invalid JSON: {exc}") from None
    return parse_scenario(document, str(path))


DEFAULT_REPLY_PREFIX = "fake-codex received your prompt: "
DEFAULT_USAGE = Usage(input_tokens=10, output_tokens=5)


def default_turn(prompt: str, with_compaction: bool) -> Turn:
    """The turn used without a scenario: one fixed reply quoting the prompt."""
    answer = Reply(output=(MessageItem(DEFAULT_REPLY_PREFIX + prompt),), usage=DEFAULT_USAGE)
    summary = Reply(output=(MessageItem("fake-codex compaction summary"),), usage=DEFAULT_USAGE)
    return Turn(requests=(summary, answer) if with_compaction else (answer,))
