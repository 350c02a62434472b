"""`consume`: blank tool calls of a session's codex thread by block id (codex's call ids).

Exit 0 when every id was found, 1 when some were unknown (the known ones are still consumed) or
consume could not run, 2 on a usage or config error. `--json` prints `{consumed, unknown}`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from pathlib import Path

from ..config import load_config
from ..consume import consume_blocks
from ..errors import ConfigError, ConsumeError, ProviderError
from ..files import directory_problem


def consume(args: argparse.Namespace) -> int:
    try:
        config = load_config(args.config)
    except ConfigError as exc:
        print(f"plexum-openai-provider: config error: {exc}", file=sys.stderr)
        return 2
    workspace = Path(args.workspace).resolve()
    problem = directory_problem(workspace)
    if problem is not None:
        print(f"plexum-openai-provider: workspace {workspace} {problem}", file=sys.stderr)
        return 2
    try:
        result = asyncio.run(consume_blocks(config, workspace, args.session, args.block_ids))
    except (ConsumeError, ProviderError, OSError, ValueError) as exc:
        print(f"plexum-openai-provider: consume failed: {exc}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps(result.to_json()))
    else:
        for block_id in sorted(result.consumed):
            print(f"consumed {block_id}")
        for block_id in sorted(result.unknown):
            print(f"unknown  {block_id} (not a call of this session's thread)", file=sys.stderr)
    return 1 if result.unknown else 0
