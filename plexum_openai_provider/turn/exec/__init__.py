"""The `exec` backend (the default): one `codex exec [resume]` process per attempt.

`exec_attempt` spawns codex, writes the prompt to its stdin and reaps it; `stdout_loop` frames and
reads its stdout under the turn's clock; `mapper` turns exec events into canonical events. The
turn's tools reach codex as `-c` options on its argv (`turn/tools.py`). Loaded lazily: a cold
`say` imports the stream machinery only once codex is spawned — by `head_start`, before asyncio.
"""

from __future__ import annotations

import contextlib

from ...config import codex_env

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (mypy knows the name)
if TYPE_CHECKING:  # the seam loads asyncio: `head_start` must import this room without it
    from typing import Any

    from ..backend import AttemptEvents, AttemptSetup, ToolSetup


class ExecBackend:
    """`Backend` for `codex exec`: tools as `-c` options, one process per attempt."""

    steers = False  # `codex exec` reads its prompt once; nothing reaches a running turn

    def offer_tools(self, setup: ToolSetup) -> contextlib.AbstractAsyncContextManager[Any]:
        from ..tools import offer_tools  # the bridge: only turns with tools need it

        request = setup.request
        return offer_tools(
            setup.config,
            request.agent_id,
            request.tools,
            setup.call,
            codex_pid=setup.codex_pid,
            env=codex_env(setup.config),
            listener=setup.listener,
        )

    def attempt(self, setup: AttemptSetup, tools: Any) -> AttemptEvents:
        from .exec_attempt import ExecAttempt

        return ExecAttempt(setup, extra_args=tuple(tools or ())).run()


BACKEND = ExecBackend()
