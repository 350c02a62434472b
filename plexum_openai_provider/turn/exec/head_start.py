"""A cold `say`'s head start: codex spawned before asyncio and the turn machinery are imported, so
those imports (half of a cold `say`'s own cost) run while codex starts up. Imported alone, before
them: it loads only the config, the session store, the argv builder and the rollout locator.

Only for a plain exec turn that would start at once: no images, output schema, effort or codex
options, tools only in mode `per-turn`, a prompt the turn accepts, the workspace lock free now, a
session that keeps its model. Anything else gives None, and the turn starts codex itself as
always. What it does before the spawn is what the turn would do — take the lock, read the
session, note where the rollout ends, bind the agent's tool socket, build the argv — and the turn
adopts the process only when it would have started that very argv for that thread; otherwise
`discard` stops it and the turn starts its own. The socket is bound before codex starts, so
mcp-host's connection waits in its backlog until the turn serves it.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ...codex.argv import build_exec_argv
from ...config import HostConfig, codex_env
from ...errors import BridgeError, ConfigError, SessionStoreError
from ...sessions import SessionStore, ThreadRecord, try_workspace_lock
from ..mirror import RolloutPosition, start_position
from ..request import TurnRequest, prompt_problem

if TYPE_CHECKING:
    from ...bridge.socket_path import Listener

# A fresh pipe holds 64 KiB on Linux: a prompt that fits is written without waiting on codex.
PROMPT_LIMIT = 64 * 1024


@dataclass
class HeadStart:
    """A codex started for a turn, with what the turn would have read and held before it."""

    popen: subprocess.Popen[bytes]
    lock_fd: int  # the workspace lock, held since before the session was read
    record: ThreadRecord | None
    model_arg: str | None
    start: RolloutPosition
    argv: list[str]
    prompt_error: BaseException | None  # the prompt could not be written: codex was killed
    listener: Listener | None = None  # the agent's tool socket, bound before codex started
    lock_taken: bool = False  # the turn holds the lock now (and releases it)
    process_taken: bool = False  # an attempt adopted codex (and reaps it)

    def take_lock(self) -> int:
        self.lock_taken = True
        return self.lock_fd

    def take_listener(self) -> Listener | None:
        listener, self.listener = self.listener, None
        return listener

    def matches(self, argv: list[str], record: ThreadRecord | None) -> bool:
        """Whether this is the codex the attempt would start: same argv, same thread."""
        return not self.process_taken and argv == self.argv and record == self.record

    def stop_process(self) -> None:
        """Stop and reap codex and what it left in its group, unless an attempt adopted it."""
        if self.process_taken:
            return
        self.process_taken = True
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.popen.pid, signal.SIGKILL)
        self.popen.wait()
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.popen.pid, signal.SIGKILL)
        for pipe in (self.popen.stdout, self.popen.stderr):
            if pipe is not None:
                pipe.close()

    def discard(self) -> None:
        """Whatever the turn did not take over: codex stopped and reaped, the lock released."""
        self.stop_process()
        listener = self.take_listener()
        if listener is not None:
            listener.close()
        if not self.lock_taken:
            self.lock_taken = True
            os.close(self.lock_fd)


def head_start(config: HostConfig, request: TurnRequest) -> HeadStart | None:
    """Start codex for `request` now, or None when the turn should start it itself."""
    tools_ok = not request.tools or (
        config.mcp_registration == "per-turn" and request.call_tool is not None
    )
    plain = tools_ok and not (
        request.images
        or request.output_schema is not None
        or request.reasoning_effort is not None
        or request.codex_options
    )
    if config.backend != "exec" or not plain or prompt_problem(request.prompt) is not None:
        return None
    prompt = request.prompt.encode("utf-8")
    if len(prompt) > PROMPT_LIMIT or not request.workspace.is_dir():
        return None
    try:
        model_arg = config.model_arg(request.model)
        lock_fd = try_workspace_lock(request.workspace)
    except (ConfigError, OSError):
        return None
    if lock_fd is None:
        return None  # another turn runs here: the turn waits for it under its clock
    try:
        started = _spawn(config, request, prompt, lock_fd, model_arg)
    except BaseException:
        os.close(lock_fd)
        raise
    if started is None:
        os.close(lock_fd)
    return started


def _spawn(
    config: HostConfig, request: TurnRequest, prompt: bytes, lock_fd: int, model_arg: str | None
) -> HeadStart | None:
    try:
        record = SessionStore(request.workspace).get(request.session_id)
    except (SessionStoreError, OSError):
        return None  # the turn reports it
    if record is not None and record.model_arg != model_arg:
        return None  # the turn warns that the thread keeps its model
    listener, tool_args = _bind_tools(config, request)
    if request.tools and listener is None:
        return None  # the turn reports why the tools cannot be offered
    argv = build_exec_argv(
        config.binary,
        resume_thread_id=record.thread_id if record else None,
        model_arg=model_arg,
        extra_args=[*config.extra_args, *tool_args],
    )
    start = start_position(config, record)  # before codex appends this turn's lines
    try:
        popen = subprocess.Popen(
            argv,
            cwd=request.workspace,
            env=codex_env(config),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,
        )
    except OSError:
        if listener is not None:
            listener.close()
        return None  # the turn tries again and reports why it cannot start codex
    prompt_error: BaseException | None = None
    assert popen.stdin is not None
    try:
        popen.stdin.write(prompt)
        popen.stdin.close()
    except OSError as exc:
        # As the turn does: codex must not wait for EOF forever (or answer half a prompt).
        prompt_error = exc
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(popen.pid, signal.SIGKILL)
        with contextlib.suppress(OSError):
            popen.stdin.close()
    return HeadStart(popen, lock_fd, record, model_arg, start, argv, prompt_error, listener)


def _bind_tools(config: HostConfig, request: TurnRequest) -> tuple[Listener | None, list[str]]:
    """The agent's socket bound and the `-c` options that make codex start `mcp-host`, as the
    turn's `offer_tools` would make them (mode `per-turn`); (None, []) without tools or when
    the socket cannot be had."""
    if not request.tools:
        return None, []
    from ...bridge.socket_path import bind_listener
    from ..tools import agent_socket, per_turn_args

    try:
        socket_path = agent_socket(config, request.agent_id)
        return bind_listener(socket_path), per_turn_args(request.agent_id, socket_path)
    except (BridgeError, ConfigError, OSError):
        return None, []
