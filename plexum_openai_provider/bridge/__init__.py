"""The MCP bridge: Plexum's dynamic tools exposed to codex for the length of a turn.

Deliberately empty: `mcp-host` (`bridge.relay`) runs on codex's critical path, so nothing here may
import more than it needs. Import the submodules (`names`, `socket_path`, `peers`, `spec`, `server`,
`registration`, `relay`) directly.
"""
