"""A stand-in `codex app-server` that wraps a real one (the fake or a pinned real codex) and
mistreats one chosen request: the race windows of the warm backend made wide.

`stand_in(dir, binary, {method: action})` writes an executable that runs `binary app-server …`
and relays both pipes line by line, except for the first request of each named method:
`drop` (never forwarded, never answered), `drop_reply` (forwarded, its reply swallowed),
`error` (answered with a JSON-RPC error, not forwarded), `pad` (its reply padded with spaces to
`pad_bytes`). Each such request is noted in `<dir>/seen` (one method per line) as it arrives, so a
test waits on that file instead of guessing how long the relay takes.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

SCRIPT = r"""#!{python}
import json, subprocess, sys, threading
REAL = {real!r}
RULES = json.loads({rules!r})
SEEN = {seen!r}
PAD = {pad!r}
child = subprocess.Popen([REAL, *sys.argv[1:]], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
out = sys.stdout.buffer
write_lock = threading.Lock()
held = {{}}

def send(raw):
    with write_lock:
        out.write(raw)
        out.flush()

def upstream():
    for raw in sys.stdin.buffer:
        try:
            msg = json.loads(raw)
        except ValueError:
            msg = None
        method = msg.get("method") if isinstance(msg, dict) else None
        action = RULES.pop(method, None) if "id" in (msg or {{}}) else None
        if action is not None:
            with open(SEEN, "a") as f:
                f.write(method + "\n")
            if action == "drop":
                continue
            if action == "error":
                err = {{"code": -32603, "message": "stand-in refuses " + method}}
                send(json.dumps({{"id": msg["id"], "error": err}}).encode() + b"\n")
                continue
            held[msg["id"]] = action
        child.stdin.write(raw)
        child.stdin.flush()
    child.stdin.close()

threading.Thread(target=upstream, daemon=True).start()
for raw in child.stdout:
    try:
        msg = json.loads(raw)
    except ValueError:
        msg = None
    action = None
    if isinstance(msg, dict) and "method" not in msg and msg.get("id") in held:
        action = held.pop(msg["id"])
    if action == "drop_reply":
        continue
    if action == "pad":
        raw = raw.rstrip(b"\n") + b" " * PAD + b"\n"
    send(raw)
sys.exit(child.wait())
"""


def stand_in(directory: Path, binary: str, rules: dict[str, str], *, pad_bytes: int = 0) -> Path:
    """Write the stand-in into `directory` and return its path (its `seen` file beside it)."""
    directory.mkdir(parents=True, exist_ok=True)
    script = directory / "codex-stand-in"
    seen = directory / "seen"
    body = SCRIPT.format(
        python=sys.executable, real=binary, rules=json.dumps(rules), seen=str(seen), pad=pad_bytes
    )
    script.write_text(body)
    script.chmod(0o755)
    return script


def seen(directory: Path) -> list[str]:
    """The methods the stand-in has mistreated so far."""
    path = directory / "seen"
    return path.read_text().split() if path.exists() else []
