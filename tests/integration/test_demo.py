"""The README's first command works: `bash scripts/demo` runs the whole stack on the fake codex."""

from __future__ import annotations

import subprocess
from pathlib import Path

ROOT = Path(__file__).parents[2]


def test_the_demo_script_runs_turn_tool_call_consume_and_resume() -> None:
    result = subprocess.run(
        ["bash", "scripts/demo"], cwd=ROOT, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    assert '"kind": "mcp_tool_call"' in out
    assert '{"consumed": ["call_demo_echo"], "unknown": []}' in out
    assert "minus the consumed payload" in out
    assert out.count('"type": "message_end"') == 3
