"""The local tools codex really carries out: `exec_command` (via `/bin/bash -lc`) and a simple
`apply_patch` (Add/Update/Delete File with `@@` hunks), both in the exec's cwd.

Results carry what the exec item, the rollout and the model-visible output text need.
"""

from __future__ import annotations

import difflib
import math
import shlex
import time
from dataclasses import dataclass
from pathlib import Path

from fake_codex.core.ids import short_hex


@dataclass(frozen=True)
class ShellResult:
    cmd: str
    display: str
    output: str
    exit_code: int
    duration_ns: int
    pid: int

    @property
    def model_output(self) -> str:
        """The function_call_output text codex sends back (codex-facts §4)."""
        tokens = math.ceil(len(self.output) / 4)
        return (
            f"Chunk ID: {short_hex()}\nWall time: {self.duration_ns / 1e9:.4f} seconds\n"
            f"Process exited with code {self.exit_code}\nOriginal token count: {tokens}\n"
            f"Output:\n{self.output}"
        )


def display_command(cmd: str) -> str:
    """The exec item's `command`: `/bin/bash -lc '<cmd>'` (quoted only when needed)."""
    return f"/bin/bash -lc {shlex.quote(cmd)}"


def run_shell(cmd: str, cwd: Path) -> ShellResult:
    import subprocess

    start = time.monotonic_ns()
    # Reported as `bash -lc` like codex, but run without the machine's login profile: a test's
    # command must not wait on the host's login scripts (e.g. a `pyenv rehash` lock left behind
    # by a killed shell stalls every `bash -l` for 60 s).
    proc = subprocess.Popen(
        ["/bin/bash", "--noprofile", "-lc", cmd],
        cwd=cwd,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    raw, _ = proc.communicate()
    return ShellResult(
        cmd=cmd,
        display=display_command(cmd),
        output=raw.decode("utf-8", errors="replace"),
        exit_code=proc.returncode if proc.returncode >= 0 else 128 - proc.returncode,
        duration_ns=time.monotonic_ns() - start,
        pid=proc.pid,
    )


class PatchError(Exception):
    """apply_patch verification failed: codex emits no exec item, only the tool output."""


@dataclass(frozen=True)
class FileOp:
    kind: str  # "add" | "delete" | "update"
    path: str
    lines: tuple[str, ...]  # add: new content lines; update: the hunk lines with their prefix


@dataclass(frozen=True)
class PatchResult:
    changes: tuple[tuple[str, str, str], ...]  # (absolute path, kind, new or old content)
    summary: str
    # Per change, as app-server shows it: add → the content, delete → the old content, update →
    # the unified diff's hunks.
    diffs: tuple[str, ...] = ()

    @property
    def paths(self) -> tuple[str, ...]:
        return tuple(path for path, _, _ in self.changes)

    @property
    def model_output(self) -> str:
        return f"Exit code: 0\nWall time: 0 seconds\nOutput:\n{self.summary}"


def parse_patch(text: str) -> list[FileOp]:
    lines = text.splitlines()
    while lines and not lines[-1].strip():
        lines.pop()
    if not lines or lines[0].strip() != "*** Begin Patch":
        raise PatchError("The first line of the patch must be '*** Begin Patch'")
    if lines[-1].strip() != "*** End Patch":
        raise PatchError("The last line of the patch must be '*** End Patch'")
    ops: list[FileOp] = []
    current: tuple[str, str] | None = None
    body: list[str] = []
    for line in [*lines[1:-1], "*** End Of Ops"]:
        header = None
        for prefix, kind in (("*** Add File: ", "add"), ("*** Delete File: ", "delete")):
            if line.startswith(prefix):
                header = (kind, line[len(prefix) :].strip())
        if line.startswith("*** Update File: "):
            header = ("update", line[len("*** Update File: ") :].strip())
        if header is None and line != "*** End Of Ops":
            if current is None:
                raise PatchError(f"'{line}' is not a valid hunk header")
            body.append(line)
            continue
        if current is not None:
            ops.append(FileOp(current[0], current[1], tuple(body)))
        current, body = header, []
    if not ops:
        raise PatchError("No files were modified.")
    return ops


def _apply_update(old: str, hunk_lines: tuple[str, ...], path: str) -> str:
    content = old.split("\n")
    if content and content[-1] == "":
        content.pop()
    pos = 0
    hunks: list[list[str]] = [[]]
    for line in hunk_lines:
        if line.startswith("@@"):
            hunks.append([])
        elif line.strip() == "*** End of File":
            continue
        else:
            hunks[-1].append(line)
    for hunk in (h for h in hunks if h):
        before = [ln[1:] for ln in hunk if ln[:1] in (" ", "-", "")]
        after = [ln[1:] for ln in hunk if ln[:1] in (" ", "+", "")]
        for start in range(pos, len(content) - len(before) + 1):
            if content[start : start + len(before)] == before:
                content[start : start + len(before)] = after
                pos = start + len(after)
                break
        else:
            raise PatchError(f"Failed to find expected lines in {path}:\n" + "\n".join(before))
    return "\n".join(content) + "\n"


def apply_patch(text: str, cwd: Path) -> PatchResult:
    """Verify the whole patch first, then write; a failing patch changes nothing."""
    ops = parse_patch(text)
    planned: list[tuple[Path, str, str | None, str]] = []
    diffs: list[str] = []
    for op in ops:
        target = (cwd / op.path).resolve()
        if op.kind == "add":
            body = "".join(ln[1:] + "\n" for ln in op.lines if ln.startswith("+"))
            planned.append((target, "add", body, body))
            diffs.append(body)
            continue
        if not target.is_file():
            raise PatchError(f"Failed to read file to {op.kind}: {target}")
        old = target.read_text(encoding="utf-8")
        if op.kind == "delete":
            planned.append((target, "delete", None, old))
            diffs.append(old)
        else:
            new = _apply_update(old, op.lines, str(target))
            planned.append((target, "update", new, new))
            diffs.append(_hunks(old, new))
    letters = {"add": "A", "delete": "D", "update": "M"}
    for target, _kind, content, _ in planned:
        if content is None:
            target.unlink()
        else:
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(content, encoding="utf-8")
    summary = "Success. Updated the following files:\n" + "".join(
        f"{letters[op.kind]} {op.path}\n" for op in ops
    )
    return PatchResult(tuple((str(t), k, c) for t, k, _, c in planned), summary, tuple(diffs))


def _hunks(old: str, new: str) -> str:
    """The unified diff of `old` → `new` without its file headers (app-server's `diff`)."""
    lines = difflib.unified_diff(old.splitlines(), new.splitlines(), lineterm="")
    return "".join(line + "\n" for line in lines if not line.startswith(("---", "+++")))
