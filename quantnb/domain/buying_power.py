"""Buying power: the one rule both brokers apply before an order may go.

A cash account (the default) cannot sell what it does not hold nor spend cash it does not
have; a margin account may short and lever up to the funds its caller says are available.
The caller supplies what only it knows: what is held, what its working orders already
commit, and the funds available (cash in a backtest, IB's AvailableFunds live).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Iterable

from quantnb.domain.costs import CostModel
from quantnb.domain.model import Order, Side

log = logging.getLogger(__name__)

_EPS = 1e-9


def commitments(
    order: Order,
    working: Iterable[Order],
    price_of: Callable[[str], float | None],
    costs: CostModel,
    memo: dict[str, float] | None = None,
) -> tuple[float, float]:
    """``(selling, reserved)`` for ``check_buying_power`` from the working orders.

    ``selling``: remaining quantity of ``order.symbol`` that working sells already sell;
    ``reserved``: cash the working buys commit, each priced at its own symbol's price
    (``price_of``), else at its limit or stop; a buy with no price at all is left out (logged).
    Exits of a bracket (orders with a parent) and ``order`` itself commit nothing.
    ``memo``: each buy's cash by order id, kept by a caller that checks several orders against
    the same working orders and prices (the sums are the same, added in the same order).
    """
    selling = 0.0
    reserved = 0.0
    for o in working:
        if o.parent_id is not None or o is order:
            continue
        if o.side is Side.SELL:
            if o.symbol == order.symbol:
                selling += o.remaining
            continue
        cash = memo.get(o.id) if memo is not None else None
        if cash is None:
            cash = _reserved_by(o, price_of, costs)
            if memo is not None:
                memo[o.id] = cash
        if cash == cash:  # NaN: no price, nothing reserved
            reserved += cash
    return selling, reserved


def _reserved_by(o: Order, price_of: Callable[[str], float | None], costs: CostModel) -> float:
    """The cash working buy ``o`` reserves at its symbol's price (else its limit or stop);
    NaN, logged, when it has no price at all."""
    price = price_of(o.symbol)
    if not (price and price > 0 and math.isfinite(price)):
        price = o.limit or o.stop
    if not price:
        log.warning("working order %s (BUY %g %s) has no price yet: its cash is not "
                    "reserved", o.id, o.remaining, o.symbol)  # fmt: skip
        return math.nan
    return o.remaining * costs.fill_price(float(price), "BUY")


def check_buying_power(
    order: Order,
    price: float,
    costs: CostModel,
    *,
    margin: bool,
    allow_short: bool,
    held: float,
    selling: float,
    reserved: float,
    available: float,
) -> tuple[bool, str]:
    """Whether ``order`` at about ``price`` can be paid for, and why not.

    ``held``: signed position; ``selling``: quantity already being sold by working orders;
    ``reserved``: cash already committed to working buys; ``available``: cash (cash account)
    or spare funds for new exposure (margin account).
    """
    if order.side is Side.SELL and not allow_short:
        if order.qty + selling > held + _EPS:
            return False, (
                f"short selling is not allowed: selling {order.qty:g} {order.symbol} with "
                f"{held:g} held and {selling:g} already being sold "
                "(pass allow_short=True for a margin account)"
            )
        return True, ""
    if margin:
        after = held + order.signed_qty
        if abs(after) <= abs(held):
            return True, ""
        need = (abs(after) - abs(held)) * price
        free = available - reserved  # what working buys will take when they fill
        if need > free + _EPS:
            return False, (
                f"insufficient buying power: {order.side} {order.qty:g} {order.symbol} adds "
                f"{need:,.2f} of exposure, available {free:,.2f}"
            )
        return True, ""
    if order.side is Side.SELL:
        return True, ""
    est = costs.fill_price(price, "BUY")
    cost = order.qty * est + costs.commission(order.qty, est)
    free = available - reserved
    if cost > free + _EPS:
        return False, (
            f"insufficient buying power: BUY {order.qty:g} {order.symbol} at about {est:,.4f} "
            f"costs {cost:,.2f} with commission, available {free:,.2f}"
        )
    return True, ""
