"""Resume a journal only on the gateway it traded on; on a gateway that holds none of its orders
or holdings (a fresh simulator, another gateway), start a new run instead of mixing the two.

Resumed there, the journal's working orders would be cancelled as unknown to the gateway and its
holdings cut to nothing, in the journal of a run that never happened on this gateway. The new
run gets a journal of its own; the old one is left as it was.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from quantnb.domain.model import Order

_EPS = 1e-9
_LISTED = 5


@dataclass(frozen=True, slots=True)
class JournalHoldings:
    """What a journal says the gateway holds for it: its orders (the working ones apart) and
    the session's positions."""

    orders: tuple[str, ...]
    working: tuple[str, ...]
    held: Mapping[str, float]

    @classmethod
    def of(cls, orders: Iterable[Order], held: Mapping[str, float]) -> JournalHoldings:
        orders = list(orders)
        return cls(
            tuple(o.id for o in orders),
            tuple(o.id for o in orders if not o.is_done),
            {s: q for s, q in held.items() if abs(q) > _EPS},
        )


def not_resumable(
    journal: JournalHoldings, order_refs: set[str], positions: Mapping[str, float]
) -> str | None:
    """Why the journal is not resumed on a gateway with ``order_refs`` (of its open orders and
    today's executions) and ``positions``; None when it is: it has nothing working or held, or
    the gateway knows one of its orders or holds one of its symbols."""
    if not journal.working and not journal.held:
        return None
    if any(o in order_refs for o in journal.orders):
        return None
    if any(abs(positions.get(s, 0.0)) > _EPS for s in journal.held):
        return None
    what = []
    if journal.working:
        what.append(f"{len(journal.working)} working order(s) ({_listed(journal.working)})")
    if journal.held:
        held = [f"{q:g} {s}" for s, q in journal.held.items()]
        what.append(f"holdings of {_listed(held)}")
    return (
        f"the journal recorded {' and '.join(what)}, but the gateway holds none of them "
        "(no open order or execution with their order ids, no position in "
        f"{_listed(list(journal.held)) or 'their symbols'}): not the gateway the journal "
        "traded on (a fresh one?)"
    )


def _listed(items: list[str] | tuple[str, ...]) -> str:
    more = f" and {len(items) - _LISTED} more" if len(items) > _LISTED else ""
    return ", ".join(items[:_LISTED]) + more
