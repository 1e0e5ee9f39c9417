"""What the working orders commit, kept per symbol while the orders of one batch go out.

The buying-power rule needs, for each new order, the cash every working buy reserves. Worked
out afresh for each of N orders sent in one step that is O(N²); within a batch nothing but the
batch's own orders changes the working orders or the prices (no message is read meanwhile), so
each symbol's figure is worked out once and again only after an order of that symbol is sent.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from quantnb.domain.buying_power import commitments
from quantnb.domain.costs import CostModel
from quantnb.domain.model import Order

WorkingOf = Callable[[str | None], Iterable[Order]]  # symbol -> its working orders (None: all)
PriceOf = Callable[[str], float | None]


class CommitmentBook:
    """``(selling, reserved)`` for one order after another, as ``commitments`` gives them."""

    def __init__(self, working: WorkingOf, price_of: PriceOf, costs: CostModel) -> None:
        self._working = working
        self._price_of = price_of
        self._costs = costs
        # symbol -> cash its working buys reserve (None: to be worked out)
        self._reserved: dict[str, float | None] | None = None

    def commitments(self, order: Order, price: float) -> tuple[float, float]:
        """``order``'s own symbol priced at ``price``, the others at their known prices."""
        symbol = order.symbol

        def own_price(s: str) -> float | None:
            return price if s == symbol else self._price_of(s)

        selling, own = commitments(order, self._working(symbol), own_price, self._costs)
        return selling, own + self._others(order)

    def sent(self, order: Order) -> None:
        """``order`` was recorded (working or refused): its symbol's figure is out of date."""
        if self._reserved is not None:
            self._reserved[order.symbol] = None

    def _others(self, order: Order) -> float:
        reserved = self._reserved
        if reserved is None:
            reserved = self._reserved = {}
            for o in self._working(None):
                reserved[o.symbol] = None
        total = 0.0
        for s, cash in reserved.items():
            if s == order.symbol:
                continue
            if cash is None:
                cash = reserved[s] = commitments(order, self._working(s), self._price_of,
                                                 self._costs)[1]  # fmt: skip
            total += cash
        return total
