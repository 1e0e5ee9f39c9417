"""The moving-average crossover: buy when the fast average is above the slow one, else flat."""

from __future__ import annotations

from quantnb import ind
from quantnb.engine.strategy import Strategy


class SmaCross(Strategy):
    """Long ``qty`` shares while SMA(fast) > SMA(slow); flat otherwise. Market orders."""

    def __init__(self, fast: int = 10, slow: int = 30, qty: int = 100) -> None:
        self.fast, self.slow, self.qty = fast, slow, qty

    def initialize(self, ctx) -> None:
        self.f = ctx.indicator(ind.sma, "close", self.fast)
        self.s = ctx.indicator(ind.sma, "close", self.slow)

    def on_data(self, ctx, data) -> None:
        for sym in data:
            if self.f[sym] > self.s[sym]:
                if not ctx.position(sym):
                    ctx.buy(sym, self.qty)
            elif ctx.position(sym):
                ctx.close(sym)
