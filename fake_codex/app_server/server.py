"""`codex app-server`, the subset the provider uses: JSON-RPC over stdio, threads, scenario turns.

Requests: `initialize` (then the `initialized` notification), `thread/start`, `thread/resume`,
`thread/archive`, `thread/unarchive`, `turn/start`, `turn/interrupt`. A turn runs the same
`TurnRunner` as `exec` (scenario replies, rollout, tools, MCP) on a worker thread, and its exec
events are translated to app-server notifications (`notes.py`; a loaded thread's state is in
`state.py`, a turn's worker in `worker.py`). Like the real binary (codex-facts §11), a loaded
thread keeps its rollout open and ignores edits to it: it sees the model-visible history it
loaded plus what it appended, until it is unloaded (archive).
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fake_codex.agent.history import history_items
from fake_codex.agent.recorder import Recorder
from fake_codex.agent.rollout import read_history, rollout_path
from fake_codex.app_server.notes import Notes
from fake_codex.app_server.state import Job, KeptWriter, LoadedThread
from fake_codex.app_server.worker import TurnWorker
from fake_codex.core.config import ConfigError, load_config, settings_from
from fake_codex.core.home import HomeRefused, find_rollout, home_for_writing
from fake_codex.core.ids import is_uuid, uuid7

if TYPE_CHECKING:
    from fake_codex.core.invocation_log import Invocation
    from fake_codex.core.scenario import Scenario
    from fake_codex.core.versions import Behaviour
    from fake_codex.mcp.client import McpManager

INVALID_REQUEST = -32600
INTERNAL_ERROR = -32603
METHOD_NOT_FOUND = -32601
EX_SOFTWARE = 70


class RpcFailure(Exception):
    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class AppServer:
    def __init__(
        self,
        scenario: Scenario | None,
        behaviour: Behaviour,
        inv: Invocation,
        overrides: tuple[str, ...],
    ) -> None:
        self.scenario = scenario
        self.b = behaviour
        self.inv = inv
        self.overrides = overrides
        self.home = home_for_writing(inv.environ)
        self.out = Notes()
        self.initialized = False
        self.threads: dict[str, LoadedThread] = {}
        self.archived: set[str] = set()
        self._after: list[Callable[[], None]] = []
        self.worker = TurnWorker(scenario, behaviour, self.out, self.home)

    # --- the loop --------------------------------------------------------------------------

    def serve(self) -> int:
        for raw in sys.stdin.buffer:
            try:
                message = json.loads(raw)
            except (ValueError, UnicodeDecodeError):
                sys.stderr.write("fake-codex app-server: Failed to deserialize JSONRPCMessage\n")
                continue
            if isinstance(message, dict) and isinstance(message.get("method"), str):
                self._handle(message)
        for thread in list(self.threads.values()):
            self._unload(thread)
        return 0

    def _handle(self, message: dict[str, Any]) -> None:
        method, request_id = message["method"], message.get("id")
        params = message.get("params")
        params = params if isinstance(params, dict) else {}
        if request_id is None:
            return  # a notification (`initialized`)
        try:
            if method == "initialize":
                result = self._initialize(params)
            elif not self.initialized:
                raise RpcFailure(INVALID_REQUEST, "Not initialized")
            else:
                handler = _HANDLERS.get(method)
                if handler is None:
                    raise RpcFailure(METHOD_NOT_FOUND, f"method not found: {method}")
                result = handler(self, params)
        except RpcFailure as exc:
            self.out.send({"id": request_id, "error": {"code": exc.code, "message": exc.message}})
            return
        self.out.send({"id": request_id, "result": result})
        if method == "turn/start":
            self._start_worker(params)
        while self._after:
            self._after.pop(0)()  # what codex sends after its reply (e.g. the interrupted turn)

    def _initialize(self, params: dict[str, Any]) -> dict[str, Any]:
        if self.initialized:
            raise RpcFailure(INVALID_REQUEST, "Already initialized")
        self.initialized = True
        info = params.get("clientInfo")
        name = info.get("name") if isinstance(info, dict) else None
        return {
            "userAgent": f"{name or 'client'}/{self.b.version} (fake-codex)",
            "codexHome": str(self.home),
            "platformFamily": "unix",
            "platformOs": "linux",
        }

    # --- threads ---------------------------------------------------------------------------

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

    def _thread_json(self, thread: LoadedThread, status: str) -> dict[str, Any]:
        return {
            "id": thread.id,
            "path": str(thread.path),
            "cwd": str(thread.cwd),
            "modelProvider": settings_from(thread.config, thread.model).provider_id,
            "status": {"type": status},
            "turns": [],
        }

    def _thread_start(self, params: dict[str, Any]) -> dict[str, Any]:
        cwd = Path(str(params.get("cwd") or os.getcwd()))
        config = self._config(params)
        model = params.get("model") if isinstance(params.get("model"), str) else None
        mcp = self._start_mcp(config, cwd)
        thread_id = uuid7()
        path = rollout_path(self.home, thread_id)
        items: list[Any] = []
        writer = KeptWriter(path, self.b.has_ordinal, 0, items)
        from fake_codex.core.events import Totals

        thread = LoadedThread(
            thread_id, path, cwd, config, model, writer, items, Totals(), Totals(), True, mcp
        )
        Recorder(writer, self.b, self.worker.info(thread, uuid7())).session_meta()
        self.threads[thread_id] = thread
        self.out.note("thread/started", {"thread": self._thread_json(thread, "idle")})
        return self._thread_result(thread)

    def _thread_result(self, thread: LoadedThread) -> dict[str, Any]:
        settings = settings_from(thread.config, thread.model)
        return {
            "thread": self._thread_json(thread, "idle"),
            "model": settings.model or self.b.default_model,
            "modelProvider": settings.provider_id,
            "cwd": str(thread.cwd),
            "approvalPolicy": "never",
            "sandbox": {"type": "dangerFullAccess"},
        }

    def _thread_resume(self, params: dict[str, Any]) -> dict[str, Any]:
        thread_id = str(params.get("threadId"))
        if not is_uuid(thread_id):
            raise RpcFailure(INVALID_REQUEST, f"invalid thread id: {thread_id!r} is not a UUID")
        loaded = self.threads.get(thread_id)
        if loaded is not None:
            return self._thread_result(loaded)  # a new config is ignored (codex-facts §11)
        if thread_id in self.archived:
            raise RpcFailure(INVALID_REQUEST, f"thread {thread_id} is archived")
        path = find_rollout(self.home, thread_id)
        if path is None:
            raise RpcFailure(INVALID_REQUEST, f"no rollout found for thread id {thread_id}")
        history = read_history(path)
        cwd = Path(str(params.get("cwd") or history.cwd or os.getcwd()))
        config = self._config(params)
        model = params.get("model") if isinstance(params.get("model"), str) else None
        mcp = self._start_mcp(config, cwd)
        items = history_items(path)
        writer = KeptWriter(path, self.b.has_ordinal, history.valid_lines, items)
        thread = LoadedThread(
            thread_id,
            path,
            cwd,
            config,
            model or history.last_model,
            writer,
            items,
            history.totals,
            history.last,
            False,
            mcp,
        )
        self.threads[thread_id] = thread
        # A thread loaded from disk: idle, with the usage its rollout recorded (real 0.135-0.169).
        self.out.note("thread/status/changed", {"threadId": thread_id, "status": _idle()})
        from fake_codex.app_server.notes import token_usage

        usage = token_usage(history.last, history.totals, self.b.family >= 150)
        self.out.note("thread/tokenUsage/updated", {"threadId": thread_id, "tokenUsage": usage})
        return self._thread_result(thread)

    def _unload(self, thread: LoadedThread) -> None:
        self.threads.pop(thread.id, None)
        if thread.running is not None:
            thread.running.interrupted = True
        thread.writer.really_close()
        if thread.mcp is not None:
            thread.mcp.stop()

    def _thread_archive(self, params: dict[str, Any]) -> dict[str, Any]:
        thread_id = str(params.get("threadId"))
        loaded = self.threads.get(thread_id)
        if loaded is not None:
            self._unload(loaded)
            not_loaded = {"type": "notLoaded"}
            self.out.note("thread/status/changed", {"threadId": thread_id, "status": not_loaded})
        path = find_rollout(self.home, thread_id)
        if path is None:
            raise RpcFailure(INVALID_REQUEST, f"no rollout found for thread id {thread_id}")
        target = self.home / "archived_sessions" / path.name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(str(path), str(target))
        self.archived.add(thread_id)
        self.out.note("thread/archived", {"threadId": thread_id})
        return {}

    def _thread_unarchive(self, params: dict[str, Any]) -> dict[str, Any]:
        thread_id = str(params.get("threadId"))
        archived = self.home / "archived_sessions"
        found = sorted(archived.glob(f"rollout-*-{thread_id}.jsonl")) if archived.is_dir() else []
        if not found:
            raise RpcFailure(
                INVALID_REQUEST, f"no archived rollout found for thread id {thread_id}"
            )
        name = found[0].name  # rollout-YYYY-MM-DDThh-mm-ss-<id>.jsonl
        year, month, day = name[8:12], name[13:15], name[16:18]
        target = self.home / "sessions" / year / month / day / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(str(found[0]), str(target))
        self.archived.discard(thread_id)
        self.out.note("thread/unarchived", {"threadId": thread_id})
        thread = {"id": thread_id, "path": str(target), "status": {"type": "notLoaded"}}
        return {"thread": thread}

    # --- turns -----------------------------------------------------------------------------

    def _loaded(self, params: dict[str, Any]) -> LoadedThread:
        thread_id = str(params.get("threadId"))
        thread = self.threads.get(thread_id)
        if thread is None:
            raise RpcFailure(INVALID_REQUEST, f"thread not found: {thread_id}")
        return thread

    def _turn_start(self, params: dict[str, Any]) -> dict[str, Any]:
        thread = self._loaded(params)
        if thread.running is not None and not thread.running.done.is_set():
            raise RpcFailure(INVALID_REQUEST, "a turn is already running on this thread")
        thread.running = Job(uuid7())
        return {"turn": _turn_json(thread.running.turn_id, "inProgress")}

    def _turn_interrupt(self, params: dict[str, Any]) -> dict[str, Any]:
        thread = self._loaded(params)
        job = thread.running
        if job is not None and job.turn_id == params.get("turnId") and not job.done.is_set():
            job.interrupted = True
            job.done.set()  # the thread takes a new turn at once; the worker's output is dropped

            def interrupted() -> None:
                self.out.note("thread/status/changed", {"threadId": thread.id, "status": _idle()})
                turn = _turn_json(job.turn_id, "interrupted")
                self.out.note("turn/completed", {"threadId": thread.id, "turn": turn})

            self._after.append(interrupted)
        return {}

    def _start_worker(self, params: dict[str, Any]) -> None:
        thread = self.threads[str(params.get("threadId"))]
        job = thread.running
        assert job is not None
        parts = params.get("input")
        prompt = "".join(
            p.get("text", "")
            for p in (parts if isinstance(parts, list) else [])
            if isinstance(p, dict) and p.get("type") == "text"
        )
        self.worker.start(thread, job, prompt)


def _idle() -> dict[str, Any]:
    return {"type": "idle"}


def _turn_json(turn_id: str, status: str, error: Any = None) -> dict[str, Any]:
    return {"id": turn_id, "items": [], "status": status, "error": error}


_HANDLERS = {
    "thread/start": AppServer._thread_start,
    "thread/resume": AppServer._thread_resume,
    "thread/archive": AppServer._thread_archive,
    "thread/unarchive": AppServer._thread_unarchive,
    "turn/start": AppServer._turn_start,
    "turn/interrupt": AppServer._turn_interrupt,
}


def run_app_server(
    argv: list[str], scenario: Scenario | None, behaviour: Behaviour, inv: Invocation
) -> int:
    """Entry for `app-server …` (global `-c` options included in argv)."""
    overrides: list[str] = []
    i = 0
    while i < len(argv):
        token = argv[i]
        if token in ("-c", "--config") and i + 1 < len(argv):
            overrides.append(argv[i + 1])
            i += 2
        elif token in ("--enable", "--disable") and i + 1 < len(argv):
            i += 2  # features: nothing the fake emulates depends on them
        elif token == "--listen" and i + 1 < len(argv) and argv[i + 1] == "stdio://":
            i += 2
        elif token == "--stdio":
            i += 1
        else:
            sys.stderr.write(f"fake-codex app-server: unsupported argument {token!r}\n")
            return 2
    try:
        server = AppServer(scenario, behaviour, inv, tuple(overrides))
    except HomeRefused as exc:
        sys.stderr.write(str(exc))
        return 78
    code = server.serve()
    sys.stdout.flush()
    inv.write(code)
    os._exit(code)  # worker threads may still sleep in a slow reply
