"""codex's refusal of a thread another process writes, read from its texts (pure)."""

from __future__ import annotations

from plexum_openai_provider.codex.writer_conflict import conflict_thread


def test_conflict_thread_reads_both_of_codexs_refusals() -> None:
    tid = "01a24876-6e8c-7680-93ee-98a687165f97"
    stderr = (
        "WARNING: proceeding, even though we could not create PATH aliases: …\n"
        f"2026-12-05T23:07:31.698584Z ERROR codex_core::session: Failed to create session: "
        f"thread-store conflict: thread {tid} already has an active writer\n"
        f"Error: thread/resume: thread/resume failed: thread {tid} already has an active writer "
        "(code -32600)\n"
    )
    assert conflict_thread(stderr) == tid
    assert conflict_thread(f"thread {tid} already has an active writer") == tid
    assert conflict_thread("thread ../x already has an active writer") is None
    assert conflict_thread("Error: no rollout found for thread id x") is None
