"""The fake app-server's threads as its clients see them: `Thread` objects of loaded and stored
threads, the thread/start·resume·fork result, `thread/read` and `thread/fork` (a new thread with
the source's model-visible history and turns), the config and MCP servers a thread starts with.
A mixin of `server.AppServer`; the shapes themselves are `shapes.py`.
"""

from __future__ import annotations

import copy
import os
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fake_codex.agent.history import history_items
from fake_codex.agent.recorder import Recorder
from fake_codex.agent.rollout import read_history, rollout_path
from fake_codex.app_server import shapes
from fake_codex.app_server.notes import token_usage
from fake_codex.app_server.state import KeptWriter, LoadedThread, first_prompt
from fake_codex.core import writer_lock
from fake_codex.core.config import ConfigError, load_config, settings_from
from fake_codex.core.events import Totals
from fake_codex.core.home import find_rollout
from fake_codex.core.ids import uuid7

if TYPE_CHECKING:
    from fake_codex.app_server.notes import Notes
    from fake_codex.app_server.turn_log import TurnLog
    from fake_codex.app_server.worker import TurnWorker
    from fake_codex.core.versions import Behaviour
    from fake_codex.core.writer_lock import ThreadLock
    from fake_codex.mcp.client import McpManager

INVALID_REQUEST = -32600
INTERNAL_ERROR = -32603


class RpcFailure(Exception):
    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class ThreadViews:
    """What `AppServer` knows of its threads, and the thread methods built only on that."""

    b: Behaviour
    home: Path
    overrides: tuple[str, ...]
    inv: Any
    out: Notes
    worker: TurnWorker
    originator: str
    threads: dict[str, LoadedThread]
    turn_log: TurnLog
    _after: list[Callable[[], None]]
    locks: dict[str, ThreadLock]  # codex's writer lock of each loaded thread

    def _lock(self, thread_id: str) -> None:
        """Take codex's writer lock (from 0.150): held by another process, the request fails."""
        try:
            lock = writer_lock.acquire(self.home, thread_id, self.b.family)
        except writer_lock.WriterConflict as exc:
            raise RpcFailure(writer_lock.APP_SERVER_ERROR_CODE, str(exc)) from None
        if lock is not None:
            self.locks[thread_id] = lock

    def _config(self, params: dict[str, Any]) -> dict[str, Any]:
        try:
            config = load_config(self.home, self.overrides)
        except ConfigError as exc:
            raise RpcFailure(INVALID_REQUEST, str(exc)) from None
        extra = params.get("config")
        if isinstance(extra, dict):
            for key, value in extra.items():
                if isinstance(value, dict) and isinstance(config.get(key), dict):
                    config[key] = {**config[key], **value}
                else:
                    config[key] = value
        return config

    def _start_mcp(self, config: dict[str, Any], cwd: Path) -> McpManager | None:
        from fake_codex.mcp.client import McpStartupError, start_configured

        try:
            return start_configured(config, self.b.version, cwd, self.inv.environ)
        except McpStartupError as exc:
            message = str(exc).split("thread/start failed: ", 1)[-1]
            raise RpcFailure(INTERNAL_ERROR, message) from None

    def _thread_json(
        self, thread: LoadedThread, status: str, turns: bool = False
    ) -> dict[str, Any]:
        settings = settings_from(thread.config, thread.model)
        return shapes.thread_json(
            self.b.family,
            thread_id=thread.id,
            path=str(thread.path),
            cwd=str(thread.cwd),
            provider=settings.provider_id,
            model=settings.model or self.b.default_model,
            status={"type": status} if status != "active" else _active(),
            preview=thread.preview,
            created=thread.created,
            updated=int(os.stat(thread.path).st_mtime) if thread.path.exists() else thread.created,
            cli_version=self.b.version,
            originator=self.originator,
            forked_from=thread.forked_from,
            turns=self.turn_log.get(thread.id) if turns else [],
        )

    def _thread_status(self, thread: LoadedThread) -> str:
        running = thread.running
        return "active" if running is not None and not running.done.is_set() else "idle"

    def _announce(self, thread: LoadedThread) -> None:
        """`thread/started`, after the reply (as the real binary sends it)."""
        started = {"thread": self._thread_json(thread, "idle")}
        self._after.append(lambda: self.out.note("thread/started", started))

    def _thread_result(
        self,
        thread: LoadedThread,
        params: dict[str, Any],
        *,
        resumed: bool,
        turns: bool | None = None,
    ) -> dict[str, Any]:
        """The session result; `resumed` adds resume's own fields, `turns` (default: `resumed`)
        lists the thread's turns."""
        settings = settings_from(thread.config, thread.model)
        sandbox = params.get("sandbox")
        return shapes.session_result(
            self.b.family,
            self._thread_json(
                thread, self._thread_status(thread), turns=resumed if turns is None else turns
            ),
            model=settings.model or self.b.default_model,
            provider=settings.provider_id,
            cwd=str(thread.cwd),
            sandbox=sandbox if isinstance(sandbox, str) else None,
            resumed=resumed,
        )

    def _stored_thread_json(self, thread_id: str, path: Path) -> dict[str, Any]:
        """A thread that is not loaded, as its rollout describes it."""
        history = read_history(path)
        config = self._config({})
        settings = settings_from(config, history.last_model)
        return shapes.thread_json(
            self.b.family,
            thread_id=thread_id,
            path=str(path),
            cwd=history.cwd or "",
            provider=settings.provider_id,
            model=history.last_model or self.b.default_model,
            status={"type": "notLoaded"},
            preview=first_prompt(path),
            created=int(os.stat(path).st_mtime),
            updated=int(os.stat(path).st_mtime),
            cli_version=self.b.version,
            originator=self.originator,
            loaded=False,
        )

    def _thread_read(self, params: dict[str, Any]) -> dict[str, Any]:
        thread_id = str(params.get("threadId"))
        turns = params.get("includeTurns") is True
        loaded = self.threads.get(thread_id)
        if loaded is not None:
            thread = self._thread_json(loaded, self._thread_status(loaded), turns=turns)
        else:
            path = find_rollout(self.home, thread_id) or self._archived_path(thread_id)
            if path is None:
                raise RpcFailure(INVALID_REQUEST, f"thread not loaded: {thread_id}")
            thread = self._stored_thread_json(thread_id, path)
            if turns:
                thread["turns"] = self.turn_log.get(thread_id)
        result: dict[str, Any] = {"thread": thread}
        if self.b.family >= 169:
            done = self.turn_log.get(thread_id)
            first = {"type": "turn", "turnId": done[0]["id"]} if done else None
            import uuid  # here: only thread/read needs it; uuid costs every start otherwise

            result["readState"] = {"firstUnread": first, "revision": str(uuid.uuid4())}
        return result

    def _archived_path(self, thread_id: str) -> Path | None:
        archived = self.home / "archived_sessions"
        found = sorted(archived.glob(f"rollout-*-{thread_id}.jsonl")) if archived.is_dir() else []
        return found[0] if found else None

    def _thread_fork(self, params: dict[str, Any]) -> dict[str, Any]:
        """A new thread with the source's model-visible history (and turns) copied."""
        source_id = str(params.get("threadId"))
        source = self.threads.get(source_id)
        if source is None:
            path = find_rollout(self.home, source_id)
            if path is None:
                raise RpcFailure(INVALID_REQUEST, f"no rollout found for thread id {source_id}")
            source_items = history_items(path)
            history = read_history(path)
            totals, last, source_model = history.totals, history.last, history.last_model
            preview = first_prompt(path)
        else:
            source_items = list(source.items)
            totals, last = copy.copy(source.totals), copy.copy(source.last)
            source_model, preview = source.model, source.preview
        cwd = Path(str(params.get("cwd") or (source.cwd if source else os.getcwd())))
        config = self._config(params)
        model = params.get("model") if isinstance(params.get("model"), str) else source_model
        thread_id = uuid7()
        self._lock(thread_id)  # the fork is loaded here, like a started thread
        path = rollout_path(self.home, thread_id)
        items: list[Any] = []
        writer = KeptWriter(path, self.b.has_ordinal, 0, items)
        mcp = self._start_mcp(config, cwd)
        thread = LoadedThread(
            thread_id, path, cwd, config, model, writer, items, totals, last, False, mcp
        )
        thread.forked_from, thread.preview = source_id, preview
        Recorder(writer, self.b, self.worker.info(thread, uuid7())).session_meta()
        for item in source_items:
            writer.write("response_item", item)
        self.turn_log.copy(source_id, thread_id)
        self.threads[thread_id] = thread
        # After the reply: the usage the fork inherits (under the source's last turn), then
        # thread/started, as the real binary sends them.
        last_turn = (self.turn_log.get(source_id) or [{}])[-1].get("id") or uuid7()
        usage = token_usage(Totals(), totals, self.b.family >= 150)
        inherited = {"threadId": thread_id, "turnId": last_turn, "tokenUsage": usage}
        self._after.append(lambda: self.out.note("thread/tokenUsage/updated", inherited))
        self._announce(thread)
        return self._thread_result(thread, params, resumed=False, turns=True)

    # --- turns -----------------------------------------------------------------------------


def _active() -> dict[str, Any]:
    return {"type": "active", "activeFlags": []}
