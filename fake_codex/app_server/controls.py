"""The fake app-server's controls (issue 21): `turn/steer`'s check, and the approval requests
it makes of the client for a command the model wants run outside its sandbox (`thread/fork` is
`threads.py`).

Emulated as far as the provider relies on them: a steer is taken only for the thread's running
turn (`expectedTurnId`), else refused; an approval is a JSON-RPC request to the client whose
answer the worker waits for (a turn interrupted meanwhile counts as `cancel`).
"""

from __future__ import annotations

import itertools
import threading
import time
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from fake_codex.app_server.notes import Notes
    from fake_codex.app_server.state import Job


class Requests:
    """Requests the server makes of its client, and their answers (routed by the read loop)."""

    def __init__(self, out: Notes) -> None:
        self.out = out
        self._ids = itertools.count(1)
        self._lock = threading.Lock()
        self._waiting: dict[Any, tuple[threading.Event, list[Any]]] = {}

    def ask(self, method: str, params: dict[str, Any], job: Job) -> Any:
        """Send a request and wait for its result (None when the turn ends first)."""
        request_id = f"srv-{next(self._ids)}"
        done, box = threading.Event(), list[Any]()
        with self._lock:
            self._waiting[request_id] = (done, box)
        self.out.send({"id": request_id, "method": method, "params": params})
        while not done.wait(0.05):
            if job.done.is_set() or job.interrupted:
                break
        with self._lock:
            self._waiting.pop(request_id, None)
        return box[0] if box else None

    def answer(self, message: dict[str, Any]) -> None:
        with self._lock:
            entry = self._waiting.get(message.get("id"))
        if entry is not None:
            entry[1].append(message.get("result"))
            entry[0].set()


def approve_command(
    requests: Requests, job: Job, thread_id: str, call_id: str, command: str, cwd: str, reason: Any
) -> bool:
    """`item/commandExecution/requestApproval`: True when the client accepted."""
    params = {
        "threadId": thread_id,
        "turnId": job.turn_id,
        "itemId": call_id,
        "reason": reason if isinstance(reason, str) else None,
        "command": command,
        "cwd": cwd,
        "availableDecisions": ["accept", "cancel"],
        "startedAtMs": time.time_ns() // 1_000_000,  # required by every pinned schema
    }
    result = requests.ask("item/commandExecution/requestApproval", params, job)
    decision = result.get("decision") if isinstance(result, dict) else None
    return decision in ("accept", "acceptForSession")


def steer(job: Job | None, expected: Any, text: str) -> str | None:
    """The refusal message, or None when the running turn took the steer."""
    if job is None or job.done.is_set():
        return "no active turn to steer"
    if expected != job.turn_id:
        return f"expected active turn id `{expected}` but found `{job.turn_id}`"
    job.steers.append(text)
    return None
