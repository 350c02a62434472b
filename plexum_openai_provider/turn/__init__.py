"""One turn's lifetime: the `Turn` object (`lifetime`), its clock, the tools it offers, its
messages and the mirror at its end; its backends in their own rooms (`exec/`, `app_server/`)
behind one seam (`backend`). The public names are re-exported here, the lifetime's lazily
(PEP 562): a cold `say` imports `exec/head_start` and the request before asyncio has loaded.
"""

from __future__ import annotations

from .request import TurnLimits, TurnRequest

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (mypy knows the name)
if TYPE_CHECKING:
    from typing import Any

    from .lifetime import Turn, close_backends, open_turn, run_turn

__all__ = ["Turn", "TurnLimits", "TurnRequest", "close_backends", "open_turn", "run_turn"]
_LIFETIME = frozenset({"Turn", "close_backends", "open_turn", "run_turn"})


def __getattr__(name: str) -> Any:
    if name in _LIFETIME:
        from . import lifetime

        return getattr(lifetime, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
