"""One-cancels-all groups: what a fill does to the other working orders of its group.

IB's OCA types: 1 cancels the others (with block), 2 and 3 reduce them (with and without
block). A reduction takes the filled quantity off each other order of the group; one reduced
to nothing is cancelled. Used by the backtest broker and the gateway simulator.
"""

from __future__ import annotations

from collections.abc import Iterable

CANCEL, REDUCE, REDUCE_NO_BLOCK = 1, 2, 3
OCA_TYPES = {"cancel": CANCEL, "reduce": REDUCE}
_EPS = 1e-9


def oca_type(value: object) -> int:
    """IB's ocaType for ``value``: 'cancel' (1) or 'reduce' (2), or IB's number 1-3."""
    from quantnb.errors import OrderError

    if isinstance(value, int) and not isinstance(value, bool) and value in (1, 2, 3):
        return value
    key = str(value).lower()
    if key not in OCA_TYPES:
        raise OrderError(
            f"oca_type={value!r}: use 'cancel' (a fill cancels the group's other orders) or "
            "'reduce' (a fill reduces them by the filled quantity)"
        )
    return OCA_TYPES[key]


def after_fill(kind: int, filled: float, remaining: Iterable[float]) -> list[float | None]:
    """For each other order of the group (its remaining quantity), what it becomes after a fill
    of ``filled`` shares: its new remaining quantity, or None when it is cancelled."""
    if kind == CANCEL:
        return [None for _ in remaining]
    out: list[float | None] = []
    for left in remaining:
        rest = left - filled
        out.append(rest if rest > _EPS else None)
    return out
