"""The simulator's quote model: bid and ask around a trade price, the ``spread`` setting wide."""

from __future__ import annotations

import numpy as np

# historical series that are quotes, not trades: IB sends them without volume, WAP or count (-1)
QUOTE_SERIES = ("MIDPOINT", "BID", "ASK", "BID_ASK")


def on_grid(prices: np.ndarray | float, tick: float) -> np.ndarray:
    """``prices`` rounded to the nearest multiple of ``tick``."""
    digits = max(0, int(np.ceil(-np.log10(tick))) + 1)
    return np.round(np.round(np.asarray(prices, dtype=float) / tick) * tick, digits)


def bid_ask(
    last: np.ndarray | float, spread: float, tick: float | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Bid and ask around ``last`` (a price or an array of them), at least a cent apart; with
    ``tick`` (a future's or pair's minimum tick) on its grid and one tick apart."""
    last = np.asarray(last, dtype=float)
    if tick is not None:  # one tick wide: the last trade at the bid
        bid = on_grid(np.floor(last / tick + 1e-6) * tick, tick)
        return bid, on_grid(bid + tick, tick)
    half = np.maximum(0.01, last * spread) / 2
    bid, ask = np.round(last - half, 2), np.round(last + half, 2)
    return bid, np.where(ask <= bid, np.round(bid + 0.01, 2), ask)


def quote_prices(
    prices: np.ndarray | float, what: str, spread: float, tick: float | None = None
) -> np.ndarray:
    """The bid, ask or midpoint (``what``) that goes with each trade price in ``prices``.

    The quote rises with the price, so the quote bar of a trade bar is the trade bar's open,
    high, low and close mapped one by one.
    """
    bid, ask = bid_ask(prices, spread, tick)
    if what == "BID":
        return bid
    if what == "ASK":
        return ask
    if tick is not None:
        return np.round((bid + ask) / 2, max(4, int(np.ceil(-np.log10(tick))) + 2))
    return np.round((bid + ask) / 2, 4)
