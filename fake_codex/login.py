"""`codex login status` (codex-facts §7): all text on stderr, rc 1 when not logged in.

An `auth.json` with `auth_mode: apikey` reports the key masked as `sk-test-***bcdef`, in the
emulated version's words; an `OPENAI_API_KEY` in the environment does not count. Only reads, so
no CODEX_HOME guard.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping

from fake_codex.core import clap
from fake_codex.core.home import home_for_reading
from fake_codex.core.versions import Behaviour


def mask_key(key: str) -> str:
    """First 8 and last 5 characters around `***`, as codex shows an API key."""
    if len(key) <= 13:
        return "***"
    return f"{key[:8]}***{key[-5:]}"


def status_text(auth: object, behaviour: Behaviour) -> tuple[str, int]:
    if isinstance(auth, dict):
        key = auth.get("OPENAI_API_KEY")
        if auth.get("auth_mode", "apikey") == "apikey" and isinstance(key, str) and key:
            if not behaviour.api_key_configured_text:
                return f"Logged in using an API key - {mask_key(key)}\n", 0
            text = f"API key configured - {mask_key(key)}\n"
            return text + "Authentication is checked when you send a request.\n", 0
        if auth.get("tokens"):
            return "Logged in using ChatGPT\n", 0
    return "Not logged in\n", 1


def run_login(args: list[str], environ: Mapping[str, str], behaviour: Behaviour) -> int:
    if args in (["-h"], ["--help"]):
        sys.stdout.write(f"Manage login (fake-codex)\n\n{clap.USAGE_LOGIN}\n")
        return 0
    if not args:
        sys.stderr.write(
            "fake-codex: interactive `codex login` is not emulated; use `login status`\n"
        )
        return 70
    if args != ["status"]:
        wrong = args[0]
        if wrong.startswith("-"):
            raise clap.unexpected_argument(wrong, clap.USAGE_LOGIN)
        raise clap.unrecognized_subcommand(wrong, clap.USAGE_LOGIN)
    path = home_for_reading(environ) / "auth.json"
    try:
        auth: object = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        auth = None
    text, code = status_text(auth, behaviour)
    sys.stderr.write(text)
    return code
