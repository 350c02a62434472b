"""The README's first command works: `bash scripts/demo` runs the whole stack on the fake codex
through `serve` and the reference host, and each step shows what it should."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).parents[2]


def test_the_demo_script_shows_every_step_and_the_model_side_proof(tmp_path: Path) -> None:
    env = {**os.environ, "TMPDIR": str(tmp_path), "HOME": str(tmp_path / "user-home")}
    result = subprocess.run(
        ["bash", "scripts/demo"], cwd=ROOT, capture_output=True, text=True, timeout=300, env=env
    )
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    out = result.stdout

    def after(heading: str) -> list[str]:
        start = next(i for i, line in enumerate(lines) if line.startswith(f"== {heading}"))
        end = next((i for i in range(start + 1, len(lines)) if lines[i].startswith("== ")), None)
        return [line for line in lines[start + 1 : end] if line]

    turn1 = after("turn 1")
    assert "you    > Hello, codex" in turn1
    assert any(line.startswith("codex  > Hello! I am the fake codex") for line in turn1)
    assert "usage  > this turn in 120 out 14 · thread total in 120 out 14" in turn1
    thread = re.search(r"resumes thread (\S+)", out)
    assert thread is not None
    turn2 = after("turn 2")
    assert f"resumes thread {thread.group(1)}" in out.split("== turn 2")[1].splitlines()[0]
    assert "mcp    > codex calls read_report: codex -> mcp-host -> serve -> the host" in turn2
    assert any("-> block call_demo_echo" in line for line in turn2)
    assert any("-> block call_demo_report" in line for line in turn2)
    assert any(
        line.startswith("result > call_demo_report: report row 0001") and "(+119 lines)" in line
        for line in turn2
    )
    assert any(line.startswith("usage  > this turn in 4,260 out 48") for line in turn2)
    records = after("the host's records")
    assert records[0].startswith("block  > call_demo_echo  echo")
    assert records[1].startswith("block  > call_demo_report  read_report  5,972 bytes")
    assert after("consume") == ["plugin > consumed call_demo_report"]
    turn3 = after("turn 3")
    assert any("report rows are no longer in my context" in line for line in turn3)
    sent = after("what the model was sent")
    assert "sent   > call_demo_report output: ...(tool called)" in sent
    assert "sent   > call_demo_echo output: note: the user wants the Q3 totals" in sent
    assert any(line.startswith("proof  > the report's rows") for line in sent)
    approvals = after("approvals")
    asked = [line for line in approvals if line.startswith("asked  > ")]
    assert len(asked) == 2
    assert "approved-by-the-host" in asked[0] and asked[0].endswith("-> approve")
    assert "declined-by-the-host" in asked[1] and asked[1].endswith("-> decline")
    assert "proof  > approved-by-the-host was written; declined-by-the-host was not" in approvals
    # Nothing left behind: no throwaway folder, no ~/.codex or ~/.plexum in the HOME it ran with.
    assert list(tmp_path.glob("plexum-demo.*")) == []
    assert not (tmp_path / "user-home" / ".codex").exists()
    assert not (tmp_path / "user-home" / ".plexum").exists()


def test_demo_json_prints_raw_events_consume_and_the_recorded_request(tmp_path: Path) -> None:
    env = {**os.environ, "TMPDIR": str(tmp_path)}
    argv = [sys.executable, "-m", "plexum_openai_provider.cli", "demo", "--json", "--keep"]
    result = subprocess.run(argv, capture_output=True, text=True, timeout=300, env=env)
    assert result.returncode == 0, result.stderr
    records = [json.loads(line) for line in result.stdout.splitlines()]
    events = [r for r in records if "event" in r]
    ends = [r["event"] for r in events if r["event"]["type"] == "message_end"]
    assert len(ends) == 3 and len({e["thread_id"] for e in ends}) == 1
    assert sorted({r["turn_id"] for r in events}) == ["demo-turn-1", "demo-turn-2", "demo-turn-3"]
    consume = [r["consume"] for r in records if "consume" in r]
    assert consume == [{"consumed": ["call_demo_report"], "unknown": []}]
    sent = next(r["model_input"] for r in records if "model_input" in r)
    outputs = {i["call_id"]: i["output"] for i in sent if i["type"] == "function_call_output"}
    assert outputs["call_demo_report"] == "...(tool called)"
    kept = list(tmp_path.glob("plexum-demo.*"))
    assert len(kept) == 1 and (kept[0] / "host-data" / "demo" / "demo-session").is_dir()
    blocks = (kept[0] / "host-data" / "demo" / "demo-session" / "dynamic.jsonl").read_text()
    report = next(json.loads(b) for b in blocks.splitlines() if "call_demo_report" in b)
    assert report["consumed"] is True and report["output"] is None
    shutil.rmtree(kept[0])


def test_scripts_demo_says_it_is_installing_on_a_first_run_only(tmp_path: Path) -> None:
    # A copy of the script beside a stand-in bootstrap that "installs" a stand-in command.
    (tmp_path / "scripts").mkdir()
    shutil.copy(ROOT / "scripts" / "demo", tmp_path / "scripts" / "demo")
    (tmp_path / "scripts" / "bootstrap").write_text(
        "mkdir -p .venv/bin\n"
        "cmd=.venv/bin/plexum-openai-provider\n"
        "printf '#!/bin/sh\\necho \"the demo ran with: $*\"\\n' > $cmd\n"
        "chmod +x $cmd\n"
    )

    def run() -> str:
        done = subprocess.run(
            ["bash", str(tmp_path / "scripts" / "demo"), "--json"],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert done.returncode == 0, done.stderr
        return done.stdout

    first, second = run(), run()
    assert first.startswith("First run: installing plexum-openai-provider")
    assert first.rstrip().endswith("the demo ran with: demo --json")
    assert second == "the demo ran with: demo --json\n"
