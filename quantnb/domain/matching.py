"""Order matching against one bar: the rules both the backtest broker and the gateway simulator use.

A decision made on bar *t* is matched against bar *t+1* (the caller guarantees that); these
functions only answer "at which price would this order trade inside this bar?". Gaps: when the
bar opens through the order's price, the fill is at the open, never at a price the market skipped.

What OHLC proves about the order of prices inside a bar: the open comes first and the close
last; the high and the low come in between, in an unknown order. A fill needs a proof from these
facts, never a guess that the market happened to move in the holder's favour.
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


def within_bar(price: float, h: float, lo: float) -> float:
    """A slipped price kept inside the bar's range: no fill at a price the bar never traded.

    The backtest's rule for bars. The gateway simulator leaves its slippage uncapped: there it
    stands for the spread around the last trade, which a one-price bar cannot bound.
    """
    return h if price > h else lo if price < lo else price


def after_trigger(
    buy: bool, limit: float, trigger: float, o: float, h: float, lo: float, c: float
) -> float | None:
    """Fill price of a stop-limit in the bar its stop triggered at ``trigger``, or None.

    A trigger on the limit's side fills there. Beyond the limit, a fill needs a later trade
    through the limit: after a trigger at the open the rest of the bar (its low for a buy, its
    high for a sell) proves one; after a trigger inside the bar only the close comes later.
    """
    if (trigger <= limit) if buy else (trigger >= limit):
        return trigger
    later = (lo if buy else h) if trigger == o else c
    return limit if ((later <= limit) if buy else (later >= limit)) else None


def match(order: Order, o: float, h: float, lo: float, c: float) -> tuple[float, bool] | None:
    """The price at which ``order`` trades in the bar (o, h, lo, c), or None.

    Returns ``(price, slips)``: ``slips`` is True when the fill is a market fill (market orders
    and triggered stops), which pays slippage (kept inside the bar by ``within_bar``); limit
    fills, stop-limits included, trade at their price and pay none. Updates the order's
    stop-limit trigger and trailing reference as the bar is consumed: a trailing stop is checked
    against the level earlier bars set, then trails this bar's high (a buy: its low).
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
            trigger = stop_price(buy, order.stop, o, h, lo)  # type: ignore[arg-type]
            if trigger is None:
                return None
            order.triggered = True
            p = after_trigger(buy, order.limit, trigger, o, h, lo, c)  # type: ignore[arg-type]
            return None if p is None else (p, False)
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
