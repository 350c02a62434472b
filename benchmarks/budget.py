"""P1b's budget: where a cold `say`'s time goes, stage by stage, each against what it costs alone.

A `say` run under `benchmarks/say_probe.py` reports when each milestone happened; a bare `codex
exec` run, timed from outside the same way (spawn, exec, first stdout byte, EOF, reap), and a few
one-job measurements (a bare interpreter, the same imports in a fresh interpreter, the config read,
a lock, a socket bind, a rollout read, a bare exit) give what each stage costs alone. The row's
gap (in `say` − alone) is what the provider adds there; a regression names its stage.
"""

from __future__ import annotations

import fcntl
import json
import os
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from benchmarks.figures import Figure, best
from benchmarks.rig import ResponsesProcess, Rig, codex_exec_argv, provider, real_codex

PROBE = Path(__file__).resolve().with_name("say_probe.py")
PROMPT = b"say something"

# (stage, from milestone, to milestone); "tools" falls back to "spawn" when no tool is offered.
STAGES: tuple[tuple[str, str, str], ...] = (
    ("interpreter start", "spawn0", "start"),
    ("imports", "start", "config"),
    ("config", "config", "lock"),
    ("lock", "lock", "session"),
    ("session read", "session", "tools"),
    ("tool offering", "tools", "spawn"),
    ("spawn (exec of codex)", "spawn", "spawned"),
    ("first byte from codex", "spawned", "first_byte"),
    ("codex's turn", "first_byte", "eof"),
    ("codex's exit", "eof", "reaped"),
    ("mirror + session save", "reaped", "saved"),
    ("exit", "saved", "end"),
)


def stage_times(marks: dict[str, float]) -> dict[str, float]:
    """Seconds per stage from one run's milestones (each relative to any common origin)."""
    marks = dict(marks)
    marks.setdefault("tools", marks["spawn"])
    # A stage's end may come before its start when work overlaps (the exec-error pipe's EOF can be
    # read after codex's first line on a loaded machine): such a stage counts 0.
    out: dict[str, float] = {}
    for name, start, end in STAGES:
        out[name] = max(0.0, marks[end] - marks[start])
    return out


def _probe_run(
    argv: list[str], out: Path, cwd: Path, env: dict[str, str]
) -> tuple[dict[str, float], list[str]]:
    """One `say` under the probe: its milestones (seconds from the spawn, `spawn0`) and the
    modules it had loaded when it read its config."""
    full = [sys.executable, str(PROBE), str(out), "--", *argv]
    start = time.monotonic()
    proc = subprocess.run(full, capture_output=True, timeout=60, cwd=cwd, env=env)
    end = time.monotonic()
    events = [json.loads(line) for line in proc.stdout.splitlines() if line.startswith(b"{")]
    if proc.returncode != 0 or not events or events[-1].get("type") != "message_end":
        raise RuntimeError(f"probed say failed (exit {proc.returncode}): {proc.stderr[-400:]!r}")
    record = json.loads(out.read_text())
    marks = {k: v - start for k, v in record["marks"].items()}
    missing = {"config", "lock", "session", "spawn", "spawned", "first_byte", "eof"} - set(marks)
    missing |= {"reaped", "saved"} - set(marks)
    if missing:
        raise RuntimeError(f"the probe saw no {sorted(missing)}: {marks}")
    marks.update(spawn0=0.0, end=end - start)
    return marks, list(record["modules"])


def _bare_run(argv: list[str], cwd: Path, env: dict[str, str]) -> dict[str, float]:
    """A bare `codex exec`, timed from outside: spawned (Popen returned), first byte, EOF, reap."""
    start = time.monotonic()
    proc = subprocess.Popen(
        argv, cwd=cwd, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL, start_new_session=True,
    )  # fmt: skip
    spawned = time.monotonic()
    assert proc.stdin is not None and proc.stdout is not None
    proc.stdin.write(PROMPT)
    proc.stdin.close()
    fd = proc.stdout.fileno()
    first = None
    chunks = []
    while chunk := os.read(fd, 65536):
        first = first or time.monotonic()
        chunks.append(chunk)
    eof = time.monotonic()
    proc.wait(timeout=30)
    reaped = time.monotonic()
    proc.stdout.close()
    if b"turn.completed" not in b"".join(chunks) or first is None:
        raise RuntimeError(f"bare codex exec failed: {b''.join(chunks)[-300:]!r}")
    return {"spawned": spawned - start, "first_byte": first - spawned, "turn": eof - first,
            "exit": reaped - eof}  # fmt: skip


def _python_stamp(code: str) -> float:
    """Seconds from spawning `python -c CODE` to the monotonic stamp it prints first."""
    start = time.monotonic()
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, check=True).stdout
    return float(out.split()[0]) - start


def _exit_alone() -> float:
    """A Python process's exit the way `say` leaves (os._exit): its last stamp to reaped."""
    code = "import os, sys, time; sys.stdout.write(f'{time.monotonic()}\\n'); sys.stdout.flush()"
    proc = subprocess.Popen([sys.executable, "-c", code + "; os._exit(0)"], stdout=subprocess.PIPE)
    assert proc.stdout is not None
    stamp = float(proc.stdout.readline())
    proc.wait()
    reaped = time.monotonic()
    proc.stdout.close()
    return reaped - stamp


IMPORT_ALONE = """
import importlib, sys, time
names = sys.argv[1:]
sys.modules.setdefault("ssl", None)
start = time.monotonic()
for name in names:
    try:
        importlib.import_module(name)
    except Exception:
        pass
print(time.monotonic() - start)
"""


def _imports_alone(modules: Sequence[str]) -> float:
    """The modules loaded before `say` read its config, imported in a fresh interpreter."""
    skip = {"__main__", "say_probe"}
    names = [m for m in modules if m not in skip]
    out = subprocess.run(
        [sys.executable, "-c", IMPORT_ALONE, *names], capture_output=True, check=True
    ).stdout
    return float(out)


def _in_process_alone(rig: Rig, config: Path) -> dict[str, float]:
    """The small synchronous stages, each done alone in this (warm) process."""
    from plexum_openai_provider.config import load_config

    lock_path = rig.dir / "alone.lock"
    session_path = rig.dir / "alone-session"
    session_path.write_text(json.dumps({"version": 1, "threads": {"default": {"thread": "x"}}}))
    sock_path = str(rig.dir / "alone.sock")

    def lock() -> None:
        fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o600)
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        os.close(fd)

    def bind() -> None:
        with socket.socket(socket.AF_UNIX) as s:
            s.bind(sock_path)
            s.listen()
        os.unlink(sock_path)

    rollouts = sorted((rig.home / "sessions").rglob("rollout-*.jsonl"))

    def mirror() -> None:
        for line in rollouts[-1].read_bytes().splitlines():
            json.loads(line)

    return {
        "config": best(lambda: load_config(str(config)), 20),
        "lock": best(lock, 20),
        "session read": best(lambda: json.loads(session_path.read_bytes()), 20),
        "tool offering": best(bind, 20),
        "mirror + session save": best(mirror, 20) if rollouts else 0.0,
    }


def _say_argv(config: Path, workspace: Path, tools: bool) -> list[str]:
    argv = ["say", "--config", str(config), "--json", "--workspace", str(workspace)]
    return [*argv, *([] if tools else ["--no-tools"]), "--", PROMPT.decode()]


def measure(runs: int) -> dict[bool, dict[str, tuple[float, float]]]:
    """tools → stage → (median seconds in `say`, median seconds alone)."""
    rig = Rig()
    server = ResponsesProcess()
    try:
        config = rig.write_config(real_codex(), provider(server.url))
        bare_argv = codex_exec_argv(real_codex(), server.url)
        env = rig.env()
        ours: dict[bool, list[dict[str, float]]] = {False: [], True: []}
        bare: list[dict[str, float]] = []
        alone: dict[str, list[float]] = {"interpreter start": [], "imports": [], "exit": []}
        modules: list[str] = []
        for i in range(runs + 1):  # the first round warms caches and is not counted
            for tools in (False, True) if i % 2 else (True, False):
                ws = rig.workspace()
                argv = _say_argv(config, ws, tools)
                marks, modules = _probe_run(argv, rig.dir / "probe.json", ws, env)
                if i:
                    ours[tools].append(marks)
            sample = _bare_run(bare_argv, rig.workspace(), env)
            stamp = _python_stamp("import time; print(time.monotonic())")
            imports = _imports_alone(modules)
            leave = _exit_alone()
            if i:
                bare.append(sample)
                alone["interpreter start"].append(stamp)
                alone["imports"].append(imports)
                alone["exit"].append(leave)
        small = _in_process_alone(rig, config)
    finally:
        server.close()
        rig.close()
    codex_alone = {
        "spawn (exec of codex)": statistics.median(b["spawned"] for b in bare),
        "first byte from codex": statistics.median(b["first_byte"] for b in bare),
        "codex's turn": statistics.median(b["turn"] for b in bare),
        "codex's exit": statistics.median(b["exit"] for b in bare),
    }
    base = {k: statistics.median(v) for k, v in alone.items()} | small | codex_alone
    result: dict[bool, dict[str, tuple[float, float]]] = {}
    for tools in (False, True):
        per_run = [stage_times(m) for m in ours[tools]]
        result[tools] = {
            name: (statistics.median(r[name] for r in per_run), base[name]) for name, _, _ in STAGES
        }
        total = statistics.median(m["end"] for m in ours[tools])
        bare_total = statistics.median(sum(b.values()) for b in bare)
        result[tools]["total (wall)"] = (total, bare_total)
    return result


def rows(budget: dict[bool, dict[str, tuple[float, float]]], runs: int) -> list[Figure]:
    figures = []
    for tools, stages in budget.items():
        what = "echo offered" if tools else "no tools"
        for i, (name, (mine, theirs)) in enumerate(stages.items(), 1):
            total = name == "total (wall)"
            figures.append(
                Figure(
                    key="P1b",
                    name=f"budget, {what}: {'' if total else f'{i:2d} '}{name}",
                    baseline=f"{'bare codex exec' if total else 'alone'} {theirs * 1000:.1f} ms",
                    ours=f"{mine * 1000:.1f} ms",
                    ratio=mine / theirs if theirs > 0 else float("inf"),
                    target="",
                    spread=f"gap {(mine - theirs) * 1000:+.1f} ms (medians of {runs})",
                )
            )
    return figures


def figures(runs: int) -> list[Figure]:
    return rows(measure(runs), runs)


def main(argv: list[str] | None = None) -> int:
    import argparse

    from benchmarks.figures import render

    parser = argparse.ArgumentParser(prog="python -m benchmarks.budget", description=__doc__)
    parser.add_argument("-n", "--runs", type=int, default=5)
    args = parser.parse_args(argv)
    print(render(figures(args.runs)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
