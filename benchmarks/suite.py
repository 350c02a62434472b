"""P6: the test commands' wall time against their budgets (the tests must also pass).

The commands are the README's, read from it each run (`readme_command`): the fast loop (the line
commented `# the fast loop`) ≤ 60 s on 2 cores; with `full`, the test command too (`# the test
command`: install, lint, type-check, every test but `live`) against 4 minutes. `--quick` only
smokes two small folders.
"""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
import time
from pathlib import Path

from benchmarks.figures import Figure

ROOT = Path(__file__).resolve().parents[1]
FAST_LOOP, TEST_COMMAND = "the fast loop", "the test command"
BUDGET_S = {FAST_LOOP: 60.0, TEST_COMMAND: 240.0}
_SHELL_BLOCK = re.compile(r"^```sh\n(.*?)^```", re.MULTILINE | re.DOTALL)


def readme_command(label: str, readme: Path = ROOT / "README.md") -> list[str]:
    """The command a `sh` block of the README comments with `# <label>` (continuation lines
    joined), as argv. Raises LookupError when the README documents none."""
    for block in _SHELL_BLOCK.findall(readme.read_text(encoding="utf-8")):
        for line in block.replace("\\\n", " ").splitlines():
            command, _, comment = line.partition(" #")
            if comment.strip().startswith(label):
                return shlex.split(command)
    raise LookupError(f"the README documents no command commented `# {label}`")


def _run(argv: list[str], timeout: float) -> float:
    start = time.perf_counter()
    proc = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, timeout=timeout)
    took = time.perf_counter() - start
    if proc.returncode != 0:
        tail = "\n".join(proc.stdout.splitlines()[-15:])
        raise RuntimeError(f"{shlex.join(argv)} failed (exit {proc.returncode}):\n{tail}")
    return took


def _figure(name: str, took: float, budget: float, command: str = "") -> Figure:
    return Figure(
        key="P6",
        name=name,
        baseline=f"budget {budget:.0f} s",
        ours=f"{took:.0f} s",
        ratio=took / budget,
        target="<= 1",
        spread="one run",
        note=f"`{command}`, as the README documents it" if command else "",
    )


def test_suite(quick: bool, full: bool) -> list[Figure]:
    if quick:
        smoke = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"]
        took = _run([*smoke, "tests/codex", "tests/jsonrpc"], timeout=300)
        return [_figure("pytest tests/codex tests/jsonrpc (smoke)", took, 60)]
    labels = [FAST_LOOP, TEST_COMMAND] if full else [FAST_LOOP]
    figures = []
    for label in labels:
        argv = readme_command(label)
        took = _run(argv, timeout=BUDGET_S[label] * 5)
        figures.append(_figure(label, took, BUDGET_S[label], shlex.join(argv)))
    return figures
