"""A cold `say` loads and starts only what its turn needs: no worker thread (its session save and
mirror run on the loop, `turn.backend.blocking_work_on_loop`), none of the modules that cost it
milliseconds for nothing (OpenSSL's hashlib, ssl; shutil and tempfile with bz2 and lzma), and
asyncio, logging, the events and the rollout reader only once codex is spawned (they load while
it starts up)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import ProviderOnFake

# Runs `say` as the console script does (`cli.run`, which leaves by os._exit), and writes what the
# process loaded (by the time it spawned codex, and in all) and which threads it started.
WATCHED_SAY = """
import json, os, sys, threading
out = sys.argv.pop(1)
at_spawn = []
def loaded():
    return sorted(name for name, module in sys.modules.items() if module is not None)
def spawned(event, args):
    if event == "subprocess.Popen" and not at_spawn:
        at_spawn.extend(loaded())
sys.addaudithook(spawned)
started = []
start = threading.Thread.start
def counted(self):
    started.append(self.name)
    start(self)
threading.Thread.start = counted
_exit = os._exit
def leave(code):
    with open(out, "w") as f:
        json.dump({"modules": loaded(), "at_spawn": at_spawn, "threads": started}, f)
    _exit(code)
os._exit = leave
sys.argv = ["plexum-openai-provider", *sys.argv[1:]]
from plexum_openai_provider.cli import run
run()
"""

NOT_NEEDED = ("hashlib", "_hashlib", "ssl", "shutil", "tempfile", "bz2", "lzma")
# What the turn imports while codex starts up (a new thread needs no rollout reader before).
AFTER_THE_SPAWN = (
    "asyncio",
    "logging",
    "plexum_openai_provider.turn.mirror",
    "plexum_openai_provider.events",
    "plexum_openai_provider.turn.approval",
)


@pytest.mark.parametrize("tools", [False, True], ids=["no-tools", "echo-offered"])
def test_a_cold_say_starts_no_thread_and_loads_only_what_it_needs_when_it_needs_it(
    provider: ProviderOnFake, tools: bool
) -> None:
    config = provider.root / "config.json"
    config.write_text(
        json.dumps(
            {
                "binary": provider.config.binary,
                "codex_home": provider.config.codex_home,
                "socket_dir": str(provider.root / "sock"),
            }
        )
    )
    out = provider.root / "watched.json"
    argv = [sys.executable, "-c", WATCHED_SAY, str(out), "say", "--config", str(config), "--json"]
    argv += ["--workspace", str(provider.workspace()), *([] if tools else ["--no-tools"]), "hi"]
    result = subprocess.run(argv, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    events = [json.loads(line) for line in result.stdout.splitlines()]
    assert events[-1]["type"] == "message_end"
    session = json.loads((provider.workspace() / ".plexum-codex-session").read_text())
    saved = session["threads"]["default"]["thread_id"]  # saved on the loop
    assert saved == events[-1]["thread_id"]
    watched = json.loads(Path(out).read_text())
    assert watched["threads"] == []
    assert [name for name in NOT_NEEDED if name in watched["modules"]] == []
    assert "plexum_openai_provider.sessions" in watched["at_spawn"]  # taken when codex started
    assert [name for name in AFTER_THE_SPAWN if name in watched["at_spawn"]] == []
    if not tools:  # the tools' specs name typing's aliases at run time
        assert "typing" not in watched["at_spawn"]
