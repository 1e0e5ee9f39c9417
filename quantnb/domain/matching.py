"""Order matching against one bar: the rules both the backtest broker and the gateway simulator use.

A decision made on bar *t* is matched against bar *t+1* (the caller guarantees that); these
functions only answer "at which price would this order trade inside this bar?". Gaps: when the
bar opens through the order's price, the fill is at the open, never at a price the market skipped.
"""

from __future__ import annotations

from quantnb.domain.model import Order, OrderType, Side


def limit_price(buy: bool, limit: float, o: float, h: float, lo: float) -> float | None:
    """Fill price of a limit order in a bar, or None; a gap through the limit fills at the open."""
    if buy:
        if o <= limit:
            return o
        return limit if lo <= limit else None
    if o >= limit:
        return o
    return limit if h >= limit else None


def stop_price(buy: bool, stop: float, o: float, h: float, lo: float) -> float | None:
    """Trigger price of a stop in a bar, or None; a gap through the stop triggers at the open."""
    if buy:
        if o >= stop:
            return o
        return stop if h >= stop else None
    if o <= stop:
        return o
    return stop if lo <= stop else None


def trailing_stop_level(order: Order) -> float:
    """The current stop of a trailing order from its reference (best price since it started)."""
    ref = order.trail_ref
    assert ref is not None, "trailing stop without a reference price"
    if order.side is Side.SELL:
        if order.trail_percent is not None:
            return ref * (1.0 - order.trail_percent / 100.0)
        return ref - (order.trail_amount or 0.0)
    if order.trail_percent is not None:
        return ref * (1.0 + order.trail_percent / 100.0)
    return ref + (order.trail_amount or 0.0)


def match(order: Order, o: float, h: float, lo: float) -> tuple[float, bool] | None:
    """The price at which ``order`` trades in the bar (o, h, lo), or None.

    Returns ``(price, slips)``: ``slips`` is True when the fill is a market fill (market orders
    and triggered stops), which pays slippage; limit fills trade at their price. Updates the
    order's stop-limit trigger and trailing reference as the bar is consumed.
    """
    kind = order.type
    buy = order.side is Side.BUY
    if kind is OrderType.MARKET:
        return o, True
    if kind is OrderType.LIMIT:
        p = limit_price(buy, order.limit, o, h, lo)  # type: ignore[arg-type]
        return None if p is None else (p, False)
    if kind is OrderType.STOP:
        p = stop_price(buy, order.stop, o, h, lo)  # type: ignore[arg-type]
        return None if p is None else (p, True)
    if kind is OrderType.STOP_LIMIT:
        if not order.triggered:
            p = stop_price(buy, order.stop, o, h, lo)  # type: ignore[arg-type]
            if p is None:
                return None
            order.triggered = True
            limit = order.limit
            if (buy and p <= limit) or (not buy and p >= limit):  # type: ignore[operator]
                return p, False
            # Triggered beyond the limit: whether the price came back to the limit later in this
            # bar is unknowable from OHLC, so assume it did not (pessimistic) and work it next bar.
            return None
        p = limit_price(buy, order.limit, o, h, lo)  # type: ignore[arg-type]
        return None if p is None else (p, False)
    if kind is OrderType.TRAILING_STOP:
        # Check against the stop set by earlier bars before this bar moves it: within a bar the
        # extreme that would tighten the stop may come after the move that triggers it.
        p = stop_price(buy, trailing_stop_level(order), o, h, lo)
        if p is not None:
            return p, True
        ref = order.trail_ref
        order.trail_ref = max(ref, h) if not buy else min(ref, lo)  # type: ignore[type-var]
        return None
    raise AssertionError(f"unknown order type {kind!r}")


def pessimistic_pick(candidates: list[tuple[Order, float, bool]]) -> tuple[Order, float, bool]:
    """Of several OCO siblings that all trade in one bar, the one that is worst for the holder.

    OHLC cannot tell whether a bracket's take-profit or stop-loss was touched first, so the
    stop-loss (a stop, or the worse price) is assumed to have come first.
    """
    stops = [c for c in candidates if c[0].type in (OrderType.STOP, OrderType.TRAILING_STOP)]
    pool = stops or candidates
    sell = pool[0][0].side is Side.SELL
    return min(pool, key=lambda c: c[1]) if sell else max(pool, key=lambda c: c[1])
