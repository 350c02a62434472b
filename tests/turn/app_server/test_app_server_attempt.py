"""The app-server attempt's own pieces (its turns run on the fake in tests/integration)."""

from __future__ import annotations

from pathlib import Path

from plexum_openai_provider.turn.app_server.app_server_attempt import rollout_end
from plexum_openai_provider.turn.mirror import RolloutPosition


def test_a_rollout_whose_size_cannot_be_read_leaves_the_start_unknown_instead_of_raising(
    tmp_path: Path,
) -> None:
    # app-server's `thread.path` is codex's word: a path that cannot be stat'ed (here: a name
    # too long) must not end the turn; the mirror then locates the rollout afresh.
    assert rollout_end(tmp_path / ("x" * 300)) == RolloutPosition(None, 0)
    assert rollout_end(tmp_path / "missing.jsonl") == RolloutPosition(tmp_path / "missing.jsonl", 0)
    (tmp_path / "r.jsonl").write_bytes(b"{}\n")
    assert rollout_end(tmp_path / "r.jsonl") == RolloutPosition(tmp_path / "r.jsonl", 3)
