"""The result's fills and orders tables hold exactly what the fills and orders held: the engine
builds them column by column (fill times from its clock), not row by row."""

from __future__ import annotations

import pandas as pd

import quantnb as qn
from quantnb.results.frames import fills_frame, orders_frame
from quantnb.strategies import SmaCross


class Recorded(SmaCross):
    """SmaCross that keeps every order it placed and every fill it was told of."""

    def initialize(self, ctx) -> None:
        super().initialize(ctx)
        self.placed, self.seen = [], []
        buy, close = ctx.buy, ctx.close

        def recording_buy(*args, **kwargs):
            order = buy(*args, **kwargs)
            self.placed.append(order)
            return order

        def recording_close(*args, **kwargs):
            order = close(*args, **kwargs)
            if order is not None:
                self.placed.append(order)
            return order

        ctx.buy, ctx.close = recording_buy, recording_close

    def on_fill(self, ctx, fill) -> None:
        self.seen.append(fill)


def test_tables_equal_the_objects_with_gaps_in_the_bars():
    data = qn.data.sample(["AAA", "BBB", "CCC"], interval="1m", start="2021-03-01", bars=3_000)
    data["BBB"] = data["BBB"].iloc[::3]  # BBB misses two bars in three: the clock has gaps
    strategy = Recorded(fast=5, slow=12, qty=7)
    res = qn.backtest(strategy, data, cash=1_000_000, progress=False)
    assert len(strategy.seen) > 100 and set(res.fills["symbol"]) == {"AAA", "BBB", "CCC"}
    pd.testing.assert_frame_equal(res.fills, fills_frame(strategy.seen), check_exact=True)
    pd.testing.assert_frame_equal(res.orders, orders_frame(strategy.placed), check_exact=True)


def test_enum_columns_hold_plain_text_whatever_the_string_storage():
    strategy = Recorded()
    qn.backtest(strategy, qn.data.sample(["SPY"], interval="1d", bars=200), progress=False)
    assert strategy.placed and strategy.seen
    for storage in ("pyarrow", "python"):
        with pd.option_context("mode.string_storage", storage):
            fills, orders = fills_frame(strategy.seen), orders_frame(strategy.placed)
        cells = [*fills["side"], *orders["side"], *orders["type"], *orders["tif"]]
        cells += list(orders["status"])
        assert {type(c) for c in cells} == {str}, storage
