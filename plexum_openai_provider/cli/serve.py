"""`serve`: the Plexum daemon's way in — the JSON-RPC protocol of docs/protocol.md on stdio.

Exit 0 after `shutdown`, EOF on stdin, SIGTERM, SIGINT or SIGHUP (running turns cancelled, codex
reaped); 2 when config.json is invalid (the reason on stderr, before any protocol message).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys

from .. import ConfigError, load_config


def serve(args: argparse.Namespace) -> int:
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        stream=sys.stderr,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    try:
        config = load_config(args.config)
    except ConfigError as exc:
        print(f"plexum-openai-provider: config error: {exc}", file=sys.stderr)
        return 2
    from ..door.stdio import serve_stdio

    return asyncio.run(serve_stdio(config, max_line_bytes=args.max_line_bytes))
