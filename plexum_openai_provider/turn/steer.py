"""Steering a running turn: the slot where an attempt offers to take more user input.

A backend that can steer (app-server: `turn/steer` with `expectedTurnId`) offers its steer once
codex has started the turn and withdraws it when the turn ends. `SteerSlot.steer` waits (bounded)
for an offer while the turn is still getting there; a turn that has ended refuses.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from ..errors import ControlError

Steer = Callable[[str], Awaitable[None]]
WAIT_S = 10.0  # how long a steer waits for codex to start the turn (lock, thread, turn/start)


class SteerSlot:
    def __init__(self) -> None:
        self._steer: Steer | None = None
        self._changed = asyncio.Event()
        self.ended = False

    def offer(self, steer: Steer) -> None:
        self._steer = steer
        self._changed.set()

    def withdraw(self) -> None:
        self._steer = None

    def end(self) -> None:
        self.ended = True
        self._steer = None
        self._changed.set()

    async def steer(self, text: str, wait_s: float = WAIT_S) -> None:
        """Give `text` to the running codex turn. Raises ControlError `not_running` when the turn
        has ended (or codex did not start it within `wait_s`), or what the backend raises."""
        try:
            async with asyncio.timeout(wait_s):
                while self._steer is None and not self.ended:
                    self._changed.clear()
                    await self._changed.wait()
        except TimeoutError:
            pass
        steer = self._steer
        if steer is None:
            raise ControlError(
                "not_running",
                "the turn has no running codex turn to steer (it ended, or has not started yet)",
            )
        await steer(text)
