"""The warm `codex app-server`s of this plugin: one per (binary, CODEX_HOME, args, agent), so
what codex runs for one agent never descends from another agent's process (the tool socket's check).

`acquire` starts one on first use and after it died; `shutdown_all` ends them (EOF, then the group).
A server owns the thread operations (start, resume, unload, interrupt, notifications) and the set
of threads it has loaded; an unload (archive → unarchive) runs shielded with its own deadlines and
is rolled back or recovered (`recover_archived`) whatever stops it. Consume: `unload_everywhere`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import weakref
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ...config import HostConfig, codex_home
from ...errors import (
    AppServerStartError,
    NoAnswer,
    RemoteError,
    ReplyTooLong,
    RpcError,
    ServerGone,
)
from ...jsonrpc.messages import INTERNAL_ERROR
from ...process import StderrTail, spawn, terminate_group
from . import loaded, rpc_client
from .approvals import ApprovalRouter
from .give_back import UNLOAD_NOW_ARGS, GiveBack
from .params import (
    EXCLUDE_TURNS_FROM,
    codex_version,
    initialize_params,
    thread_params,
    turn_interrupt_params,
    turn_steer_params,
)
from .rpc_client import Notification, RpcClient

log = logging.getLogger(__name__)

INIT_TIMEOUT_S = 60.0  # codex reads its config and auth before it answers `initialize`
CLOSE_GRACE_S = 3.0
# The deadline of each request outside a turn's clock (an unload's archive and unarchive): a
# stalled codex must not hold a consume, or the plugin's shutdown, for ever.
REQUEST_TIMEOUT_S = 30.0

Key = tuple[str, str | None, tuple[str, ...], str]
# The agent of a server that serves no turn (doctor's check, recovering a thread for consume).
NO_AGENT = ""


@dataclass
class AppServer:
    """One running `codex app-server` and what this plugin has loaded in it."""

    proc: asyncio.subprocess.Process
    rpc: RpcClient
    stderr: StderrTail
    codex_home: Path
    user_agent: str = ""
    loaded: set[str] = field(default_factory=set)
    _marks: dict[str, int] = field(default_factory=dict)  # thread id → its `loaded` lock fd
    # Threads loaded with a turn's own settings (its MCP relay, which went with that turn, or its
    # codex_options): the next turn reloads them so they start clean (see docs/app-server.md).
    reload_next: set[str] = field(default_factory=set)
    # Threads whose `thread/resume` was cut short: codex may have loaded them anyway, so they
    # stay marked (consume unloads them) and the next turn asks codex again.
    unsure: set[str] = field(default_factory=set)
    _tasks: list[asyncio.Task[None]] = field(default_factory=list)
    _unloading: dict[str, asyncio.Task[None]] = field(default_factory=dict)
    # Gives idle and least recently used threads back (frees codex's writer lock): give_back.py.
    keeper: GiveBack | None = None
    approvals: ApprovalRouter = field(init=False)

    def __post_init__(self) -> None:
        self.approvals = ApprovalRouter(self.rpc.reply)
        self.rpc.on_request = self.approvals.handle

    @property
    def pid(self) -> int:
        return self.proc.pid

    @property
    def alive(self) -> bool:
        return self.proc.returncode is None and not self.rpc.closed.is_set()

    def add_loaded(self, thread_id: str) -> None:
        """The thread is loaded in this server: others (other processes' consume) can see it."""
        self.loaded.add(thread_id)
        if thread_id not in self._marks:
            try:
                self._marks[thread_id] = loaded.mark(self.codex_home, thread_id)
            except (OSError, ValueError) as exc:
                log.warning("cannot mark thread %s as loaded: %s", thread_id, exc)

    def is_loaded(self, thread_id: str) -> bool:
        return thread_id in self.loaded

    @property
    def excludes_turns(self) -> bool:
        """This codex takes `excludeTurns` on `thread/resume` (see `params`)."""
        version = codex_version(self.user_agent)
        return version is not None and version >= EXCLUDE_TURNS_FROM

    async def start_thread(self, params: dict[str, Any]) -> dict[str, Any]:
        """`thread/start`; the caller marks the new thread loaded (`add_loaded`) once it has
        checked its id. Raises RpcError or ServerGone."""
        return await self.rpc.request("thread/start", params)

    async def resume_thread(self, thread_id: str, params: dict[str, Any]) -> dict[str, Any] | None:
        """`thread/resume`, unless the thread is loaded here already (then None: nothing to do).
        Raises RpcError or ServerGone."""
        await self.settled(thread_id)
        if thread_id in self.loaded and thread_id not in self.unsure:
            return None
        # Marked before asking: a cancel while the reply is on its way must not leave a thread
        # codex loaded anyway unmarked (consume would rewrite the rollout codex holds open).
        self.add_loaded(thread_id)
        self.unsure.add(thread_id)
        try:
            result = await self.rpc.request("thread/resume", params)
        except ReplyTooLong as exc:
            # codex resumed the thread and sent its whole history back: loaded, nothing of the
            # reply is needed (the rollout's path is found on disk).
            log.warning("thread/resume %s: %s", thread_id, exc.message)
            result = {}
        except RemoteError:
            self._drop(thread_id)  # codex refused it: not loaded
            raise
        self.unsure.discard(thread_id)
        return result

    async def unload_if_stale(self, thread_id: str, *, own_settings: bool) -> None:
        """Unload a loaded thread that must be loaded afresh: a loaded thread ignores a new
        `config`, so a turn with its own settings (`own_settings`: tools, codex options) needs
        that, and so does the turn after one (what it loaded the thread with is gone or not
        ours). Raises RpcError or ServerGone."""
        if thread_id in self.loaded and (own_settings or thread_id in self.reload_next):
            await self.unload(thread_id)

    def reload_before_next_turn(self, thread_id: str) -> None:
        """This turn loaded the thread with its own settings: the next turn reloads it."""
        self.reload_next.add(thread_id)

    async def start_turn(self, params: dict[str, Any]) -> dict[str, Any]:
        """`turn/start`. Raises RpcError or ServerGone."""
        return await self.rpc.request("turn/start", params)

    async def steer(self, thread_id: str, turn_id: str, text: str) -> None:
        """`turn/steer`: more user input for the running turn. Raises RpcError or ServerGone."""
        await self.rpc.request("turn/steer", turn_steer_params(thread_id, turn_id, text))

    async def interrupt(self, thread_id: str, turn_id: str) -> None:
        """`turn/interrupt`. Raises RpcError or ServerGone."""
        await self.rpc.request("turn/interrupt", turn_interrupt_params(thread_id, turn_id))

    def subscribe(self, thread_id: str) -> asyncio.Queue[Notification]:
        """The queue the thread's notifications arrive on (`rpc.CLOSED` once the server is gone)."""
        return self.rpc.subscribe(thread_id)

    def unsubscribe(self, thread_id: str, queue: asyncio.Queue[Notification]) -> None:
        self.rpc.unsubscribe(thread_id, queue)

    async def how_it_ended(self, wait_s: float = 2.0) -> tuple[str, str]:
        """For a server gone mid-turn: how it ended (after a bounded wait for its exit) and the
        tail of its stderr."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.shield(self.proc.wait()), wait_s)
        code = self.proc.returncode
        how = f"exited with code {code}" if code is not None and code >= 0 else "was killed"
        if code is None:
            how = "closed its output"
        return how, self.stderr.text().strip()

    def forget_loaded(self, thread_id: str) -> None:
        """codex unloaded the thread by itself (`thread/closed`): nothing of ours holds it."""
        self._drop(thread_id)

    def _drop(self, thread_id: str) -> None:
        if self.keeper is not None:
            self.keeper.forget(thread_id)
        self.loaded.discard(thread_id)
        self.reload_next.discard(thread_id)
        self.unsure.discard(thread_id)
        fd = self._marks.pop(thread_id, None)
        if fd is not None:
            loaded.release(fd)

    async def unload(self, thread_id: str) -> None:
        """Unload a thread (archive, then unarchive: app-server has no unload method).

        Afterwards codex reads the rollout from disk again on the next `thread/resume`. The two
        steps run in a task of their own, shielded from the caller: a caller cancelled midway
        leaves them running to the end (each request under `REQUEST_TIMEOUT_S`), and the next
        operation on the thread waits for them (`settled`). Raises RpcError (codex refused, or
        `NoAnswer`) or ServerGone; a thread left archived is marked for `recover_archived`.
        """
        task = self._unloading.get(thread_id)
        if task is None:
            if thread_id not in self.loaded:
                return
            task = asyncio.create_task(self._archive_unarchive(thread_id))
            self._unloading[thread_id] = task
            task.add_done_callback(lambda done: self._unloaded(thread_id, done))
        await asyncio.shield(task)

    def _unloaded(self, thread_id: str, task: asyncio.Task[None]) -> None:
        if self._unloading.get(thread_id) is task:
            del self._unloading[thread_id]
        if not task.cancelled() and task.exception() is not None:
            log.debug("unload of thread %s: %s", thread_id, task.exception())

    async def settled(self, thread_id: str) -> None:
        """Wait for an unload of the thread still under way (its outcome is its caller's)."""
        task = self._unloading.get(thread_id)
        if task is not None:
            with contextlib.suppress(Exception):
                await asyncio.shield(task)

    async def _request(self, method: str, params: dict[str, Any]) -> dict[str, Any]:
        """A request outside a turn's clock, under its own deadline (`NoAnswer` past it)."""
        try:
            async with asyncio.timeout(REQUEST_TIMEOUT_S):
                return await self.rpc.request(method, params)
        except TimeoutError:
            raise NoAnswer(
                INTERNAL_ERROR,
                f"codex app-server did not answer {method} within {REQUEST_TIMEOUT_S:g}s",
            ) from None

    async def _archive_unarchive(self, thread_id: str) -> None:
        with contextlib.suppress(OSError, ValueError):
            loaded.note_archiving(self.codex_home, thread_id)
        try:
            await self._request("thread/archive", thread_params(thread_id))
        except RemoteError:
            # codex refused: nothing was archived and the thread is as it was.
            loaded.clear_archiving(self.codex_home, thread_id)
            raise
        except (NoAnswer, ServerGone):
            # Archived or not, nobody knows: roll back. A dead server holds nothing loaded; a
            # thread still marked is resumed afresh by the next turn (`unsure`).
            self.unsure.add(thread_id)
            if await self._unarchive(thread_id):
                self._drop(thread_id)
                return
            raise
        self._drop(thread_id)
        await self._unarchive(thread_id)

    async def _unarchive(self, thread_id: str) -> bool:
        """`thread/unarchive`: True if codex had it archived, False if it had nothing to do.
        Raises NoAnswer or ServerGone (the mark stays: `recover_archived` tries again)."""
        try:
            await self._request("thread/unarchive", thread_params(thread_id))
        except NoAnswer:
            raise
        except RemoteError as exc:
            log.debug("thread/unarchive %s: %s", thread_id, exc.message)
            loaded.clear_archiving(self.codex_home, thread_id)
            return False
        loaded.clear_archiving(self.codex_home, thread_id)
        return True

    async def recover(self, thread_id: str) -> None:
        """Unarchive the thread if this plugin archived it and did not get to unarchive it (a
        cancel, a crash, a restart in between). Raises NoAnswer or ServerGone."""
        await self.settled(thread_id)
        if loaded.archived_by_us(self.codex_home, thread_id):
            log.warning("thread %s was left archived by an unload; unarchiving it", thread_id)
            if await self._unarchive(thread_id):
                self._drop(thread_id)  # it was archived, so it is not loaded

    async def close(self, grace_s: float = CLOSE_GRACE_S) -> None:
        """EOF on stdin, a bounded wait, then the process group is ended and reaped."""
        stdin = self.proc.stdin
        if stdin is not None:
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                stdin.close()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.shield(self.proc.wait()), grace_s)
        await terminate_group(self.proc, grace_s=grace_s)
        for thread_id in list(self.loaded):
            self._drop(thread_id)
        await self.rpc.aclose()
        for task in self._tasks:
            task.cancel()


class _Registry:
    """The servers of one event loop (asyncio objects cannot cross loops)."""

    def __init__(self) -> None:
        self.servers: dict[Key, AppServer] = {}
        self.starting: dict[Key, asyncio.Lock] = {}


_registries: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _Registry] = (
    weakref.WeakKeyDictionary()
)


def _registry() -> _Registry:
    loop = asyncio.get_running_loop()
    registry = _registries.get(loop)
    if registry is None:
        registry = _registries[loop] = _Registry()
    return registry


def _key(config: HostConfig, agent: str) -> Key:
    return (config.binary, config.codex_home, config.extra_args, agent)


def find(config: HostConfig, agent: str | None = None) -> AppServer | None:
    """The agent's live server for this config (without `agent`: any agent's), if one runs;
    never starts one."""
    servers = _registry().servers
    if agent is not None:
        server = servers.get(_key(config, agent))
        return server if server is not None and server.alive else None
    prefix = _key(config, NO_AGENT)[:3]
    live = [s for key, s in servers.items() if key[:3] == prefix and s.alive]
    return live[0] if live else None


def _forget_the_dead() -> None:
    for server in _registry().servers.values():
        if not server.alive:
            for loaded_id in list(server.loaded):
                server._drop(loaded_id)  # a dead server holds nothing open any more


async def unload_everywhere(thread_id: str) -> None:
    """Every warm server of this process that has the thread loaded lets go of it (a server that
    dies meanwhile holds nothing any more). Raises RpcError when one refuses or does not answer."""
    _forget_the_dead()
    for server in [s for s in _registry().servers.values() if thread_id in s.loaded]:
        with contextlib.suppress(ServerGone):
            await server.unload(thread_id)
    _forget_the_dead()


async def recover_archived(config: HostConfig, env: Mapping[str, str], thread_id: str) -> None:
    """A thread this plugin archived and could not unarchive (see `AppServer.recover`) is
    unarchived by a warm server of `config`, started for it if none runs. Raises RpcError,
    ServerGone, OSError or AppServerStartError when that fails (the mark stays)."""
    home = codex_home(config)
    if not loaded.archived_by_us(home, thread_id):
        return
    server = find(config) or await acquire(config, env)
    await server.recover(thread_id)


async def acquire(config: HostConfig, env: Mapping[str, str], agent: str = NO_AGENT) -> AppServer:
    """A live, initialized app-server for `config` and `agent`: the warm one, or a new one.

    Raises OSError (FileNotFoundError, PermissionError…) when codex cannot start, and
    AppServerStartError when it starts but fails the handshake.
    """
    key = _key(config, agent)
    registry = _registry()
    lock = registry.starting.setdefault(key, asyncio.Lock())
    async with lock:
        server = registry.servers.get(key)
        if server is not None and server.alive:
            if server.keeper is not None:
                server.keeper.configure(**_limits(config))
            return server
        if server is not None:
            del registry.servers[key]
            log.warning("codex app-server %d is gone; starting a new one", server.pid)
            await server.close(grace_s=0.5)
        server = await _start(config, env)
        registry.servers[key] = server
        return server


def _limits(config: HostConfig) -> dict[str, Any]:
    return {"idle_s": config.idle_unload_s, "max_loaded": config.max_loaded_threads}


async def _start(config: HostConfig, env: Mapping[str, str]) -> AppServer:
    # Ours first: the operator's `extra_args` may still set the delay otherwise.
    argv = [config.binary, "app-server", *UNLOAD_NOW_ARGS, *config.extra_args]
    proc = await spawn(argv, cwd=Path("/"), env=env)
    stderr = StderrTail()
    rpc = RpcClient(proc, max_line_bytes=rpc_client.MAX_LINE_BYTES)
    rpc.start()
    server = AppServer(proc, rpc, stderr, codex_home(config))
    server._tasks.append(asyncio.create_task(stderr.drain(proc.stderr)))
    try:
        async with asyncio.timeout(INIT_TIMEOUT_S):
            result = await rpc.request("initialize", initialize_params())
    except (RpcError, ServerGone, TimeoutError) as exc:
        await server.close(grace_s=0.5)
        raise AppServerStartError(
            f"codex app-server did not complete its handshake: {exc}", server.stderr.text()
        ) from exc
    except BaseException:
        await server.close(grace_s=0.5)
        raise
    rpc.notify("initialized")
    agent = result.get("userAgent")
    server.user_agent = agent if isinstance(agent, str) else ""
    server.keeper = GiveBack(server, **_limits(config))
    server._tasks.append(server.keeper.start())
    log.debug("codex app-server %d ready (%s)", proc.pid, server.user_agent)
    return server


async def start_unpooled(config: HostConfig, env: Mapping[str, str]) -> AppServer:
    """A new, initialized app-server that no turn shares (the exec backend's fork); the caller
    closes it. Raises as `acquire` does."""
    return await _start(config, env)


async def shutdown_all() -> None:
    """End every app-server this process started (the plugin is shutting down)."""
    registry = _registry()
    servers = list(registry.servers.values())
    registry.servers.clear()
    await asyncio.gather(*(s.close() for s in servers), return_exceptions=True)
