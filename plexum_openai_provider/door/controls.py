"""`serve`'s controls of a running turn or a session: `steer` (more user input for a running
turn) and `fork` (a new session continuing from a copy of another's thread).

`handle(config, request, running)` returns the result or raises `RpcError`: invalid params
(-32602) or `CONTROL_FAILED` (-32007) whose `data.reason` a daemon can act on —
`steer_unsupported` (exec backend: send the text as the next turn), `not_running`,
`codex_refused`, `fork_failed`.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Mapping
from typing import Any, Protocol

from ..config import HostConfig
from ..errors import ControlError, RpcError
from ..files import directory_problem
from ..jsonrpc import messages as rpc
from ..turn.approval import DECISIONS, ApprovalRequest, Approve
from ..turn.lifetime import Turn
from ..turn.steer import WAIT_S as STEER_WAIT_S
from . import params as p

METHODS = ("steer", "fork")


def capabilities(config: HostConfig) -> dict[str, Any]:
    """What `initialize` reports of the controls, which depend on the backend."""
    app_server = config.backend == "app-server"
    return {
        "backend": config.backend,
        "steer": app_server,
        "fork": True,
        "approvals": app_server,
        "context": True,
        "sandbox": True,
    }


def approval_callback(asker: Asker, config: HostConfig, turn: p.TurnParams) -> Approve:
    """The turn's `approve`: the reverse request `approval/request` to the daemon. Fail-closed:
    an error, an invalid answer or none within `approval_timeout_s` is `decline`."""

    async def approve(request: ApprovalRequest) -> str:
        params = {"turn_id": turn.turn_id, "agent_id": turn.agent_id, **request.to_json()}
        response = await asker.ask("approval/request", params, config.approval_timeout_s)
        if response is None or response.is_error or not isinstance(response.result, dict):
            return "decline"
        decision = response.result.get("decision")
        return decision if decision in DECISIONS else "decline"

    return approve


class Asker(Protocol):
    async def ask(
        self, method: str, params: Mapping[str, Any], timeout_s: float
    ) -> rpc.Response | None: ...


def control_error(exc: ControlError, **data: Any) -> RpcError:
    return RpcError(p.CONTROL_FAILED, str(exc), {"reason": exc.reason, **data})


class Running(Protocol):
    """A turn `serve` runs: its `Turn` once it has one (`attached` is set then)."""

    turn: Turn | None
    attached: asyncio.Event


async def handle(
    config: HostConfig, request: rpc.Request, running: Mapping[str, Running]
) -> dict[str, Any]:
    if request.method == "steer":
        return await _steer(config, request.params, running)
    return await _fork(config, request.params)


async def _steer(
    config: HostConfig, params: Mapping[str, Any], running: Mapping[str, Running]
) -> dict[str, Any]:
    turn_id, text = p.parse_steer(params)
    entry = running.get(turn_id)
    try:
        if entry is None:
            raise ControlError("not_running", f"no running turn {turn_id!r} to steer")
        if not capabilities(config)["steer"]:
            raise ControlError(
                "steer_unsupported",
                f"the {config.backend} backend cannot add input to a running turn; send it as "
                "the next turn (or use backend app-server)",
            )
        # A turn waiting for its agent has no `Turn` yet: wait for it as `SteerSlot` would.
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(entry.attached.wait(), STEER_WAIT_S)
        if entry.turn is None:
            raise ControlError("not_running", f"turn {turn_id!r} has not started yet")
        await entry.turn.steer(text)
    except ControlError as exc:
        raise control_error(exc, turn_id=turn_id) from None
    return {"turn_id": turn_id, "status": "steered"}


async def _fork(config: HostConfig, params: Mapping[str, Any]) -> dict[str, Any]:
    from ..fork import fork_session

    fork = p.parse_fork(params)
    problem = directory_problem(fork.workspace)
    if problem is not None:
        raise p.bad_param("agent.workspace", problem)
    try:
        result = await fork_session(
            config, fork.workspace, fork.session_id, fork.new_session_id, agent=fork.agent_id
        )
    except ControlError as exc:
        raise control_error(exc) from None
    return result.to_json()
