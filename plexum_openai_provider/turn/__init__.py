"""One turn's lifetime: the `Turn` object, its clock, its attempts, the tools it offers, its
messages and the mirror at its end. The public names are re-exported here.
"""

from __future__ import annotations

from .request import TurnLimits, TurnRequest
from .turn import Turn, close_backends, open_turn, run_turn

__all__ = ["Turn", "TurnLimits", "TurnRequest", "close_backends", "open_turn", "run_turn"]
