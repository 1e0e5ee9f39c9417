"""Buying power: the one rule both brokers apply before an order may go.

A cash account (the default) cannot sell what it does not hold nor spend cash it does not
have; a margin account may short and lever up to the funds its caller says are available.
The caller supplies what only it knows: what is held, what its working orders already
commit, and the funds available (cash in a backtest, IB's AvailableFunds live).
"""

from __future__ import annotations

from quantnb.domain.costs import CostModel
from quantnb.domain.model import Order, Side

_EPS = 1e-9


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
        if need > available + _EPS:
            return False, (
                f"insufficient buying power: {order.side} {order.qty:g} {order.symbol} adds "
                f"{need:,.2f} of exposure, available {available:,.2f}"
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
