"""Codex's own formats and nothing else: exec argv, stdout lines and events, rollouts, MCP entries.

Pure where it can be; no module here knows about turns, sockets or the host.
"""
