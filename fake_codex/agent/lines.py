"""The parts every rollout line of a turn is built from: `TurnInfo` (which thread, turn and
settings), and `LineWriter`'s helpers for `response_item` payloads in the emulated version's
shape (ids and passthrough from 0.150, history metadata from 0.169) and `item_completed` events.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from fake_codex.agent.rollout import RolloutWriter
from fake_codex.core.events import Totals
from fake_codex.core.ids import uuid7
from fake_codex.core.versions import Behaviour


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


@dataclass
class TurnInfo:
    thread_id: str
    cwd: str
    model: str
    provider_id: str
    approval_policy: str
    sandbox: str
    effort: str | None = None  # `-c model_reasoning_effort` (turn_context `effort`)
    turn_id: str = field(default_factory=uuid7)
    started_ns: int = field(default_factory=time.monotonic_ns)
    started_at_ms: int = field(default_factory=lambda: time.time_ns() // 1_000_000)

    @property
    def started_at(self) -> int:
        return self.started_at_ms // 1000


class LineWriter:
    """Writes one turn's lines through `writer`, shaped for `behaviour`."""

    def __init__(self, writer: RolloutWriter, behaviour: Behaviour, info: TurnInfo) -> None:
        self.w = writer
        self.b = behaviour
        self.t = info
        self._seq = 0
        self._turn = Totals()
        self._last = Totals()

    # -- helpers -------------------------------------------------------------------------------
    def _meta(self) -> dict[str, Any] | None:
        self._seq += 1
        return {
            "history_sequence": self._seq,
            "sampled_through_sequence": 0,
            "client_authored": False,
        }

    def _response_item(
        self,
        payload: dict[str, Any],
        item_id: str | None = None,
        passthrough: dict[str, Any] | None = None,
        status_first: bool = False,
    ) -> None:
        """0.150+: an `id` after `type` (after a second key `status` when `status_first`) and
        `internal_chat_message_metadata_passthrough` (default: `{turn_id}`)."""
        if self.b.family >= 150:
            kind = payload.pop("type")
            default_id = f"msg_{uuid7()}" if kind == "message" else uuid7()
            head: dict[str, Any] = {"type": kind}
            if status_first and "status" in payload:
                head["status"] = payload.pop("status")
            payload = {**head, "id": item_id or default_id, **payload}
            payload["internal_chat_message_metadata_passthrough"] = passthrough or {
                "turn_id": self.t.turn_id
            }
        self.w.write("response_item", payload, self._meta())

    def _created(self) -> dict[str, Any]:
        """The passthrough of an item codex itself creates (tool outputs): a clock."""
        return {"turn_id": self.t.turn_id, "create_time": time.time()}

    def _input(self, kind: str, provenance: dict[str, Any]) -> dict[str, Any]:
        """The passthrough of a context/user message (0.169 adds its provenance)."""
        meta = {**self._created(), "content_item_kinds": [kind]}
        if self.b.family >= 169:
            meta["content_item_metadata"] = [{"provenance": provenance}]
        return meta

    def _item_completed(self, item: dict[str, Any], started_ms: int | None = None) -> None:
        now = _now_ms()
        payload = {
            "type": "item_completed",
            "thread_id": self.t.thread_id,
            "turn_id": self.t.turn_id,
            "item": item,
            "started_at_ms": now if started_ms is None else started_ms,
            "completed_at_ms": now,
        }
        self.w.write("event_msg", payload)

    def _usage(self, totals: Totals) -> dict[str, int]:
        return totals.as_rollout(self.b.has_cache_write)
