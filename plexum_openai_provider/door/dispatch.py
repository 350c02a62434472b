"""`serve`'s dispatch: one JSON-RPC line in, answers and `turn/event` notifications out.

`PluginServer.handle_line` never raises and never blocks on a turn: a turn or a consume runs in a
task of its own, so one slow turn never holds up another request. Turns of different agents run
at once; turns of one agent (or one workspace: the turn's lock) run one after the other.
`shutdown()` cancels every running turn and waits until each has ended (codex reaped), then
ends the warm `codex app-server` of backend `app-server`.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import json
import logging
from collections.abc import AsyncGenerator, Awaitable, Callable, Mapping
from typing import Any

from .. import (
    CanonicalEvent,
    ConfigError,
    ErrorEvent,
    HostConfig,
    ProviderError,
    ToolReply,
    ToolSpec,
    TurnLimits,
    TurnRequest,
    close_backends,
    consume_blocks,
    is_terminal,
    open_turn,
)
from ..errors import RpcError
from ..files import directory_problem
from ..jsonrpc import messages as rpc
from ..jsonrpc.framing import OversizedLine
from ..turn.lifetime import Turn
from ..version import __version__
from . import controls
from . import params as p
from .tools_call import ToolCalls
from .version import PROTOCOL_VERSION

log = logging.getLogger(__name__)

PLUGIN_NAME = "plexum-openai-provider"
SUPPORTED_VERSIONS = (PROTOCOL_VERSION,)
FINISHED_REMEMBERED = 1024  # finished turn ids kept, so a late cancel is told "finished"

Send = Callable[[Mapping[str, Any]], Awaitable[None]]


class _RunningTurn:
    def __init__(self, turn_id: str) -> None:
        self.turn_id = turn_id
        self.cancelled = asyncio.Event()
        self._cancel: Callable[[], bool] | None = None
        self.turn: Turn | None = None  # once it runs: what `steer` reaches
        self.attached = asyncio.Event()  # set with `turn`

    def attach(self, cancel: Callable[[], bool]) -> None:
        self._cancel = cancel
        if self.cancelled.is_set():
            cancel()

    def cancel(self) -> bool:
        """False when the turn's outcome was already decided (codex had ended it)."""
        self.cancelled.set()
        return self._cancel() if self._cancel is not None else True


class PluginServer:
    """The state of one `serve` process: initialized?, running turns, outstanding tool calls."""

    def __init__(
        self,
        config: HostConfig,
        send: Send,
        *,
        max_line_bytes: int,
        limits: TurnLimits | None = None,
        on_shutdown: Callable[[], None] | None = None,
    ) -> None:
        self.config = config
        self._on_shutdown = on_shutdown
        self._send = send
        self.max_line_bytes = max_line_bytes
        self.limits = limits
        self.initialized = False
        self.daemon_approves = False  # declared in `initialize`: it answers `approval/request`
        self.closing = False
        self.stopped = asyncio.Event()  # set once `shutdown` has been answered
        self._turns: dict[str, _RunningTurn] = {}
        self._finished: collections.OrderedDict[str, None] = collections.OrderedDict()
        self._agent_locks: dict[str, asyncio.Lock] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        # Running consumes and their request ids: `shutdown` cancels them, like turns.
        self._consumes: dict[asyncio.Task[None], rpc.RequestId] = {}
        self.tool_calls = ToolCalls(send, timeout_s=config.tool_timeout_s)

    # -- lines in --------------------------------------------------------------------------

    async def handle_line(self, line: bytes | OversizedLine) -> None:
        """Answer one line from the daemon (or act on it); never raises."""
        try:
            await self._handle_line(line)
        except Exception:  # a bug here must cost one answer, never the process
            log.exception("internal error while handling a line")
            await self._error(None, RpcError(rpc.INTERNAL_ERROR, "internal error; see stderr"))

    async def _handle_line(self, line: bytes | OversizedLine) -> None:
        if isinstance(line, OversizedLine):
            await self._error(
                None,
                RpcError(
                    p.LINE_TOO_LONG,
                    f"a line of {line.size} bytes is longer than the limit of "
                    f"{self.max_line_bytes} bytes; it was skipped",
                    {"limit": self.max_line_bytes, "size": line.size},
                ),
            )
            return
        if not line.strip():
            return
        try:
            # Decoded strictly: json.loads(bytes) would let UTF-8-encoded surrogates through.
            message = json.loads(line.decode("utf-8"), parse_constant=_reject_constant)
        except (ValueError, RecursionError) as exc:
            await self._error(None, RpcError(rpc.PARSE_ERROR, f"not valid JSON in UTF-8: {exc}"))
            return
        try:
            incoming = rpc.classify(message)
        except RpcError as exc:
            if rpc.is_response(message):  # never answer a response, not even a malformed one
                log.warning("ignored a malformed response: %s", exc.message)
                return
            await self._error(rpc.request_id_of(message), exc)
            return
        if rpc.SURROGATE_ESCAPE.search(line) and isinstance(incoming, rpc.Request):
            where = rpc.lone_surrogate(incoming.params)
            if where is not None:  # decided once, here: refused, naming the field
                await self._error(incoming.id, p.lone_surrogate_param(where))
                return
        if isinstance(incoming, rpc.Response):
            if not self.tool_calls.resolve(incoming):
                log.warning("ignored a response to no pending request (id %r)", incoming.id)
            return
        if isinstance(incoming, rpc.Notification):
            if incoming.method == "cancel":
                self._cancel_quietly(incoming.params)
            else:
                log.info("ignored notification %r", incoming.method)
            return
        try:
            await self._dispatch(incoming)
        except RpcError as exc:
            await self._error(incoming.id, exc)

    async def _dispatch(self, request: rpc.Request) -> None:
        method, params = request.method, request.params
        if method == "shutdown":
            if not self.closing:
                # At once, not in the task: a second shutdown or a turn in the same read must
                # be refused (two shutdown tasks would each wait for the other, for good).
                self.closing = True
                self._spawn(request.id, self._shutdown_request(request.id))
                return
            raise RpcError(p.SHUTTING_DOWN, "shutdown is already under way")
        if self.closing:
            raise RpcError(p.SHUTTING_DOWN, "the plugin is shutting down; no new requests")
        if method == "initialize":
            await self._initialize(request.id, p.parse_initialize(params))
        elif method == "cancel":
            await self._reply(request.id, self._cancel(p.parse_cancel(params)))
        elif method == "turn":
            self._require_initialized()
            self._start_turn(request.id, p.parse_turn(params))
        elif method == "consume":
            self._require_initialized()
            consume = self._spawn(request.id, self._consume(request.id, p.parse_consume(params)))
            self._consumes[consume] = request.id
            consume.add_done_callback(lambda task: self._consumes.pop(task, None))
        elif method in controls.METHODS:
            self._require_initialized()
            self._spawn(request.id, self._control(request))
        else:
            raise RpcError(
                rpc.METHOD_NOT_FOUND,
                f"unknown method {method!r}; this plugin serves initialize, turn, cancel, "
                "consume, steer, fork, shutdown",
            )

    def _require_initialized(self) -> None:
        if not self.initialized:
            raise RpcError(p.NOT_INITIALIZED, "send `initialize` first")

    # -- methods ---------------------------------------------------------------------------

    async def _initialize(self, request_id: rpc.RequestId, params: p.InitializeParams) -> None:
        if params.protocol_version not in SUPPORTED_VERSIONS:
            raise RpcError(
                p.UNSUPPORTED_PROTOCOL_VERSION,
                f"the daemon speaks protocol version {params.protocol_version!r}; this plugin "
                f"({PLUGIN_NAME} {__version__}) speaks {', '.join(map(repr, SUPPORTED_VERSIONS))}."
                " Upgrade the older side.",
                {"requested": params.protocol_version, "supported": list(SUPPORTED_VERSIONS)},
            )
        log.info("initialized by %s %s", params.host_name, params.host_version)
        self.initialized = True
        self.daemon_approves = params.approvals
        models = []
        for model in self.config.supported_models:
            model_arg = self.config.model_arg(model)
            models.append(
                {"id": model, "passes_model": model_arg is not None, "model_arg": model_arg}
            )
        await self._reply(
            request_id,
            {
                "protocol_version": PROTOCOL_VERSION,
                "plugin": {"name": PLUGIN_NAME, "version": __version__},
                "models": models,
                "capabilities": {
                    "tools": True,
                    "consume": True,
                    "cancel": True,
                    "per_turn_usage": True,
                    **controls.capabilities(self.config),
                },
                "limits": {
                    "max_line_bytes": self.max_line_bytes,
                    "tool_timeout_s": self.config.tool_timeout_s,
                },
            },
        )

    def _cancel(self, turn_id: str) -> dict[str, Any]:
        running = self._turns.get(turn_id)
        if running is not None:
            # Too late once codex has ended the turn: its own terminal event follows.
            status = "cancelling" if running.cancel() else "finished"
            return {"turn_id": turn_id, "status": status}
        status = "finished" if turn_id in self._finished else "unknown"
        return {"turn_id": turn_id, "status": status}

    def _cancel_quietly(self, params: Mapping[str, Any]) -> None:
        try:
            self._cancel(p.parse_cancel(params))
        except RpcError as exc:
            log.warning("ignored a cancel notification: %s", exc.message)

    def _start_turn(self, request_id: rpc.RequestId, params: p.TurnParams) -> None:
        if params.turn_id in self._turns or params.turn_id in self._finished:
            raise RpcError(
                p.DUPLICATE_TURN,
                f"turn_id {params.turn_id!r} is already in use by "
                f"{'a running' if params.turn_id in self._turns else 'an earlier'} turn; "
                "choose a new id for every turn",
                {"turn_id": params.turn_id},
            )
        try:
            self.config.model_arg(params.model)
        except ConfigError:
            raise RpcError(
                p.UNSUPPORTED_MODEL,
                f"model {params.model!r} is not in this plugin's supported_models "
                f"({', '.join(self.config.supported_models)}); add it to `supported_models` "
                f"in {self.config.source or 'config.json'}, or ask for a listed model",
                {"model": params.model, "supported_models": list(self.config.supported_models)},
            ) from None
        running = _RunningTurn(params.turn_id)
        self._turns[params.turn_id] = running
        self._spawn(request_id, self._turn(request_id, params, running))

    async def _turn(
        self, request_id: rpc.RequestId, params: p.TurnParams, running: _RunningTurn
    ) -> None:
        seq = 0
        terminal: CanonicalEvent | None = None

        async def emit(event: CanonicalEvent) -> None:
            nonlocal seq, terminal
            body = {"turn_id": params.turn_id, "seq": seq, "event": event.to_json()}
            await self._send(rpc.notification("turn/event", body))
            seq += 1
            terminal = event

        try:
            async with contextlib.aclosing(self._turn_events(params, running)) as events:
                async for event in events:
                    await emit(event)
        except Exception as exc:  # the runner never raises; if it ever does, the turn still ends
            log.exception("turn %s failed inside the plugin", params.turn_id)
            if terminal is None or not is_terminal(terminal):
                await emit(
                    ErrorEvent(
                        "internal",
                        f"the plugin failed internally ({type(exc).__name__}: {exc}); its "
                        "stderr has the details",
                    )
                )
        finally:
            self._turns.pop(params.turn_id, None)
            self._finished[params.turn_id] = None
            while len(self._finished) > FINISHED_REMEMBERED:
                self._finished.popitem(last=False)
        if terminal is None or not is_terminal(terminal):
            await emit(ErrorEvent("internal", "the turn ended without a terminal event (a bug)"))
        assert terminal is not None
        await self._reply(request_id, {"turn_id": params.turn_id, "event": terminal.to_json()})

    async def _turn_events(
        self, params: p.TurnParams, running: _RunningTurn
    ) -> AsyncGenerator[CanonicalEvent, None]:
        lock = self._agent_locks.setdefault(params.agent_id, asyncio.Lock())
        if not await _acquire_unless(lock, running.cancelled):
            yield ErrorEvent(
                "cancelled",
                "the turn was cancelled while waiting for another turn of the same agent",
            )
            return
        try:
            request = TurnRequest(
                prompt=params.input,
                workspace=params.workspace,
                session_id=params.session_id,
                model=params.model,
                agent_id=params.agent_id,
                tools=tuple(ToolSpec(t.name, t.description, t.input_schema) for t in params.tools),
                call_tool=self._tool_callback(params) if params.tools else None,
                images=params.images,
                output_schema=params.output_schema,
                reasoning_effort=params.reasoning_effort,
                codex_options=params.codex_options,
                sandbox=params.sandbox,
                approve=(
                    controls.approval_callback(self.tool_calls, self.config, params)
                    if self.daemon_approves
                    else None
                ),
            )
            async with open_turn(self.config, request, self.limits) as turn:
                running.attach(turn.cancel)
                running.turn = turn
                running.attached.set()
                async for event in turn:
                    yield event
        finally:
            lock.release()

    def _tool_callback(
        self, params: p.TurnParams
    ) -> Callable[[str, dict[str, Any]], Awaitable[ToolReply]]:
        async def call(name: str, arguments: dict[str, Any]) -> ToolReply:
            return await self.tool_calls.call(params.turn_id, params.agent_id, name, arguments)

        return call

    async def _consume(self, request_id: rpc.RequestId, params: p.ConsumeParams) -> None:
        problem = directory_problem(params.workspace)
        if problem is not None:
            await self._error(request_id, p.bad_param("workspace", problem))
            return
        try:
            result = await consume_blocks(
                self.config, params.workspace, params.session_id, params.block_ids
            )
        except (ProviderError, OSError, ValueError) as exc:
            await self._error(request_id, RpcError(p.CONSUME_FAILED, f"consume failed: {exc}"))
            return
        await self._reply(request_id, result.to_json())

    async def _control(self, request: rpc.Request) -> None:
        """`steer` and `fork` (door/controls.py), answered when done; never raises."""
        try:
            result = await controls.handle(self.config, request, self._turns)
        except RpcError as exc:
            await self._error(request.id, exc)
            return
        await self._reply(request.id, result)

    async def _shutdown_request(self, request_id: rpc.RequestId) -> None:
        cancelled = await self.shutdown()
        await self._reply(request_id, {"cancelled": cancelled})
        self.stopped.set()

    async def shutdown(self) -> list[str]:
        """Cancel every running turn and consume and wait for all of them to end."""
        self.closing = True
        if self._on_shutdown is not None:
            self._on_shutdown()
        cancelled = sorted(self._turns)
        for running in list(self._turns.values()):
            running.cancel()
        self.tool_calls.cancel_all()
        # A consume still waiting (for the workspace lock, or for codex to unload the thread)
        # gives up and is answered here; one already rewriting finishes first (`consume_blocks`).
        consumes = dict(self._consumes)
        for consume in consumes:
            consume.cancel()
        current = asyncio.current_task()
        others = [t for t in self._tasks if t is not current]
        if others:
            await asyncio.gather(*others, return_exceptions=True)
        message = "consume failed: the plugin is shutting down; nothing was rewritten"
        for consume, request_id in consumes.items():
            if consume.cancelled():
                await self._error(request_id, RpcError(p.CONSUME_FAILED, message))
        await close_backends()  # the warm `codex app-server` (backend `app-server`) ends with us
        return cancelled

    # -- out -------------------------------------------------------------------------------

    def _spawn(self, request_id: rpc.RequestId, coro: Awaitable[None]) -> asyncio.Task[None]:
        task: asyncio.Task[None] = asyncio.ensure_future(self._answered(request_id, coro))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def _answered(self, request_id: rpc.RequestId, coro: Awaitable[None]) -> None:
        """Run a request's task; a bug in it still answers the request (-32603), never a
        `Task exception was never retrieved` and a daemon waiting forever."""
        try:
            await coro
        except Exception:
            log.exception("internal error while serving request %r", request_id)
            await self._error(
                request_id, RpcError(rpc.INTERNAL_ERROR, "internal error; see stderr")
            )

    async def _reply(self, request_id: rpc.RequestId, result: Mapping[str, Any]) -> None:
        await self._send(rpc.result_message(request_id, result))

    async def _error(self, request_id: rpc.AnswerId, error: RpcError) -> None:
        log.info("answering with error %d: %s", error.code, error.message)
        await self._send(rpc.error_message(request_id, error))


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


async def _acquire_unless(lock: asyncio.Lock, cancelled: asyncio.Event) -> bool:
    """Take `lock`, unless `cancelled` is set first (then False and the lock is not held)."""
    if cancelled.is_set():
        return False
    acquire = asyncio.ensure_future(lock.acquire())
    stop = asyncio.ensure_future(cancelled.wait())
    try:
        await asyncio.wait({acquire, stop}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        stop.cancel()
    if acquire.done() and not acquire.cancelled():
        if cancelled.is_set():
            lock.release()
            return False
        return True
    acquire.cancel()
    try:
        await acquire
    except asyncio.CancelledError:
        return False
    lock.release()  # it was granted just before the cancel landed
    return False
