"""`mcp-host`: the MCP stdio server codex starts for a Plexum agent. STANDARD LIBRARY ONLY.

Codex launches it on every exec and gives it about a second, so neither this module nor its route
from the console script may import the package facade, the runner or the `mcp` SDK. It reads
PLEXUM_MCP_SOCKET / PLEXUM_MCP_AGENT_ID (set by the registration) and hands over to
`bridge.relay`. Run as `plexum-openai-provider mcp-host` or
`python -m plexum_openai_provider.mcp_host`.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence

from plexum_openai_provider import __version__
from plexum_openai_provider.bridge import relay

SOCKET_ENV = "PLEXUM_MCP_SOCKET"
AGENT_ENV = "PLEXUM_MCP_AGENT_ID"


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; `argv` may be empty or the single word `mcp-host` (from a registration)."""
    args = list(sys.argv[1:] if argv is None else argv)
    if args and args[0] == "mcp-host":
        args = args[1:]
    if args:
        print(
            f"mcp-host takes no arguments (got {args!r}); configure it through "
            f"{SOCKET_ENV} and {AGENT_ENV}",
            file=sys.stderr,
        )
        return 2
    socket_path = os.environ.get(SOCKET_ENV) or None
    agent_id = os.environ.get(AGENT_ENV, "")
    try:
        return relay.run(socket_path, agent_id, __version__)
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
