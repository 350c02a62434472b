"""The MCP side of the fake: the `codex mcp` command (config.toml entries) and codex's MCP client
(stdio servers started per thread, `tools/list`, `tools/call`), standard library only.
"""
