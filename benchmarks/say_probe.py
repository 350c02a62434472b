"""Run `plexum-openai-provider ARGS…` with a clock on the milestones of a cold turn (P1b's budget).

Usage: `python benchmarks/say_probe.py OUT -- say …`. Writes OUT (JSON: milestone → the first
time.monotonic() it was seen, plus the modules loaded before the config was read) when the command
leaves. Stdlib only, and it watches from outside the package: audit events (`open`,
`fcntl.flock`, `socket.bind`, `subprocess.Popen`, `os.rename`) and `os.read`/`os._exit` wrapped,
so the package's module names can change without breaking it. The audit hook costs a few µs per
event; the headline P1b figure runs `say` without the probe.
"""

from __future__ import annotations

import os
import sys
import time

START = time.monotonic()
marks: dict[str, float] = {"start": START}
state: dict[str, object] = {}


def mark(name: str) -> None:
    marks.setdefault(name, time.monotonic())


def _hook(event: str, args: tuple[object, ...]) -> None:
    if event == "open":
        path = args[0]
        if isinstance(path, os.PathLike):
            path = os.fspath(path)
        if isinstance(path, bytes):
            path = os.fsdecode(path)
        if not isinstance(path, str):
            return
        if path == state.get("config"):
            if "config" not in marks:
                # what the imports stage loaded (ssl is kept out by the console script: None)
                state["modules"] = [n for n, m in list(sys.modules.items()) if m is not None]
            mark("config")
        elif path.endswith(".plexum-codex-session"):
            mark("session")
        elif "/sessions/" in path and "rollout-" in path and "eof" in marks:
            mark("mirror")
    elif event in ("fcntl.flock", "fcntl.lockf"):
        mark("lock")
    elif event == "socket.bind":
        mark("tools")
    elif event == "subprocess.Popen" and "spawn" not in marks:
        argv = args[1]
        if isinstance(argv, (list, tuple)) and argv and "codex" in os.path.basename(str(argv[0])):
            mark("spawn")
    elif event == "os.rename" and "eof" in marks:
        mark("saved")


_read = os.read
_exit = os._exit
_waitpid = os.waitpid


def _probe_read(fd: int, n: int) -> bytes:
    data = _read(fd, n)
    if "spawn" in marks:
        if data[:1] == b"{" and "first_byte" not in marks:
            state["stdout"] = fd  # codex's stdout: its first JSON line (stderr may speak first)
            mark("first_byte")
        elif not data and "spawned" not in marks:
            mark("spawned")  # Popen's exec-error pipe closed: codex's exec succeeded
        elif not data and fd == state.get("stdout"):
            mark("eof")
    return data


def _probe_waitpid(pid: int, options: int) -> tuple[int, int]:
    got = _waitpid(pid, options)
    if got[0] > 0 and "spawn" in marks:
        mark("reaped")
    return got


def _probe_exit(code: int) -> None:
    mark("exit")
    import json

    with open(str(state["out"]), "w", encoding="utf-8") as f:
        json.dump({"marks": marks, "modules": state.get("modules", [])}, f)
    _exit(code)


def main() -> None:
    out, sep, *rest = sys.argv[1:]
    if sep != "--" or not rest:
        raise SystemExit("usage: say_probe.py OUT -- ARGS...")
    state["out"] = out
    if "--config" in rest:
        state["config"] = rest[rest.index("--config") + 1]
    sys.argv = ["plexum-openai-provider", *rest]
    sys.addaudithook(_hook)
    os.read = _probe_read
    os._exit = _probe_exit  # type: ignore[assignment]
    os.waitpid = _probe_waitpid
    from plexum_openai_provider.cli import run

    mark("main")
    run()


if __name__ == "__main__":
    main()
