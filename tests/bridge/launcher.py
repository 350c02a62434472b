"""A stand-in for one agent's codex: writes its pid to argv[1], then runs `mcp-host` as its CHILD.

Used by the isolation tests: the warm server accepts a caller only when the caller's pid descends
from "its" codex, so the test needs a known ancestor pid for the relay it starts.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

if __name__ == "__main__":
    Path(sys.argv[1]).write_text(str(os.getpid()))
    sys.exit(subprocess.call([sys.executable, "-m", "plexum_openai_provider.bridge.relay"]))
