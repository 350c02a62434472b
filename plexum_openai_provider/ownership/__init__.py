"""Who owns a codex thread: codex's per-thread writer lock and the processes that hold a file."""
