"""`codex app-server`, the subset the provider uses: JSON-RPC over stdio, threads, scenario turns.

Requests: `initialize` (then the `initialized` notification), `thread/start`, `thread/resume`,
`thread/fork`, `thread/read`, `thread/archive`, `thread/unarchive`, `thread/unsubscribe`,
`turn/start`, `turn/steer`, `turn/interrupt`; every reply and notification in the shape of the
emulated version's schema (`shapes.py`), approvals asked of the client as requests
(`controls.py`). A loaded thread holds codex's writer lock from 0.150 (`core/writer_lock.py`:
another process's resume is refused with -32600); `thread/unsubscribe` unloads only from 0.169,
and only with `thread_unload_delay_secs=0` (the real default, ~60 s, is not emulated: the thread
stays). A turn runs the same `TurnRunner` as `exec` (scenario replies, rollout, tools, MCP) on a
worker thread, its exec events translated to app-server notifications (`notes.py`; a loaded
thread's state is in `state.py`, a turn's worker in `worker.py`). Like the real binary
(codex-facts §11), a loaded thread keeps its rollout open and ignores edits to it: it sees the
model-visible history it loaded plus what it appended, until it is unloaded (archive,
unsubscribe), which frees it: its completed turns leave memory too (`turn_log.py`). Thread
objects, read and fork are `threads.py`.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fake_codex.agent.history import history_items
from fake_codex.agent.recorder import Recorder
from fake_codex.agent.rollout import read_history, rollout_path
from fake_codex.app_server import shapes
from fake_codex.app_server.controls import Requests, steer
from fake_codex.app_server.notes import Notes
from fake_codex.app_server.state import Job, KeptWriter, LoadedThread, first_prompt, last_turn_id
from fake_codex.app_server.threads import INVALID_REQUEST, RpcFailure, ThreadViews
from fake_codex.app_server.turn_log import TurnLog
from fake_codex.app_server.worker import TurnWorker
from fake_codex.core import writer_lock
from fake_codex.core.home import HomeRefused, find_rollout, home_for_writing
from fake_codex.core.ids import is_uuid, uuid7
from fake_codex.core.writer_lock import ThreadLock

if TYPE_CHECKING:
    from fake_codex.core.invocation_log import Invocation
    from fake_codex.core.scenario import Scenario
    from fake_codex.core.versions import Behaviour

EX_SOFTWARE = 70


class AppServer(ThreadViews):
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
        self.out = Notes(behaviour.family)
        self.initialized = False
        self.originator = "codex_vscode"
        self.threads: dict[str, LoadedThread] = {}
        self.archived: set[str] = set()
        self.locks: dict[str, ThreadLock] = {}  # codex's writer lock of each loaded thread
        self._after: list[Callable[[], None]] = []
        # The completed turns of every thread this process ran (thread/read, resume, fork).
        self.turn_log = TurnLog()
        self.requests = Requests(self.out)
        self.worker = TurnWorker(
            scenario, behaviour, self.out, self.home, self.turn_log, self.requests
        )

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
            elif isinstance(message, dict) and "id" in message:
                self.requests.answer(message)  # the client's answer to an approval
        for thread in list(self.threads.values()):
            self._unload(thread)
        self.turn_log.close()
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
                    unknown = f"Invalid request: unknown variant `{method}`"
                    raise RpcFailure(INVALID_REQUEST, unknown)
                result = handler(self, params)
        except RpcFailure as exc:
            self.out.send({"id": request_id, "error": {"code": exc.code, "message": exc.message}})
            return
        self._reply(request_id, method, result)
        if method == "turn/start":
            self._start_worker(params)
        while self._after:
            self._after.pop(0)()  # what codex sends after its reply (e.g. the interrupted turn)

    def _reply(self, request_id: Any, method: str, result: dict[str, Any]) -> None:
        """Send a result, with the scenario's process faults (docs/scenarios.md)."""
        faults = self.scenario.app_server_faults if self.scenario is not None else None
        oversize = faults.oversize_reply if faults is not None else None
        if oversize is not None and oversize.method == method:
            result = {**result, "fakeCodexPadding": "x" * int(oversize.mib * 1024 * 1024)}
        self.out.send({"id": request_id, "result": result})
        if faults is not None and faults.crash_after_reply == method:
            sys.stderr.write(
                f"thread 'main' panicked at app-server: fake-codex fault crash_after_reply "
                f"{method}\nnote: run with `RUST_BACKTRACE=1`\n"
            )
            sys.stderr.flush()
            os._exit(101)

    def _initialize(self, params: dict[str, Any]) -> dict[str, Any]:
        if self.initialized:
            raise RpcFailure(INVALID_REQUEST, "Already initialized")
        self.initialized = True
        info = params.get("clientInfo")
        name = info.get("name") if isinstance(info, dict) else None
        if isinstance(name, str) and name:
            self.originator = name
        return {
            "userAgent": f"{name or 'client'}/{self.b.version} (fake-codex)",
            "codexHome": str(self.home),
            "platformFamily": "unix",
            "platformOs": "linux",
        }

    # --- threads ---------------------------------------------------------------------------

    def _thread_start(self, params: dict[str, Any]) -> dict[str, Any]:
        cwd = Path(str(params.get("cwd") or os.getcwd()))
        config = self._config(params)
        model = params.get("model") if isinstance(params.get("model"), str) else None
        mcp = self._start_mcp(config, cwd)
        thread_id = uuid7()
        self._lock(thread_id)
        path = rollout_path(self.home, thread_id)
        items: list[Any] = []
        writer = KeptWriter(path, self.b.has_ordinal, 0, items)
        from fake_codex.core.events import Totals

        thread = LoadedThread(
            thread_id, path, cwd, config, model, writer, items, Totals(), Totals(), True, mcp
        )
        Recorder(writer, self.b, self.worker.info(thread, uuid7())).session_meta()
        self.threads[thread_id] = thread
        self._announce(thread)
        return self._thread_result(thread, params, resumed=False)

    def _thread_resume(self, params: dict[str, Any]) -> dict[str, Any]:
        thread_id = str(params.get("threadId"))
        if not is_uuid(thread_id):
            raise RpcFailure(INVALID_REQUEST, f"invalid thread id: {thread_id!r} is not a UUID")
        loaded = self.threads.get(thread_id)
        if loaded is not None:
            # A new config is ignored (codex-facts §11).
            return self._thread_result(loaded, params, resumed=True)
        if thread_id in self.archived:
            raise RpcFailure(INVALID_REQUEST, f"thread {thread_id} is archived")
        path = find_rollout(self.home, thread_id)
        if path is None:
            raise RpcFailure(INVALID_REQUEST, f"no rollout found for thread id {thread_id}")
        self._lock(thread_id)
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
        thread.preview = first_prompt(path)
        self.threads[thread_id] = thread
        # A thread loaded from disk: idle, with the usage its rollout recorded (real 0.135-0.169).
        self.out.note("thread/status/changed", {"threadId": thread_id, "status": _idle()})
        from fake_codex.app_server.notes import token_usage

        usage = token_usage(history.last, history.totals, self.b.family >= 150)
        turn_id = last_turn_id(path) or uuid7()  # the schema requires one; codex names the last
        params = {"threadId": thread_id, "turnId": turn_id, "tokenUsage": usage}
        # After the reply (real 0.135-0.171); the status change comes before it.
        self._after.append(lambda: self.out.note("thread/tokenUsage/updated", params))
        return self._thread_result(thread, params, resumed=True)

    def _thread_unsubscribe(self, params: dict[str, Any]) -> dict[str, Any]:
        thread_id = str(params.get("threadId"))
        thread = self.threads.get(thread_id)
        if thread is None:
            return {"status": "notLoaded"}
        configured = _unload_delay(self.overrides)
        if writer_lock.unsubscribe_unload_delay(self.b.family, configured) == 0:

            def unloaded() -> None:
                self._unload(thread)
                not_loaded = {"type": "notLoaded"}
                self.out.note(
                    "thread/status/changed", {"threadId": thread_id, "status": not_loaded}
                )
                self.out.note("thread/closed", {"threadId": thread_id})

            self._after.append(unloaded)
        return {"status": "unsubscribed"}

    def _unload(self, thread: LoadedThread) -> None:
        lock = self.locks.pop(thread.id, None)
        if lock is not None:
            lock.release()
        self.threads.pop(thread.id, None)
        if thread.running is not None:
            thread.running.interrupted = True
        thread.writer.really_close()
        if thread.mcp is not None:
            thread.mcp.stop()
        self.turn_log.spill(thread.id)  # an unloaded thread keeps no turns in memory

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
        _move(path, target)
        self.archived.add(thread_id)
        self._after.append(lambda: self.out.note("thread/archived", {"threadId": thread_id}))
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
        _move(found[0], target)
        self.archived.discard(thread_id)
        self._after.append(lambda: self.out.note("thread/unarchived", {"threadId": thread_id}))
        return {"thread": self._stored_thread_json(thread_id, target)}

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
        policy = params.get("approvalPolicy")
        thread.running = Job(
            uuid7(), approval_policy=policy if isinstance(policy, str) else "never"
        )
        return {"turn": shapes.turn_json(self.b.family, thread.running.turn_id, "inProgress")}

    def _turn_steer(self, params: dict[str, Any]) -> dict[str, Any]:
        """More input for the running turn: kept on the job, whose worker takes it into the
        turn's history (and shows it as a user message item) at the version's point."""
        thread = self._loaded(params)
        job = thread.running
        refused = steer(job, params.get("expectedTurnId"), _text_of(params))
        if refused is not None or job is None:
            raise RpcFailure(INVALID_REQUEST, refused or "no active turn to steer")
        return {"turnId": job.turn_id}

    def _turn_interrupt(self, params: dict[str, Any]) -> dict[str, Any]:
        thread = self._loaded(params)
        job = thread.running
        if job is None or job.done.is_set():
            raise RpcFailure(INVALID_REQUEST, "no active turn to interrupt")
        if job.turn_id == params.get("turnId") and job.hung:
            job.interrupted = True  # fault no_turn_completed: acknowledged, and still no end
        elif job.turn_id == params.get("turnId"):
            job.interrupted = True
            job.done.set()  # the thread takes a new turn at once; the worker's output is dropped

            def interrupted() -> None:
                self.out.note("thread/status/changed", {"threadId": thread.id, "status": _idle()})
                turn = shapes.turn_json(self.b.family, job.turn_id, "interrupted")
                self.out.note("turn/completed", {"threadId": thread.id, "turn": turn})

            self._after.append(interrupted)
        return {}

    def _start_worker(self, params: dict[str, Any]) -> None:
        thread = self.threads[str(params.get("threadId"))]
        job = thread.running
        assert job is not None
        prompt = _text_of(params)
        if not thread.preview:
            thread.preview = prompt
        self.worker.start(thread, job, prompt)


def _move(source: Path, target: Path) -> None:
    import shutil  # here: only archive/unarchive move files; shutil loads zlib, bz2, lzma

    shutil.move(str(source), str(target))


def _text_of(params: dict[str, Any]) -> str:
    parts = params.get("input")
    return "".join(
        p.get("text", "")
        for p in (parts if isinstance(parts, list) else [])
        if isinstance(p, dict) and p.get("type") == "text"
    )


def _unload_delay(overrides: tuple[str, ...]) -> float | None:
    """`-c thread_unload_delay_secs=N` among the server's options (the last one counts)."""
    value = None
    for option in overrides:
        key, _, raw = option.partition("=")
        if key.strip() == "thread_unload_delay_secs":
            try:
                value = float(raw.strip())
            except ValueError:
                value = None
    return value


def _idle() -> dict[str, Any]:
    return {"type": "idle"}


def _active() -> dict[str, Any]:
    return {"type": "active", "activeFlags": []}


_HANDLERS = {
    "thread/start": AppServer._thread_start,
    "thread/resume": AppServer._thread_resume,
    "thread/fork": AppServer._thread_fork,
    "thread/read": AppServer._thread_read,
    "thread/archive": AppServer._thread_archive,
    "thread/unarchive": AppServer._thread_unarchive,
    "thread/unsubscribe": AppServer._thread_unsubscribe,
    "turn/start": AppServer._turn_start,
    "turn/steer": AppServer._turn_steer,
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
