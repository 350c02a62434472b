"""Conformance harness: run the REAL codex CLI offline against a scripted Responses server.

`responses_server` serves a scenario's replies (docs/scenarios.md) to codex; `codex_env` builds the
argv and environment that point codex at it with no credentials; `realcodex` finds the pinned
native binaries installed by `scripts/install_codex.py`.
"""
