"""Code mode without JavaScript: a small pattern matcher over the `exec` custom tool's input.

0.169's default model calls tools from JavaScript (`await tools.mcp__srv__echo({text: "x"})`).
The fake cannot run JS; it recognises, in source order:

- `[const|let|var] NAME = await tools.FN({...})` and a bare `await tools.FN({...})`;
- `[const|let|var] [A, B] = await Promise.all([tools.F({...}), tools.G({...})])` (or a single
  NAME bound to the array, or no binding) — the calls run one after the other, in array order;
- `text(EXPR)` — adds one output part; EXPR is a string literal, `NAME`, `NAME.path`,
  `NAME[0].path` or `JSON.stringify(<one of those>)` (compact JSON; a non-string value is
  stringified too).

Arguments are "JSON-ish" object literals: unquoted or quoted keys, '…' / "…" / `…` strings
(no `${}`), numbers, true/false/null, nested arrays and objects, trailing commas. Anything else
(loops, conditionals, variables as arguments, string concatenation) is NOT understood: calls
inside such code are still found and run in source order, but values computed in JS are not.
A call whose arguments cannot be parsed is a `CodeModeError` (the fake exits 70).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any


class CodeModeError(Exception):
    """The script uses JavaScript the fake's matcher cannot follow."""


@dataclass(frozen=True)
class JsCall:
    func: str
    args: Any


@dataclass(frozen=True)
class CallStep:
    """One `await`: a single call, or the calls of a `Promise.all([...])`."""

    calls: tuple[JsCall, ...]
    target: str | tuple[str, ...] | None  # NAME, [A, B] destructuring, or no binding
    is_all: bool = False


@dataclass(frozen=True)
class TextStep:
    expr: str


Step = CallStep | TextStep

_DECL = r"(?:(?:const|let|var)\s+(?P<target>\[[^\]]*\]|[A-Za-z_$][\w$]*)\s*=\s*)?"
_PATTERN = re.compile(
    _DECL
    + r"(?:(?P<all>await\s+Promise\.all\(\s*\[)"
    + r"|(?:await\s+)?tools\.(?P<func>[A-Za-z_$][\w$]*)\s*\()"
    + r"|(?P<text>\btext\s*\()"
)


class _Reader:
    def __init__(self, src: str, pos: int) -> None:
        self.src = src
        self.pos = pos

    def ws(self) -> None:
        while True:
            while self.pos < len(self.src) and self.src[self.pos].isspace():
                self.pos += 1
            if self.src.startswith("//", self.pos):
                end = self.src.find("\n", self.pos)
                self.pos = len(self.src) if end < 0 else end
            elif self.src.startswith("/*", self.pos):
                end = self.src.find("*/", self.pos)
                self.pos = len(self.src) if end < 0 else end + 2
            else:
                return

    def peek(self) -> str:
        self.ws()
        return self.src[self.pos] if self.pos < len(self.src) else ""

    def expect(self, ch: str) -> None:
        if self.peek() != ch:
            got = self.src[self.pos : self.pos + 20]
            raise CodeModeError(f"expected {ch!r} at offset {self.pos}, found {got!r}")
        self.pos += 1

    def string(self) -> str:
        quote = self.src[self.pos]
        self.pos += 1
        out: list[str] = []
        escapes = {"n": "\n", "t": "\t", "r": "\r", "b": "\b", "f": "\f", "0": "\0"}
        while self.pos < len(self.src):
            ch = self.src[self.pos]
            if ch == quote:
                self.pos += 1
                return "".join(out)
            if quote == "`" and self.src.startswith("${", self.pos):
                raise CodeModeError("template literals with ${...} are not supported")
            if ch == "\\" and self.pos + 1 < len(self.src):
                nxt = self.src[self.pos + 1]
                if nxt == "u" and self.src[self.pos + 2 : self.pos + 6].isalnum():
                    out.append(chr(int(self.src[self.pos + 2 : self.pos + 6], 16)))
                    self.pos += 6
                    continue
                out.append(escapes.get(nxt, nxt))
                self.pos += 2
                continue
            out.append(ch)
            self.pos += 1
        raise CodeModeError("unterminated string literal")

    def value(self) -> Any:
        ch = self.peek()
        if ch == "{":
            return self.obj()
        if ch == "[":
            self.pos += 1
            items: list[Any] = []
            while self.peek() != "]":
                items.append(self.value())
                if self.peek() == ",":
                    self.pos += 1
            self.pos += 1
            return items
        if ch in "\"'`":
            return self.string()
        m = re.compile(r"-?(?:\d+\.?\d*(?:[eE][+-]?\d+)?|\.\d+)").match(self.src, self.pos)
        if m and m.group(0) not in ("-", ""):
            self.pos = m.end()
            text = m.group(0)
            return float(text) if any(c in text for c in ".eE") else int(text)
        m = re.compile(r"[A-Za-z_$][\w$]*").match(self.src, self.pos)
        if m and m.group(0) in ("true", "false", "null", "undefined"):
            self.pos = m.end()
            return {"true": True, "false": False}.get(m.group(0))
        got = self.src[self.pos : self.pos + 30]
        raise CodeModeError(f"cannot read a JSON-ish value at offset {self.pos}: {got!r}")

    def obj(self) -> dict[str, Any]:
        self.expect("{")
        out: dict[str, Any] = {}
        while self.peek() != "}":
            ch = self.peek()
            if ch in "\"'":
                k = self.string()
            else:
                m = re.compile(r"[A-Za-z_$][\w$]*|\d+").match(self.src, self.pos)
                if not m:
                    got = self.src[self.pos : self.pos + 20]
                    raise CodeModeError(f"cannot read an object key at offset {self.pos}: {got!r}")
                k = m.group(0)
                self.pos = m.end()
            if self.peek() == ":":
                self.pos += 1
                out[k] = self.value()
            else:
                raise CodeModeError(f"shorthand property {k!r} (a JS variable) is not supported")
            if self.peek() == ",":
                self.pos += 1
        self.pos += 1
        return out

    def call_args(self, func: str) -> JsCall:
        """After `tools.FN(`: the argument object (or none) and the closing `)`."""
        args: Any = {} if self.peek() == ")" else self.value()
        self.expect(")")
        return JsCall(func, args)

    def balanced(self) -> str:
        """After `(`: the text up to the matching `)` (strings respected)."""
        depth, start = 1, self.pos
        while self.pos < len(self.src):
            ch = self.src[self.pos]
            if ch in "\"'`":
                self.string()
                continue
            if ch in "([{":
                depth += 1
            elif ch in ")]}":
                depth -= 1
                if depth == 0:
                    self.pos += 1
                    return self.src[start : self.pos - 1].strip()
            self.pos += 1
        raise CodeModeError("unbalanced parentheses in text(...)")


def _target(raw: str | None) -> str | tuple[str, ...] | None:
    if raw is None:
        return None
    if raw.startswith("["):
        return tuple(p.strip() for p in raw[1:-1].split(",") if p.strip())
    return raw


def parse_script(src: str) -> list[Step]:
    """The tool calls and `text(...)` outputs of a code-mode script, in source order."""
    steps: list[Step] = []
    pos = 0
    while True:
        m = _PATTERN.search(src, pos)
        if m is None:
            return steps
        reader = _Reader(src, m.end())
        if m.group("text"):
            steps.append(TextStep(reader.balanced()))
        elif m.group("all"):
            calls: list[JsCall] = []
            while reader.peek() != "]":
                fm = re.compile(r"(?:await\s+)?tools\.([A-Za-z_$][\w$]*)\s*\(").match(
                    src, reader.pos
                )
                if not fm:
                    got = src[reader.pos : reader.pos + 30]
                    raise CodeModeError(f"Promise.all element is not a tools.* call: {got!r}")
                reader.pos = fm.end()
                calls.append(reader.call_args(fm.group(1)))
                if reader.peek() == ",":
                    reader.pos += 1
            reader.pos += 1
            reader.expect(")")
            steps.append(CallStep(tuple(calls), _target(m.group("target")), is_all=True))
        else:
            call = reader.call_args(m.group("func"))
            steps.append(CallStep((call,), _target(m.group("target"))))
        pos = reader.pos


_PATH = re.compile(r"^([A-Za-z_$][\w$]*)((?:\.[A-Za-z_$][\w$]*|\[\d+\]|\[\"[^\"]*\"\])*)$")
_SEG = re.compile(r"\.([A-Za-z_$][\w$]*)|\[(\d+)\]|\[\"([^\"]*)\"\]")
_MISSING = object()


def _lookup(expr: str, scope: dict[str, Any]) -> Any:
    m = _PATH.match(expr.strip())
    if not m or m.group(1) not in scope:
        return _MISSING
    value = scope[m.group(1)]
    for seg in _SEG.finditer(m.group(2)):
        attr, index, quoted = seg.groups()
        if index is not None:
            value = (
                value[int(index)] if isinstance(value, list) and int(index) < len(value) else None
            )
        else:
            name = attr if attr is not None else quoted
            value = value.get(name) if isinstance(value, dict) else None
    return value


def js_json(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def evaluate_text(expr: str, scope: dict[str, Any]) -> str:
    """The string `text(EXPR)` would print (see the module doc for what EXPR may be)."""
    expr = expr.strip()
    if expr[:1] in "\"'`" and expr[-1:] == expr[:1]:
        return str(_Reader(expr, 0).string())
    inner = re.match(r"^JSON\.stringify\((.*)\)$", expr, re.S)
    if inner:
        value = _lookup(inner.group(1), scope)
        return "undefined" if value is _MISSING else js_json(value)
    value = _lookup(expr, scope)
    if value is _MISSING:
        return f"[fake-codex: cannot evaluate {expr}]"
    if value is None:
        return "null"
    return value if isinstance(value, str) else js_json(value)
