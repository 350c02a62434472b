"""Run one socket-dir/listener action as the (unprivileged) user this process runs as.

Permission tests start it under `setpriv --reuid=65534 …`, because root bypasses file permissions
and the checks could never fail. Prints one JSON object: what happened, modes seen.
"""

from __future__ import annotations

import json
import os
import socket
import stat
import sys
from pathlib import Path

from plexum_openai_provider.bridge.socket_path import bind_listener, ensure_socket_dir
from plexum_openai_provider.errors import BridgeError


def main(action: str, target: str) -> dict[str, object]:
    path = Path(target)
    try:
        if action == "ensure-dir":
            ensure_socket_dir(path)
            return {"ok": True, "dir_mode": stat.S_IMODE(os.stat(path).st_mode)}
        if action == "bind":
            listener = bind_listener(path)
            modes = {
                "dir_mode": stat.S_IMODE(os.stat(path.parent).st_mode),
                "sock_mode": stat.S_IMODE(os.lstat(path).st_mode),
            }
            # Stay alive until the test says so: the listener must be live while others probe it.
            print(json.dumps({"ok": True, "listening": True, **modes}), flush=True)
            sys.stdin.read()
            listener.close()
            return {"ok": True, "closed": True}
        if action == "connect":
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
                s.connect(target)
            return {"ok": True}
    except BridgeError as exc:
        return {"ok": False, "error": type(exc).__name__, "message": str(exc)}
    except OSError as exc:
        return {"ok": False, "error": type(exc).__name__, "errno": exc.errno}
    raise SystemExit(f"unknown action {action}")


if __name__ == "__main__":
    print(json.dumps(main(sys.argv[1], sys.argv[2])), flush=True)
