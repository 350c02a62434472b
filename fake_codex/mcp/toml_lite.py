"""A minimal TOML writer for what `codex mcp add/remove` writes into `$CODEX_HOME/config.toml`.

Reading is `tomllib`'s job. Writing works on the TEXT so that unrelated lines stay byte-for-byte:
the document is cut into table regions (a `[header]` line up to the next header); the regions of
`[mcp_servers.NAME]` and its sub-tables (`[mcp_servers.NAME.env]`, ...) are replaced by a freshly
rendered block at the position of the first one (so a replaced entry keeps its place), or removed.
Comment lines found inside a removed region move to the end of the file, as codex's toml_edit
does (codex-facts §5); a new entry is appended before the file's trailing comment lines.

Not handled (`TomlEditError`): an entry written as an inline table or as dotted keys
(`mcp_servers.x = {...}` or `x = {...}` under `[mcp_servers]`) — codex itself never writes that.
"""

from __future__ import annotations

import re
from typing import Any

_BARE_KEY = re.compile(r"^[A-Za-z0-9_-]+$")
_HEADER = re.compile(r"^\s*\[\[?\s*(.+?)\s*\]\]?\s*(#.*)?$")


class TomlEditError(Exception):
    """The file holds the entry in a form this small editor cannot rewrite."""


def key(name: str) -> str:
    """A TOML key: bare when possible, else a basic string (`"my.server"`)."""
    return name if _BARE_KEY.match(name) else basic_string(name)


def basic_string(text: str) -> str:
    out = ['"']
    for ch in text:
        if ch == '"':
            out.append('\\"')
        elif ch == "\\":
            out.append("\\\\")
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\t":
            out.append("\\t")
        elif ch == "\r":
            out.append("\\r")
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:
            out.append(f"\\u{ord(ch):04X}")
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


def value(v: Any) -> str:
    """A TOML value as toml_edit writes it (`["a", "b"]`, `{ k = 1 }`)."""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int | float):
        return repr(v)
    if isinstance(v, str):
        return basic_string(v)
    if isinstance(v, list | tuple):
        return "[" + ", ".join(value(x) for x in v) + "]"
    if isinstance(v, dict):
        if not v:
            return "{}"
        return "{ " + ", ".join(f"{key(k)} = {value(x)}" for k, x in v.items()) + " }"
    raise TypeError(f"cannot write {type(v).__name__} as TOML")


def split_key_path(text: str) -> list[str]:
    """`mcp_servers."my.server".env` -> ["mcp_servers", "my.server", "env"]."""
    parts: list[str] = []
    i, n = 0, len(text)
    while i < n:
        while i < n and text[i] in " \t":
            i += 1
        if i < n and text[i] in "\"'":
            quote = text[i]
            i += 1
            buf = []
            while i < n and text[i] != quote:
                if quote == '"' and text[i] == "\\" and i + 1 < n:
                    buf.append({"n": "\n", "t": "\t", "r": "\r"}.get(text[i + 1], text[i + 1]))
                    i += 2
                    continue
                buf.append(text[i])
                i += 1
            parts.append("".join(buf))
            i += 1
        else:
            start = i
            while i < n and text[i] not in ".":
                i += 1
            parts.append(text[start:i].strip())
        while i < n and text[i] in " \t":
            i += 1
        if i < n and text[i] == ".":
            i += 1
    return parts


def render_server(name: str, entry: dict[str, Any]) -> str:
    """`[mcp_servers.NAME]` with its scalar/array keys, then `[mcp_servers.NAME.<sub>]` tables."""
    head = f"mcp_servers.{key(name)}"
    lines = [f"[{head}]"]
    subs: list[tuple[str, dict[str, Any]]] = []
    for k, v in entry.items():
        if isinstance(v, dict):
            subs.append((k, v))
        elif v is not None:
            lines.append(f"{key(k)} = {value(v)}")
    for sub, table in subs:
        lines += ["", f"[{head}.{key(sub)}]"]
        lines += [f"{key(k)} = {value(v)}" for k, v in table.items()]
    return "\n".join(lines) + "\n"


def _is_comment_or_blank(line: str) -> bool:
    stripped = line.strip()
    return not stripped or stripped.startswith("#")


def _header_path(line: str) -> list[str] | None:
    m = _HEADER.match(line)
    if not m or line.lstrip().startswith("#"):
        return None
    return split_key_path(m.group(1))


def _regions(lines: list[str]) -> list[tuple[int, int, list[str] | None]]:
    """(start, end, header path) per region; the first region (before any header) has None."""
    starts = [(i, p) for i, line in enumerate(lines) if (p := _header_path(line)) is not None]
    regions: list[tuple[int, int, list[str] | None]] = []
    first = starts[0][0] if starts else len(lines)
    regions.append((0, first, None))
    for j, (i, path) in enumerate(starts):
        end = starts[j + 1][0] if j + 1 < len(starts) else len(lines)
        regions.append((i, end, path))
    return regions


def _split_trailing(lines: list[str]) -> tuple[list[str], list[str]]:
    """The body and the trailing run of comment/blank lines after the last key or header."""
    cut = len(lines)
    while cut > 0 and _is_comment_or_blank(lines[cut - 1]):
        cut -= 1
    return lines[:cut], lines[cut:]


def _strip_blank_edges(lines: list[str]) -> list[str]:
    while lines and not lines[0].strip():
        lines = lines[1:]
    while lines and not lines[-1].strip():
        lines = lines[:-1]
    return lines


def _owned_elsewhere(lines: list[str], name: str) -> bool:
    """The entry is spelled as dotted keys or an inline table (not `[mcp_servers.NAME]`)."""
    for start, end, path in _regions(lines):
        for line in lines[start + (path is not None) : end]:
            if _is_comment_or_blank(line) or "=" not in line:
                continue
            k = split_key_path(line.split("=", 1)[0])
            full = (path or []) + k
            if len(path or []) < 2 and full[:2] == ["mcp_servers", name]:
                return True
    return False


def set_server(text: str, name: str, entry: dict[str, Any] | None) -> str:
    """The document with `mcp_servers.NAME` replaced by `entry` (None: removed)."""
    lines = text.splitlines(keepends=True)
    if lines and not lines[-1].endswith("\n"):
        lines[-1] += "\n"
    if _owned_elsewhere(lines, name):
        raise TomlEditError(
            f"fake-codex: config.toml defines mcp_servers.{name} as dotted keys or an inline "
            "table; the fake's TOML editor only rewrites [mcp_servers.NAME] tables"
        )
    body, trailing = _split_trailing(lines)
    if not body:  # only comments: they stay at the top
        body, trailing = _strip_trailing_blanks(trailing), []
    out: list[str] = []
    moved: list[str] = []
    placed = False
    block = render_server(name, entry).splitlines(keepends=True) if entry is not None else []
    regions = _regions(body)
    for idx, (start, end, path) in enumerate(regions):
        chunk = body[start:end]
        if path is None or path[:2] != ["mcp_servers", name]:
            out += chunk
            continue
        moved += [ln for ln in chunk[1:] if ln.strip().startswith("#")]
        if placed or entry is None:
            continue
        placed = True
        out += block
        more = any(p is None or p[:2] != ["mcp_servers", name] for _, _, p in regions[idx + 1 :])
        if more:
            out.append("\n")
    if entry is not None and not placed:
        out = _strip_trailing_blanks(out)
        if out:
            out.append("\n")
        out += block
    elif entry is None:
        out = _strip_trailing_blanks(out)
    return "".join(out + moved + _strip_blank_edges(trailing))


def _strip_trailing_blanks(lines: list[str]) -> list[str]:
    while lines and not lines[-1].strip():
        lines = lines[:-1]
    return lines
