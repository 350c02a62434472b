"""The give-back's decisions that do not need a codex: the version from `userAgent`, which unload
a version gets, and that a changed rollout is only looked for where codex takes no lock."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from plexum_openai_provider.turn.app_server.give_back import GiveBack
from plexum_openai_provider.turn.app_server.params import codex_version


@dataclass
class Server:
    """What the keeper reads of a server (a real one needs a codex process)."""

    user_agent: str
    loaded: set[str] = field(default_factory=set)
    alive: bool = True


def keeper(user_agent: str, **limits: Any) -> GiveBack:
    return GiveBack(Server(user_agent), idle_s=limits.get("idle_s"), max_loaded=None)  # type: ignore[arg-type]


def test_the_version_is_read_from_the_user_agent() -> None:
    assert codex_version("plexum/0.171.0 (Debian 12.0.0; x86_64) xterm (plexum; 0)") == (0, 171, 0)
    assert codex_version("client/0.150.1 (fake-codex)") == (0, 150, 1)
    assert codex_version("no version here") is None


def test_unsubscribe_unloads_from_0169_on() -> None:
    got = [
        keeper(f"c/{v} (x)").unsubscribe_unloads
        for v in ("0.135.0", "0.150.1", "0.169.0", "0.171.0")
    ]
    assert got == [False, False, True, True]
    assert keeper("unknown").unsubscribe_unloads is False


def test_a_changed_rollout_is_looked_for_only_where_codex_takes_no_lock(tmp_path: Path) -> None:
    rollout = tmp_path / "r.jsonl"
    rollout.write_text("{}\n")
    for version, expected in (("0.135.0", True), ("0.150.1", False), ("0.171.0", False)):
        k = keeper(f"c/{version} (x)")
        k.server.loaded.add("t")
        k.use("t")
        k.loaded("t", rollout)
        k.done("t", ended=True)
        assert k.changed_elsewhere("t") is False
        with rollout.open("a") as f:
            f.write("{}\n")  # another process appends
        assert k.changed_elsewhere("t") is expected, version


def test_after_a_turn_that_did_not_end_nothing_is_compared(tmp_path: Path) -> None:
    rollout = tmp_path / "r.jsonl"
    rollout.write_text("{}\n")
    k = keeper("c/0.135.0 (x)")
    k.server.loaded.add("t")
    k.use("t")
    k.loaded("t", rollout)
    k.done("t", ended=False)  # interrupted: codex may still write
    with rollout.open("a") as f:
        f.write("{}\n")
    assert k.changed_elsewhere("t") is False


def test_a_thread_in_use_keeps_its_place_when_it_is_reloaded() -> None:
    k = keeper("c/0.171.0 (x)", idle_s=0)
    k.server.loaded.add("t")
    k.use("t")
    k.server.loaded.discard("t")
    k.forget("t")  # the turn reloads it (unload, then resume)
    assert "t" in k.residency and k.residency.due(10**6) == []
    k.done("t", ended=True)  # the resume failed: not loaded, so forgotten
    assert "t" not in k.residency
