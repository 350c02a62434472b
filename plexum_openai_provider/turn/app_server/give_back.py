"""The warm server gives threads back: idle ones after `idle_unload_s`, the least recently used
beyond `max_loaded_threads`, never one a turn is using (docs/sharing-codex-home.md).

Unloading frees codex's writer lock so `say`, the TUI or another daemon can use the thread: on
codex ≥ 0.169 with `thread/unsubscribe` (the server runs with `thread_unload_delay_secs=0`, so it
unloads at once and says `thread/closed`), before that with the server's archive + unarchive.
`changed_elsewhere` tells a turn that another process wrote the rollout since this server loaded
it (or since our last turn on it): the turn reloads it first, so it never runs on a stale history.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ...errors import RpcError, ServerGone
from ...ownership.residency import Residency, RolloutMark
from .params import codex_version, thread_params

if TYPE_CHECKING:
    from .pool import AppServer

log = logging.getLogger(__name__)

# `-c` for the server: an unsubscribed thread unloads at once (default ~60 s; every pinned
# version accepts the key, 0.135 and 0.150 ignore it).
UNLOAD_NOW_ARGS = ("-c", "thread_unload_delay_secs=0")
UNSUBSCRIBE_UNLOADS_SINCE = (0, 169)
WRITER_LOCK_SINCE = (0, 150)
CLOSED_WAIT_S = 5.0  # `thread/closed` came within 0.01–0.02 s on 0.169.0 and 0.171.0
UNLOAD_WAIT_S = 30.0  # a whole give-back (archive + unarchive took 9–29 ms); past it: hung


class GiveBack:
    """One server's loaded threads by last use, and the task that unloads what falls due."""

    def __init__(
        self,
        server: AppServer,
        *,
        idle_s: float | None,
        max_loaded: int | None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.server = server
        self.residency = Residency(idle_s, max_loaded)
        self.rollouts: dict[str, Path] = {}
        self.given_back = 0  # threads unloaded by this keeper (for tests and logs)
        self._clock = clock
        self._unloading: dict[str, asyncio.Future[None]] = {}
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def configure(self, *, idle_s: float | None, max_loaded: int | None) -> None:
        """The latest config's limits (a config reload changes them for the running server)."""
        self.residency.idle_s, self.residency.max_loaded = idle_s, max_loaded
        self._wake.set()

    @property
    def unsubscribe_unloads(self) -> bool:
        version = codex_version(self.server.user_agent)
        return version is not None and version[:2] >= UNSUBSCRIBE_UNLOADS_SINCE

    def start(self) -> asyncio.Task[None]:
        self._task = asyncio.create_task(self._run())
        return self._task

    # --- what a turn tells ------------------------------------------------------------------

    def use(self, thread_id: str) -> None:
        """A turn starts on the thread: it is not given back until `done`."""
        self.residency.use(thread_id, self._clock())

    def done(self, thread_id: str, *, ended: bool) -> None:
        """That turn ended: the rollout as it left it is what later turns compare with. Only a
        turn codex reported ended (`turn/completed`: its lines are all written) leaves a mark;
        after any other the server may still write, so the next turn does not compare."""
        path = self.rollouts.get(thread_id)
        mark = RolloutMark.of(path) if path is not None and ended else None
        self.residency.done(thread_id, self._clock(), None)
        self.residency.set_mark(thread_id, mark)
        if thread_id not in self.server.loaded:
            self.forget(thread_id)
        self._wake.set()

    def loaded(self, thread_id: str, path: Path | None) -> None:
        """The server has (re)loaded the thread from `path`, as it is now."""
        if path is not None:
            self.rollouts[thread_id] = path
        self.residency.set_mark(thread_id, RolloutMark.of(path) if path is not None else None)
        self._wake.set()

    def forget(self, thread_id: str) -> None:
        """The thread is not loaded any more (unloaded, or the server ended); a turn using it
        keeps its place (it is reloading the thread)."""
        if self.residency.in_use(thread_id):
            self.residency.set_mark(thread_id, None)
        else:
            self.residency.forget(thread_id)
            self.rollouts.pop(thread_id, None)

    def changed_elsewhere(self, thread_id: str) -> bool:
        """Whether another process wrote the loaded thread's rollout since we last looked. From
        0.150 no other codex can while the thread is loaded here (its writer lock): not asked."""
        version = codex_version(self.server.user_agent)
        if version is None or version[:2] >= WRITER_LOCK_SINCE:
            return False
        mark, path = self.residency.mark(thread_id), self.rollouts.get(thread_id)
        return mark is not None and path is not None and RolloutMark.of(path) != mark

    async def settled(self, thread_id: str) -> None:
        """Wait for a give-back of this thread in progress to finish (a turn must not start on
        a thread being unloaded)."""
        pending = self._unloading.get(thread_id)
        if pending is not None:
            with contextlib.suppress(Exception):
                await asyncio.shield(pending)

    # --- the give-back task -----------------------------------------------------------------

    async def _run(self) -> None:
        while True:
            now = self._clock()
            for thread_id in self.residency.due(now):
                if thread_id in self.server.loaded and self.server.alive:
                    await self._give_back(thread_id)
                else:
                    self.residency.forget(thread_id)
            wait = self.residency.next_due(self._clock())
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), wait)

    async def _give_back(self, thread_id: str) -> None:
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._unloading[thread_id] = future
        try:
            async with asyncio.timeout(UNLOAD_WAIT_S):
                await self._unload(thread_id)
            self.given_back += 1
            log.debug("gave thread %s back (idle or least recently used)", thread_id)
        except TimeoutError:
            # A server that leaves a request unanswered this long serves nobody: end it (that
            # frees every lock it holds); the next turn starts a new one.
            log.warning(
                "codex app-server %d did not unload thread %s; ending it",
                self.server.pid,
                thread_id,
            )
            self.residency.forget(thread_id)
            await self.server.close()
        except (RpcError, ServerGone) as exc:
            log.warning("could not give thread %s back: %s", thread_id, exc)
            self.residency.forget(thread_id)  # not retried in a loop; the next turn re-adds it
        finally:
            del self._unloading[thread_id]
            future.set_result(None)

    async def _unload(self, thread_id: str) -> None:
        server = self.server
        if not self.unsubscribe_unloads:
            await server.unload(
                thread_id
            )  # archive + unarchive: 0.135 and 0.150 unload no other way
            return
        queue = server.subscribe(thread_id)
        try:
            await _bounded(server.rpc.request("thread/unsubscribe", thread_params(thread_id)))
            closed = await _until_closed(queue, CLOSED_WAIT_S)
        finally:
            server.unsubscribe(thread_id, queue)
        if closed:
            server.forget_loaded(thread_id)
        else:  # not unloaded after all: the old way, so the lock is surely freed
            await server.unload(thread_id)


async def _bounded(request: Awaitable[object]) -> None:
    async with asyncio.timeout(CLOSED_WAIT_S):
        await request


async def _until_closed(queue: asyncio.Queue[tuple[str, Any]], wait_s: float) -> bool:
    try:
        async with asyncio.timeout(wait_s):
            while True:
                method, _params = await queue.get()
                if method == "thread/closed":
                    return True
                if method == "$closed":
                    return False
    except TimeoutError:
        return False
