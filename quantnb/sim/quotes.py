"""The simulator's quote model: bid and ask around a trade price, the ``spread`` setting wide."""

from __future__ import annotations

import numpy as np

# historical series that are quotes, not trades: IB sends them without volume, WAP or count (-1)
QUOTE_SERIES = ("MIDPOINT", "BID", "ASK", "BID_ASK")


def bid_ask(last: np.ndarray | float, spread: float) -> tuple[np.ndarray, np.ndarray]:
    """Bid and ask around ``last`` (a price or an array of them), at least a cent apart."""
    last = np.asarray(last, dtype=float)
    half = np.maximum(0.01, last * spread) / 2
    bid, ask = np.round(last - half, 2), np.round(last + half, 2)
    return bid, np.where(ask <= bid, np.round(bid + 0.01, 2), ask)


def quote_prices(prices: np.ndarray | float, what: str, spread: float) -> np.ndarray:
    """The bid, ask or midpoint (``what``) that goes with each trade price in ``prices``.

    The quote rises with the price, so the quote bar of a trade bar is the trade bar's open,
    high, low and close mapped one by one.
    """
    bid, ask = bid_ask(prices, spread)
    if what == "BID":
        return bid
    if what == "ASK":
        return ask
    return np.round((bid + ask) / 2, 4)
