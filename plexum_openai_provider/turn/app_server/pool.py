"""The warm `codex app-server` pool of this plugin process: one per (binary, CODEX_HOME, args).

`acquire(config, env)` returns a running, initialized server, starting it on first use and again
after it died (a dead one is reaped first). `shutdown_all()` ends them all: EOF on stdin (codex
exits 0 on it), a bounded wait, then SIGTERM/SIGKILL to the process group. A server owns the
thread operations a turn asks for (start, resume, reload, unload, interrupt, its notifications)
and remembers which threads it has loaded, because a loaded thread ignores edits to its rollout
and keeps the file open: consume unloads it first (`unload_everywhere`).
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
from ...errors import AppServerStartError, RpcError, ServerGone
from ...process import StderrTail, spawn, terminate_group
from . import loaded
from .params import initialize_params, thread_params, turn_interrupt_params
from .rpc_client import Notification, RpcClient

log = logging.getLogger(__name__)

INIT_TIMEOUT_S = 60.0  # codex reads its config and auth before it answers `initialize`
CLOSE_GRACE_S = 3.0

Key = tuple[str, str | None, tuple[str, ...]]


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
    _tasks: list[asyncio.Task[None]] = field(default_factory=list)

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

    async def start_thread(self, params: dict[str, Any]) -> dict[str, Any]:
        """`thread/start`; the caller marks the new thread loaded (`add_loaded`) once it has
        checked its id. Raises RpcError or ServerGone."""
        return await self.rpc.request("thread/start", params)

    async def resume_thread(self, thread_id: str, params: dict[str, Any]) -> dict[str, Any] | None:
        """`thread/resume`, unless the thread is loaded here already (then None: nothing to do).
        Raises RpcError or ServerGone."""
        if thread_id in self.loaded:
            return None
        result = await self.rpc.request("thread/resume", params)
        self.add_loaded(thread_id)
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

    def _drop(self, thread_id: str) -> None:
        self.loaded.discard(thread_id)
        self.reload_next.discard(thread_id)
        fd = self._marks.pop(thread_id, None)
        if fd is not None:
            loaded.release(fd)

    async def unload(self, thread_id: str) -> None:
        """Unload a thread (archive, then unarchive: app-server has no unload method).

        Afterwards codex reads the rollout from disk again on the next `thread/resume`.
        """
        if thread_id not in self.loaded:
            return
        await self.rpc.request("thread/archive", thread_params(thread_id))
        self._drop(thread_id)
        await self.rpc.request("thread/unarchive", thread_params(thread_id))

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


def _key(config: HostConfig) -> Key:
    return (config.binary, config.codex_home, config.extra_args)


def find(config: HostConfig) -> AppServer | None:
    """The live server for this config, if one runs (never starts one)."""
    server = _registry().servers.get(_key(config))
    return server if server is not None and server.alive else None


def _loaded_anywhere(thread_id: str) -> list[AppServer]:
    servers = _registry().servers.values()
    for server in servers:
        if not server.alive:
            for loaded_id in list(server.loaded):
                server._drop(loaded_id)  # a dead server holds nothing open any more
    return [s for s in servers if s.alive and thread_id in s.loaded]


async def unload_everywhere(thread_id: str) -> None:
    """Every warm server of this process that has the thread loaded lets go of it (a server that
    dies meanwhile holds nothing any more). Raises RpcError when one refuses."""
    for server in _loaded_anywhere(thread_id):
        with contextlib.suppress(ServerGone):
            await server.unload(thread_id)


async def acquire(config: HostConfig, env: Mapping[str, str]) -> AppServer:
    """A live, initialized app-server for `config`: the warm one, or a new one.

    Raises OSError (FileNotFoundError, PermissionError…) when codex cannot start, and
    AppServerStartError when it starts but fails the handshake.
    """
    key = _key(config)
    registry = _registry()
    lock = registry.starting.setdefault(key, asyncio.Lock())
    async with lock:
        server = registry.servers.get(key)
        if server is not None and server.alive:
            return server
        if server is not None:
            del registry.servers[key]
            log.warning("codex app-server %d is gone; starting a new one", server.pid)
            await server.close(grace_s=0.5)
        server = await _start(config, env)
        registry.servers[key] = server
        return server


async def _start(config: HostConfig, env: Mapping[str, str]) -> AppServer:
    argv = [config.binary, "app-server", *config.extra_args]
    proc = await spawn(argv, cwd=Path("/"), env=env)
    stderr = StderrTail()
    rpc = RpcClient(proc)
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
    log.debug("codex app-server %d ready (%s)", proc.pid, server.user_agent)
    return server


async def shutdown_all() -> None:
    """End every app-server this process started (the plugin is shutting down)."""
    registry = _registry()
    servers = list(registry.servers.values())
    registry.servers.clear()
    await asyncio.gather(*(s.close() for s in servers), return_exceptions=True)
