"""LiveContext with a hand-written stub broker: history, money, outbox, ids and indicators."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import quantnb as qn
from quantnb.domain.accounting import Portfolio
from quantnb.domain.model import Bar, Order, OrderStatus
from quantnb.errors import OrderError
from quantnb.trading.context import LiveContext, RollingSeries
from tests.helpers import bars_from

T0 = pd.Timestamp("2024-01-02 14:30", tz="UTC")


class StubBroker:
    """Only what the context reads: a portfolio and open orders."""

    def __init__(self, cash: float = 10_000.0) -> None:
        self.portfolio = Portfolio(cash)
        self.orders: dict[str, Order] = {}
        self.cancelled: list[Order] = []

    def open_orders(self, symbol=None):
        return [o for o in self.orders.values() if not o.is_done and symbol in (None, o.symbol)]

    def cancel(self, order: Order) -> bool:
        self.cancelled.append(order)
        return True


def _bar(i: int, close: float, symbol: str = "AAPL") -> Bar:
    t = T0 + pd.Timedelta(minutes=5 * i)
    return Bar(symbol, t, close, close + 1, close - 1, close, 100.0 + i)


def _ctx(capacity: int = 8, **kw) -> tuple[LiveContext, StubBroker]:
    broker = StubBroker()
    ctx = LiveContext(["AAPL", "MSFT"], broker, "run7", capacity=capacity, **kw)
    return ctx, broker


def test_history_is_oldest_first_and_never_past_now():
    ctx, _ = _ctx()
    for i in range(5):
        assert ctx.update(_bar(i, 100.0 + i))
    ctx.set_now(_bar(4, 0).time)
    assert ctx.history("AAPL", 3).tolist() == [102.0, 103.0, 104.0]
    assert ctx.history("AAPL", 50).tolist() == [100.0, 101.0, 102.0, 103.0, 104.0]
    assert ctx.history("AAPL", 2, "volume").tolist() == [103.0, 104.0]
    assert len(ctx.history("MSFT", 10)) == 0
    assert ctx.price("AAPL") == 104.0 and ctx.bar("AAPL").time == ctx.now


def test_repeated_or_older_bars_are_ignored():
    ctx, _ = _ctx()
    assert ctx.update(_bar(1, 10.0))
    assert not ctx.update(_bar(1, 11.0))
    assert not ctx.update(_bar(0, 12.0))
    assert ctx.history("AAPL", 5).tolist() == [10.0]
    assert not ctx.update(_bar(2, 1.0, symbol="OTHER"))


def test_rolling_buffer_keeps_capacity_and_old_views_stay_valid():
    s = RollingSeries(4)
    views = []
    for i in range(40):
        s.append(_bar(i, float(i)))
        views.append((i, s.field("close", 4)))
        assert s.capacity <= len(s) <= 2 * s.capacity or i < 4
    for i, v in views:
        assert v.tolist() == [float(k) for k in range(max(0, i - 3), i + 1)]
    assert s.field("close").tolist()[-1] == 39.0
    assert s.index(2)[-1] == _bar(39, 0).time


def test_prices_before_any_bar_and_unknown_symbols():
    ctx, _ = _ctx()
    with pytest.raises(OrderError, match="no price"):
        ctx.price("AAPL")
    with pytest.raises(OrderError, match="unknown symbol 'TSLA'"):
        ctx.history("TSLA", 3)
    with pytest.raises(OrderError, match="unknown symbol"):
        ctx.buy("TSLA", 1)
    with pytest.raises(IndexError):
        _ = ctx.now


def test_orders_are_collected_with_run_scoped_ids_and_sent_later():
    calls = []
    ctx, _ = _ctx(order_seq=41, on_submit=lambda: calls.append(1))
    ctx.update(_bar(0, 100.0))
    ctx.set_now(_bar(0, 0).time)
    a = ctx.buy("AAPL", 10)
    b = ctx.sell("MSFT", 5, limit=300.0)
    assert (a.id, b.id) == ("run7-42", "run7-43")
    assert a.created == ctx.now and a.status is OrderStatus.PENDING
    assert ctx.open_orders("AAPL") == [a] and len(ctx.open_orders()) == 2
    assert len(calls) == 2
    assert ctx.take_outbox() == [a, b] and ctx.outbox == []
    assert ctx.order_seq == 43


def test_order_target_counts_unsent_orders():
    ctx, _ = _ctx()
    ctx.update(_bar(0, 100.0))
    ctx.set_now(_bar(0, 0).time)
    assert ctx.order_target("AAPL", 10) is not None
    assert ctx.order_target("AAPL", 10) is None
    assert len(ctx.outbox) == 1


def test_cancel_unsent_order_and_sent_order():
    seen = []
    ctx, broker = _ctx(on_cancel=lambda o: seen.append(o) or True)
    ctx.update(_bar(0, 100.0))
    ctx.set_now(_bar(0, 0).time)
    unsent = ctx.buy("AAPL", 1)
    assert ctx.cancel(unsent.id)
    assert unsent.status is OrderStatus.CANCELLED and ctx.outbox == []
    sent = Order("run7-9", "AAPL", qn.Side.BUY, 1, status=OrderStatus.SUBMITTED)
    broker.orders[sent.id] = sent
    assert ctx.cancel("run7-9") and seen == [sent]
    with pytest.raises(OrderError, match="no order"):
        ctx.cancel("run7-999")


def test_money_comes_from_the_broker_portfolio_marked_by_bars():
    ctx, broker = _ctx()
    broker.portfolio.apply_fill(
        qn.Fill("run7-1", "AAPL", qn.Side.BUY, 10, 100.0, 1.0, T0, exec_id="e1")
    )
    ctx.update(_bar(0, 110.0))
    assert ctx.position("AAPL").qty == 10
    assert ctx.position("MSFT").qty == 0
    assert list(ctx.positions) == ["AAPL"]
    assert ctx.cash == pytest.approx(10_000 - 1000 - 1)
    assert ctx.equity == pytest.approx(ctx.cash + 10 * 110.0)
    with pytest.raises(OrderError):
        ctx.position("TSLA")


def test_indicator_matches_the_backtest_values():
    df = bars_from([(p, p + 1, p - 1, p) for p in np.linspace(100, 130, 60)], freq="5min")
    df["close"] += np.sin(np.arange(60))
    df["high"] = df[["open", "close"]].max(axis=1) + 1
    df["low"] = df[["open", "close"]].min(axis=1) - 1
    seen_bt: list[float] = []
    seen_live: list[float] = []

    class S(qn.Strategy):
        def __init__(self, out):
            self.out = out

        def initialize(self, ctx):
            self.sma = ctx.indicator(qn.ind.sma, "close", 5)

        def on_data(self, ctx, data):
            self.out.append(self.sma["X"])

    qn.backtest(S(seen_bt), df, progress=False)
    broker = StubBroker()
    ctx = LiveContext(["X"], broker, "r", capacity=16)
    strat = S(seen_live)
    strat.initialize(ctx)
    for t, row in df.iterrows():
        ctx.update(Bar("X", t, row.open, row.high, row.low, row.close, row.volume))
        ctx.set_now(t)
        strat.on_data(ctx, None)
    # the backtest calls on_data from the 5th bar on (the sma's warm-up); called on every bar
    # here, the context gives NaN before it and the same values from it
    assert np.isnan(seen_live[:4]).all()
    np.testing.assert_allclose(seen_live[4:], seen_bt)


def _frame(first: int, n: int) -> pd.DataFrame:
    """Bars ``first`` .. ``first + n - 1`` of ``_bar``'s clock, closing at 100 + their number."""
    closes = [100.0 + k for k in range(first, first + n)]
    df = bars_from([(c, c + 1, c - 1, c) for c in closes], freq="5min", symbol="AAPL")
    return df.set_axis(pd.DatetimeIndex([_bar(k, 0).time for k in range(first, first + n)]))


def test_load_history_frame_keeps_the_newest_bars_in_order():
    ctx, broker = _ctx(capacity=4)
    df = _frame(0, 10)
    assert ctx.load("AAPL", df) == 10
    series = ctx.series["AAPL"]
    assert 4 <= len(series) <= 8
    assert ctx.history("AAPL", 4).tolist() == [106.0, 107.0, 108.0, 109.0]
    assert ctx.history("AAPL", 100).tolist() == [100.0 + k for k in range(10 - len(series), 10)]
    assert list(series.index(4)) == [_bar(k, 0).time for k in range(6, 10)]
    assert ctx.bar("AAPL") == Bar("AAPL", _bar(9, 0).time, 109.0, 110.0, 108.0, 109.0, 1000.0)
    assert ctx.load("AAPL", df) == 0  # nothing newer
    assert ctx.load("AAPL", _frame(8, 5)) == 3  # only bars 10, 11, 12 are new
    assert ctx.history("AAPL", 5).tolist() == [108.0, 109.0, 110.0, 111.0, 112.0]
    assert not ctx.update(_bar(12, 1.0)) and ctx.update(_bar(13, 113.0))
    assert ctx.history("AAPL", 2).tolist() == [112.0, 113.0]
    assert ctx.load("MSFT", None) == 0 and len(ctx.series["MSFT"]) == 0
    broker.portfolio.apply_fill(
        qn.Fill("run7-1", "AAPL", qn.Side.BUY, 2, 100.0, 0.0, T0, exec_id="e1")
    )
    assert ctx.load("AAPL", _frame(14, 2)) == 2
    assert ctx.position("AAPL").last_price == 115.0  # held positions are marked


def test_extend_matches_bar_by_bar_appends_and_keeps_old_views():
    one, many = RollingSeries(4), RollingSeries(4)
    rng = np.random.default_rng(5)
    times = np.cumsum(rng.integers(-1, 4, size=60)).astype(np.int64) * 60_000_000_000
    cols = rng.normal(100, 1, size=(5, 60))
    views = []
    for lo in range(0, 60, 7):
        hi = min(lo + 7, 60)
        added = sum(
            one.append(Bar("X", pd.Timestamp(int(t), tz="UTC"), *cols[:, k]))
            for k, t in zip(range(lo, hi), times[lo:hi], strict=True)
        )
        assert many.extend("X", times[lo:hi], cols[:, lo:hi]) == added
        n = min(len(one), len(many))
        assert many.field("close", n).tolist() == one.field("close", n).tolist()
        assert list(many.index(n)) == list(one.index(n))
        assert 4 <= len(many) <= 8 or len(many) == len(one)
        assert many.last == one.last
        views.append((many.field("close", 4).copy(), many.field("close", 4)))
    for copy, view in views:
        assert view.tolist() == copy.tolist()


def test_late_history_is_merged_in_time_order_and_earlier_views_stay():
    ctx, _ = _ctx(capacity=4)
    for i in (5, 6, 7):
        ctx.update(_bar(i, 100.0 + i))
    view = ctx.history("AAPL", 10)
    frame = pd.DataFrame(
        {f: [float(i) for i in range(1, 9)] for f in ("open", "high", "low", "close", "volume")},
        index=pd.DatetimeIndex([_bar(i, 0).time for i in range(1, 9)]),
    )
    # bars 1..4 are new, 5..7 are held (the live ones win), 8 is newer: left to the stream
    assert ctx.backfill("AAPL", frame) == 4
    assert ctx.history("AAPL", 10).tolist() == [1.0, 2.0, 3.0, 4.0, 105.0, 106.0, 107.0]
    assert view.tolist() == [105.0, 106.0, 107.0]
    assert ctx.bar("AAPL").time == _bar(7, 0).time
    assert ctx.backfill("AAPL", frame) == 0
    many = frame.reindex(
        pd.DatetimeIndex([_bar(-i, 0).time for i in range(20, 0, -1)]), fill_value=1.0
    )
    ctx.backfill("AAPL", many)
    assert len(ctx.history("AAPL", 100)) == 8  # at most twice the capacity, the newest kept
    assert ctx.history("AAPL", 3).tolist() == [105.0, 106.0, 107.0]


def test_modify_an_unsent_order_changes_it_and_a_sent_one_goes_to_the_engine():
    seen = []
    ctx, broker = _ctx(on_modify=lambda o, ch: seen.append((o, ch)) or True)
    ctx.update(_bar(0, 100.0))
    ctx.set_now(_bar(0, 0).time)
    unsent = ctx.buy("AAPL", 1, limit=90.0)
    assert ctx.modify(unsent, limit=95.0, qty=2) and (unsent.limit, unsent.qty) == (95.0, 2.0)
    assert ctx.outbox == [unsent] and seen == []
    sent = Order("run7-9", "AAPL", qn.Side.BUY, 1, qn.OrderType.LIMIT, limit=80.0)
    sent.status = OrderStatus.SUBMITTED
    broker.orders[sent.id] = sent
    assert ctx.modify("run7-9", limit=85.0)
    assert seen == [(sent, {"limit": 85.0})] and sent.limit == 80.0  # the engine sends it
