"""Fill rules through the engine, each against a hand-computed expectation: stop-limits that
gap, on_fill's view of the market, slippage inside the bar and rebalances paid by their sells."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import quantnb as qn
from tests.helpers import Scripted, bars_from

NO_COST = {"commission": 0.0, "slippage": 0.0}


def run(script, data, **kw):
    strat = Scripted(script)
    res = qn.backtest(strat, data, progress=False, **{**NO_COST, **kw})
    return strat, res


def test_stop_limit_triggered_at_the_open_fills_at_its_limit_in_that_bar():
    rows = [(100, 100, 100, 100), (103, 104, 101, 102), (102, 102, 102, 102)]
    _, res = run({0: lambda c: c.buy("X", 10, stop=101, limit=101.5, tif="GTC")}, bars_from(rows))
    f = res.fills.iloc[0]
    assert (f.qty, f.price, f.time) == (10, 101.5, res.equity.index[1])


def test_stop_limit_triggered_at_the_open_inside_its_limit_fills_at_the_open():
    rows = [(100, 100, 100, 100), (101.2, 104, 101, 102), (102, 102, 102, 102)]
    _, res = run({0: lambda c: c.buy("X", 10, stop=101, limit=101.5, tif="GTC")}, bars_from(rows))
    assert res.fills.price.tolist() == [101.2]


def test_stop_limit_triggered_inside_the_bar_fills_when_the_close_trades_through_the_limit():
    # sell stop 98 below its limit 99: the low 97 triggers it, the later close 99.5 proves 99
    rows = [(100, 100, 100, 100), (100, 100, 100, 100), (100, 101, 97, 99.5), (99, 99, 99, 99)]
    script = {0: lambda c: c.buy("X", 10), 1: lambda c: c.sell("X", 10, stop=98, limit=99)}
    _, res = run(script, bars_from(rows))
    assert res.fills.price.tolist() == [100, 99]
    assert res.fills.time.iloc[1] == res.equity.index[2]


def test_on_fill_sees_only_what_was_known_at_the_fill():
    rows = [(100, 100, 100, 100), (101, 109, 95, 108), (108, 108, 108, 108)]
    seen = {}

    class Peek(Scripted):
        def on_fill(self, ctx, fill):
            seen["bar"] = ctx.bar("X")
            seen["price"] = ctx.price("X")
            seen["history"] = ctx.history("X", 5).tolist()
            seen["now"] = ctx.now

    strat = Peek({0: lambda c: c.buy("X", 1)})
    res = qn.backtest(strat, bars_from(rows), progress=False, **NO_COST)
    assert res.fills.price.tolist() == [101]
    assert seen["now"] == res.equity.index[1]  # the time of the fill
    assert seen["bar"].time == res.equity.index[0] and seen["bar"].close == 100  # not 108
    assert seen["price"] == 100 and seen["history"] == [100]


def test_an_order_placed_in_on_fill_trades_no_earlier_than_the_next_bar():
    # X's limit fills inside bar 1; Y, bought from on_fill then, must not get bar 1's open of 50
    x = bars_from([(100, 100, 100, 100), (100, 100, 95, 96), (96, 96, 96, 96)], symbol="X")
    y = bars_from([(50, 50, 50, 50), (50, 61, 50, 60), (60, 62, 60, 61)], symbol="Y")

    class Hedge(Scripted):
        def on_fill(self, ctx, fill):
            super().on_fill(ctx, fill)
            if fill.symbol == "X":
                ctx.buy("Y", 10)

    def place(c):
        c.buy("X", 10, limit=96, tif="GTC")
        c.buy("Y", 1, limit=1, tif="GTC")  # Y has working orders when bar 1 is matched

    strat = Hedge({0: place})
    res = qn.backtest(strat, {"X": x, "Y": y}, progress=False, **NO_COST)
    fills = res.fills.set_index("symbol")
    assert fills.loc["X", "price"] == 96 and fills.loc["X", "time"] == res.equity.index[1]
    assert fills.loc["Y", "price"] == 60 and fills.loc["Y", "time"] == res.equity.index[2]


def test_slippage_never_takes_a_fill_outside_the_bar():
    # a buy stop at 101 in a bar whose high is 101: 101, not 101 * 1.0005 = 101.0505
    rows = [(100, 100, 100, 100), (100, 101, 99, 100), (100, 100, 100, 100)]
    _, res = run({0: lambda c: c.buy("X", 10, stop=101)}, bars_from(rows), slippage=0.0005)
    f = res.fills.iloc[0]
    assert f.price == 101.0 and f.slippage == 0.0
    # a market sell at an open that is the bar's low: the open, no better and no worse
    rows = [(100, 100, 100, 100), (100, 100, 100, 100), (99, 100, 99, 100), (100, 100, 100, 100)]
    script = {0: lambda c: c.buy("X", 10), 1: lambda c: c.close("X")}
    _, res = run(script, bars_from(rows), slippage=0.0005)
    assert res.fills.price.tolist() == [100.0, 99.0]


def rebalance_data():
    a = bars_from([(100, 100, 100, 100)] * 2 + [(110, 110, 110, 110)] * 3, symbol="A")
    b = bars_from([(50, 50, 50, 50)] * 5, symbol="B")
    return {"A": a, "B": b}


def test_rebalance_to_equal_weights_is_paid_by_its_own_sells():
    # all in A (1,000 @ 100), A rises to 110: equity 110,000; equal weights decided together
    def equal(c):
        for sym in ("B", "A"):  # the buy first: matching still sells first at the open
            c.order_target_percent(sym, 0.5)

    _, res = run({0: lambda c: c.order_target_percent("A", 1.0), 2: equal}, rebalance_data())
    assert res.rejections.empty
    got = [(f.symbol, f.side, f.qty, f.price) for f in res.fills.itertuples()]
    assert got == [("A", "BUY", 1000, 100), ("A", "SELL", 500, 110), ("B", "BUY", 1100, 50)]
    assert res.fills.time.iloc[1] == res.fills.time.iloc[2] == res.equity.index[3]
    final = res.equity.iloc[-1]
    assert final.cash == pytest.approx(0.0) and final.equity == pytest.approx(110_000.0)


def test_rebalance_with_costs_truncates_and_still_fits_the_cash():
    # 0.1% commission and 0.05% slippage: targets of 0.49 each leave room for the costs
    def equal(c):
        for sym in ("B", "A"):
            c.order_target_percent(sym, 0.49)

    _, res = run(
        {0: lambda c: c.order_target_percent("A", 0.98), 2: equal},
        rebalance_data(),
        commission=0.001,
        slippage=0.0005,
    )
    assert res.rejections.empty
    assert res.fills.symbol.tolist() == ["A", "A", "B"]
    assert res.fills.side.tolist() == ["BUY", "SELL", "BUY"]
    assert res.equity.cash.iloc[-1] > 0


bar_rows = st.lists(
    st.tuples(st.floats(80, 120), st.floats(0, 5), st.floats(0, 5), st.floats(0, 1)).map(
        lambda t: (
            t[0],
            t[0] + t[1],
            t[0] - t[2],
            # the close inside [low, high] exactly, float rounding aside
            min(max(t[0] - t[2] + t[3] * (t[1] + t[2]), t[0] - t[2]), t[0] + t[1]),
        )
    ),
    min_size=3,
    max_size=12,
)
order_kw = st.sampled_from(
    [
        {},
        {"limit": 99.0},
        {"limit": 101.0},
        {"stop": 101.0},
        {"stop": 99.0},
        {"stop": 101.0, "limit": 100.5},
        {"stop": 99.0, "limit": 99.5},
        {"trail_amount": 2.0},
    ]
)


@settings(max_examples=100, deadline=None)
@given(bar_rows, st.lists(st.tuples(st.integers(0, 11), order_kw, st.booleans()), max_size=6))
def test_every_fill_is_inside_its_bar_after_its_decision_and_on_fill_sees_only_the_past(
    rows, orders
):
    script: dict[int, list] = {}
    for i, kw, buy in orders:
        script.setdefault(i % len(rows), []).append((kw, buy))
    seen: list[tuple] = []

    class Random(Scripted):
        def on_fill(self, ctx, fill):
            seen.append((fill.time, ctx.bar("X").time))

    def act(entries):
        def go(c):
            for kw, buy in entries:
                (c.buy if buy else c.sell)("X", 1, tif="GTC", **kw)

        return go

    strat = Random({i: act(e) for i, e in script.items()})
    data = bars_from(rows)
    res = qn.backtest(strat, data, progress=False, allow_short=True, leverage=2.0, slippage=0.01)
    orders_by_id = res.orders.set_index("order_id")
    for f in res.fills.itertuples():
        bar = data.loc[f.time]
        assert bar.low - 1e-9 <= f.price <= bar.high + 1e-9
        assert f.time > orders_by_id.loc[f.order_id, "created"]
    assert all(bar_time < fill_time for fill_time, bar_time in seen)
