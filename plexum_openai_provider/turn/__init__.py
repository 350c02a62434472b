"""One turn's lifetime: the `Turn` object (`lifetime`), its clock, the tools it offers, its
messages and the mirror at its end; its backends in their own rooms (`exec/`, `app_server/`)
behind one seam (`backend`). The public names are re-exported here.
"""

from __future__ import annotations

from .lifetime import Turn, close_backends, open_turn, run_turn
from .request import TurnLimits, TurnRequest

__all__ = ["Turn", "TurnLimits", "TurnRequest", "close_backends", "open_turn", "run_turn"]
