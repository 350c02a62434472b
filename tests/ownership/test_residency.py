"""The warm server's loaded-thread bookkeeping: idle unload, the LRU cap, threads in use kept."""

from __future__ import annotations

from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from plexum_openai_provider.ownership.residency import Residency, RolloutMark

A, B, C = "thread-a", "thread-b", "thread-c"


def test_an_idle_thread_falls_due_after_idle_s_and_not_before() -> None:
    r = Residency(idle_s=30, max_loaded=None)
    r.use(A, 0)
    r.done(A, 1)
    assert r.due(30.9) == []
    assert r.next_due(1) == 30
    assert r.due(31) == [A]


def test_a_thread_in_use_is_never_due_however_old() -> None:
    r = Residency(idle_s=1, max_loaded=0)
    r.use(A, 0)
    assert r.due(1000) == []
    assert r.next_due(1000) is None
    r.done(A, 1000)
    assert r.due(1000) == [A]


def test_beyond_the_cap_the_least_recently_used_go_first() -> None:
    r = Residency(idle_s=None, max_loaded=2)
    for t, now in ((A, 1), (B, 2), (C, 3)):
        r.use(t, now)
        r.done(t, now)
    r.use(A, 4)
    r.done(A, 4)  # A is now the most recent: B is the oldest
    assert r.due(5) == [B]
    r.forget(B)
    assert r.due(5) == [] and len(r) == 2 and B not in r


def test_idle_and_cap_together_do_not_count_a_thread_twice() -> None:
    r = Residency(idle_s=10, max_loaded=1)
    for t, now in ((A, 0), (B, 1), (C, 20)):
        r.use(t, now)
        r.done(t, now)
    # A and B are idle; after them one thread is left, within the cap.
    assert r.due(20) == [A, B]


def test_no_limits_never_unload() -> None:
    r = Residency(idle_s=None, max_loaded=None)
    r.use(A, 0)
    r.done(A, 0)
    assert r.due(10**9) == [] and r.next_due(10**9) is None


@given(
    st.lists(st.tuples(st.sampled_from([A, B, C]), st.booleans()), max_size=30),
    st.integers(0, 3),
)
def test_after_unloading_what_is_due_the_cap_holds_unless_threads_are_in_use(
    steps: list[tuple[str, bool]], cap: int
) -> None:
    r = Residency(idle_s=None, max_loaded=cap)
    now = 0.0
    for thread_id, finish in steps:
        now += 1
        r.use(thread_id, now)
        if finish:
            r.done(thread_id, now)
    due = r.due(now)
    assert len(set(due)) == len(due)
    for thread_id in due:
        r.forget(thread_id)
    in_use = sum(1 for t in (A, B, C) if t in r and t not in due and r._threads[t].in_use)
    assert len(r) <= max(cap, in_use)


def test_a_rollout_mark_moves_with_an_append_and_a_rewrite(tmp_path: Path) -> None:
    path = tmp_path / "rollout.jsonl"
    path.write_text("{}\n")
    first = RolloutMark.of(path)
    assert first is not None and RolloutMark.of(path) == first
    with path.open("a") as f:
        f.write("{}\n")
    appended = RolloutMark.of(path)
    assert appended != first
    (tmp_path / "new").write_text("{}\n{}\n")
    (tmp_path / "new").replace(path)
    assert RolloutMark.of(path) not in (first, appended)
    assert RolloutMark.of(tmp_path / "missing") is None
