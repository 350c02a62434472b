"""A cold `say`'s head start: codex spawned before asyncio and the turn machinery are imported, so
those imports (half of a cold `say`'s own cost) run while codex starts up. Imported alone, before
them: it loads only the config, the session store, the argv builder and the rollout locator.

Only for a plain exec turn that would start at once: no images, output schema, effort or codex
options, tools only in mode `per-turn`, a prompt and sandbox the turn accepts, the workspace lock
free now with nobody queued for it, a session that keeps its model (one config.json allows), a
thread nobody else holds. Anything else gives None, and the turn starts codex itself as always.
What it does before the spawn is what the turn would do — take the lock, read the session, check
the thread is free, note where the rollout ends, bind the agent's tool socket, build the argv —
and codex gets the turn's parent-death signal and an owner marker; the turn adopts the process
only when it would have started that very argv for that thread; otherwise `discard` stops it
and the turn starts its own. The socket is bound before codex starts, so mcp-host's connection
waits in its backlog until the turn serves it.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
from dataclasses import dataclass
from pathlib import Path

from ...codex.argv import build_exec_argv
from ...config import HostConfig, codex_env, codex_home
from ...errors import BridgeError, ConfigError, SandboxWidened, SessionStoreError
from ...owners import OWNER_ENV, end_marked, new_marker, parent_death_hook
from ...ownership import codex_locks_threads
from ...sessions import SessionStore, ThreadRecord, try_workspace_lock
from ..request import TurnRequest, prompt_problem

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (mypy knows the name)
if TYPE_CHECKING:
    from ...bridge.socket_path import Listener
    from ..mirror import RolloutPosition

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
    marker: str  # codex's owner marker (`owners.OWNER_ENV`): what it started is found by it
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
        marker = self.marker
        end_marked(lambda found: found == marker)  # what it started outside its group
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
        sandbox_args = config.sandbox_for(request.agent_id).narrowed(request.sandbox).exec_args()
        lock_fd = try_workspace_lock(request.workspace)
    except (ConfigError, SandboxWidened, OSError):
        return None  # the turn reports it
    if lock_fd is None:
        return None  # another turn runs here or waits for it: the turn waits in line
    try:
        started = _spawn(config, request, prompt, lock_fd, model_arg, sandbox_args)
    except BaseException:
        os.close(lock_fd)
        raise
    if started is None:
        os.close(lock_fd)
    return started


def _spawn(
    config: HostConfig,
    request: TurnRequest,
    prompt: bytes,
    lock_fd: int,
    model_arg: str | None,
    sandbox_args: list[str],
) -> HeadStart | None:
    try:
        record = SessionStore(request.workspace).get(request.session_id)
    except (SessionStoreError, OSError):
        return None  # the turn reports it
    if record is not None and not config.allows_model_arg(record.model_arg):
        return None  # the session file is hostile: the turn warns and ignores its model
    if record is not None and record.model_arg != model_arg:
        return None  # the turn warns that the thread keeps its model
    if record is not None and _busy(config, record):
        return None  # the turn says who holds the thread (thread_busy) or waits for it
    listener, tool_args = _bind_tools(config, request)
    if request.tools and listener is None:
        return None  # the turn reports why the tools cannot be offered
    argv = build_exec_argv(
        config.binary,
        resume_thread_id=record.thread_id if record else None,
        model_arg=model_arg,
        extra_args=[*config.extra_args, *tool_args],
        sandbox_args=sandbox_args,
    )
    start = _resumed_start(config, record) if record is not None else None
    marker = new_marker()
    try:
        # As `process.spawn` starts every child: it dies with us and carries its owner marker.
        popen = subprocess.Popen(
            argv,
            cwd=request.workspace,
            env={**codex_env(config), OWNER_ENV: marker},
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,
            preexec_fn=parent_death_hook(),
        )
    except OSError:
        if listener is not None:
            listener.close()
        return None  # the turn tries again and reports why it cannot start codex
    if start is None:
        # A new thread's file starts with this turn: nothing to note before codex runs, so the
        # rollout reader is imported now, while codex starts up.
        from ..mirror import RolloutPosition

        start = RolloutPosition(None, 0)
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
    return HeadStart(popen, lock_fd, record, model_arg, start, argv, prompt_error, marker, listener)


def _resumed_start(config: HostConfig, record: ThreadRecord) -> RolloutPosition:
    """Where this turn's lines will begin in the resumed thread's rollout: noted before codex
    appends them (`mirror.start_position`)."""
    from ..mirror import start_position

    return start_position(config, record)


def _busy(config: HostConfig, record: ThreadRecord) -> bool:
    """The turn's busy check before a resume (`ownership.busy.busy_before_resume`), made before
    codex starts: once it runs, it would be a writer of the rollout itself."""
    home = codex_home(config)
    if codex_locks_threads(home):
        # codex refuses a held thread itself; the adopted attempt reads that as `thread_busy`.
        return False
    # Only now (codex 0.135's home): the room costs a cold start ~4 ms of imports.
    from ...ownership.busy import busy_before_resume

    remembered = Path(record.rollout_path) if record.rollout_path else None
    try:
        return busy_before_resume(home, record.thread_id, remembered) is not None
    except (OSError, ValueError):
        return True  # cannot tell: the turn asks again and reports


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
