"""A minimal codex wrapper (NOT plexum-openai-provider): one `codex exec --json` turn, its final
message back. The example a wrapper's own tests start from (test_codex_final.py)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path


class CodexFailed(RuntimeError):
    """The turn failed: codex's own message, or its exit code and the tail of its stderr."""


def final_message(prompt: str, *, cwd: Path | None = None, timeout: float = 600) -> str:
    """Run one turn on `prompt` and return the last agent message of the completed turn.

    The prompt goes through stdin (`-`), so any text is safe, and stdin is closed after it."""
    argv = ["codex", "exec", "--json", "--skip-git-repo-check", "--", "-"]
    proc = subprocess.run(
        argv, input=prompt, capture_output=True, text=True, cwd=cwd, timeout=timeout
    )
    last: str | None = None
    completed = False
    for line in proc.stdout.splitlines():
        try:
            event = json.loads(line)
        except ValueError:
            continue  # stdout is JSONL; never let one odd line hide the answer
        kind = event.get("type")
        item = event.get("item") or {}
        if kind == "item.completed" and item.get("type") == "agent_message":
            last = item.get("text")
        elif kind == "turn.failed":
            raise CodexFailed(event["error"]["message"])
        elif kind == "turn.completed":
            completed = True
    if proc.returncode != 0 or not completed or last is None:
        raise CodexFailed(f"codex exited {proc.returncode}: {proc.stderr.strip()[-500:]}")
    return last
