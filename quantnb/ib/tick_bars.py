"""Bars built from last-trade ticks, for a login IB serves ticks but no history or bars.

IB answers a history request of a login without a live subscription with error 162 "No market
data permissions"; delayed ticks (``reqMarketDataType(3)``) still come. Each last-trade tick
(type 4, delayed 68) goes into the bar of the interval its time falls in; a bar is complete when
the first tick of a later interval arrives. Times are those the ticks were received at (the
gateway's clock), so a bar of delayed ticks holds prices about 15 minutes older than its label:
what the strategy could know then, never later prices.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import pandas as pd

from quantnb.domain.model import Bar

LAST_TICKS = frozenset({4, 68})  # last trade price: live, delayed


@dataclass(slots=True)
class TickBars:
    """Turns one symbol's last-trade ticks into completed bars of ``seconds`` each."""

    symbol: str
    seconds: int
    start: pd.Timestamp | None = None  # start of the bar being built
    open: float = math.nan
    high: float = math.nan
    low: float = math.nan
    close: float = math.nan
    volume: float = 0.0

    def add(self, time: pd.Timestamp, price: float, size: float) -> Bar | None:
        """Add one trade; returns the bar it completes (the previous interval's), if any."""
        if not (math.isfinite(price) and price > 0):
            return None
        start = time.floor(pd.Timedelta(seconds=self.seconds))
        done = None
        if self.start is not None and start > self.start:
            done = Bar(self.symbol, self.start, self.open, self.high, self.low, self.close,
                       self.volume)  # fmt: skip
            self.start = None
        if self.start is None:
            self.start, self.open, self.high, self.low = start, price, price, price
            self.volume = 0.0
        self.high, self.low, self.close = max(self.high, price), min(self.low, price), price
        if math.isfinite(size) and size > 0:
            self.volume += size
        return done
