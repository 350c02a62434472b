"""fake-codex: a scriptable stand-in for the OpenAI codex CLI (see docs/scenarios.md)."""
