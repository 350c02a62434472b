"""codex's agent loop as exec and app-server share it: a turn played from the scenario's model
replies (`runner`), the tools codex runs for the model, and the rollout it records and reads back.

Imports `core/` (and `mcp/` for its types); never `exec/` or `app_server/`.
"""
