"""IB's order types in the backtest, on hand-made bars: auctions (MOC/LOC, MOO/LOO), GTD,
IOC/FOK, OCA groups and the Adaptive algo, with IB's cut-offs and refusals."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import quantnb as qn
from quantnb.errors import OrderError

NY = "America/New_York"


def daily(rows) -> pd.DataFrame:
    index = pd.date_range("2024-01-02", periods=len(rows), freq="B", tz="UTC")
    return pd.DataFrame(rows, columns=["open", "high", "low", "close"], index=index).assign(
        volume=1e6
    )


def intraday() -> pd.DataFrame:
    """5-minute bars of 2024-01-03 (a full session) and the next morning, which gaps up."""
    first = pd.date_range("2024-01-03 09:30", "2024-01-03 15:55", freq="5min", tz=NY)
    second = pd.date_range("2024-01-04 09:30", periods=6, freq="5min", tz=NY)
    index = first.append(second).tz_convert("UTC")
    o = 100 + 0.1 * np.arange(len(index))
    o[len(first) :] += 5.0
    c = o + 0.05
    return pd.DataFrame(
        {"open": o, "high": c + 0.2, "low": o - 0.2, "close": c, "volume": 1e6}, index=index
    )


def run(data, place, when=None, **kwargs):
    """Backtest placing ``place(ctx)`` once: on the first bar, or on the bar starting ``when``."""
    stamp = None if when is None else pd.Timestamp(when, tz=NY).tz_convert("UTC")

    class Once(qn.Strategy):
        done = False

        def on_data(self, ctx, bars):
            if not self.done and (stamp is None or ctx.now == stamp):
                self.done = True
                place(ctx)

    kwargs.setdefault("commission", 0.0)
    kwargs.setdefault("slippage", 0.0)
    return qn.backtest(Once(), {"X": data}, progress=False, **kwargs)


# bar 1 gaps down at its open and closes at 97; bar 2 gaps up
GAPS = daily([[100, 101, 99, 100], [95, 99, 94, 97], [104, 106, 103, 105], [105, 106, 104, 105]])


def status(result, order_id="1"):
    row = result.orders.set_index("order_id").loc[order_id]
    return row["status"], row["reason"]


def test_moc_fills_at_the_next_close_without_slippage():
    r = run(GAPS, lambda ctx: ctx.buy("X", 10, at="close"), slippage=0.01)
    assert r.fills["price"].tolist() == [97.0]
    assert r.orders["type"].tolist() == ["MOC"]


def test_loc_fills_only_at_or_better_than_its_limit():
    filled = run(GAPS, lambda ctx: ctx.buy("X", 10, at="close", limit=97.0))
    assert filled.fills["price"].tolist() == [97.0]
    missed = run(GAPS, lambda ctx: ctx.buy("X", 10, type="LOC", limit=96.5))
    assert missed.fills.empty
    state, reason = status(missed)
    assert state == "expired" and "close 97" in reason


def test_moo_fills_at_the_gap_open_and_a_loo_beyond_it_is_cancelled():
    r = run(GAPS, lambda ctx: ctx.buy("X", 10, at="open"))
    assert r.fills["price"].tolist() == [95.0]
    assert r.orders["tif"].tolist() == ["OPG"]
    sell = run(GAPS, lambda ctx: ctx.sell("X", 10, type="LOO", limit=96), allow_short=True)
    # the limit 96 is above bar 1's open: cancelled
    state, reason = status(sell)
    assert state == "cancelled" and "open 95" in reason


def test_intraday_moc_fills_at_the_last_regular_bar_and_moo_at_the_next_open():
    bars = intraday()
    moc = run(bars, lambda ctx: ctx.buy("X", 10, at="close"), when="2024-01-03 09:55")
    assert moc.fills["price"].tolist() == [pytest.approx(bars["close"].iloc[77])]
    moo = run(bars, lambda ctx: ctx.buy("X", 10, at="open"), when="2024-01-03 15:55")
    assert moo.fills["price"].tolist() == [pytest.approx(bars["open"].iloc[78])]


def test_moc_decided_after_the_cutoff_is_rejected():
    late = run(intraday(), lambda ctx: ctx.buy("X", 10, at="close"), when="2024-01-03 15:45")
    state, reason = status(late)
    assert state == "rejected" and "15:50" in reason
    # decided at 15:45 (the bar ending 15:45) is in time
    ok = run(intraday(), lambda ctx: ctx.buy("X", 10, at="close"), when="2024-01-03 15:40")
    assert len(ok.fills) == 1


def test_moo_decided_during_the_session_is_rejected():
    r = run(intraday(), lambda ctx: ctx.buy("X", 10, at="open"), when="2024-01-03 11:00")
    state, reason = status(r)
    assert state == "rejected" and "09:28" in reason


def test_gtd_expires_at_its_minute():
    bars = intraday()
    until = "2024-01-03 10:30"

    def place(ctx):
        ctx.buy("X", 10, limit=50.0, tif="GTD", good_till=until)

    r = run(bars, place, when="2024-01-03 10:00")
    state, reason = status(r)
    assert state == "expired" and "GTD" in reason
    expired_at = r.orders["updated"].iloc[0]
    # it worked through the bar ending 10:30 and expired on the next one
    assert expired_at == pd.Timestamp("2024-01-03 10:30", tz=NY)


def test_gtd_date_alone_works_until_that_days_close():
    from quantnb.domain.auction import good_till

    def place(ctx):
        ctx.buy("X", 10, limit=50.0, tif="GTD", good_till="2024-01-03")

    r = run(intraday(), place, when="2024-01-03 10:00")
    assert status(r)[0] == "expired"
    # it worked through the last bar of the day and expired when the next day's first came
    assert r.orders["updated"].iloc[0] == pd.Timestamp("2024-01-04 09:30", tz=NY)
    assert good_till("2024-01-03") == pd.Timestamp("2024-01-03 16:00", tz=NY)
    assert good_till("2024-11-29") == pd.Timestamp("2024-11-29 13:00", tz=NY)  # early close
    assert good_till("2024-01-03 00:00") == pd.Timestamp("2024-01-03 00:00", tz=NY)


def test_gtd_fills_before_its_time_and_one_in_the_past_is_rejected():
    r = run(GAPS, lambda ctx: ctx.buy("X", 10, limit=95.5, tif="GTD", good_till="2024-01-10"))
    assert r.fills["price"].tolist() == [95.0]
    past = run(GAPS, lambda ctx: ctx.buy("X", 10, tif="GTD", good_till="2024-01-01 12:00"))
    assert status(past)[0] == "rejected"


def test_ioc_and_fok_trade_only_at_the_first_price():
    # bar 1 opens at 95 and trades up to 99: a limit 96 buy would fill later in the bar
    ioc = run(GAPS, lambda ctx: ctx.sell("X", 10, limit=96, tif="IOC"), allow_short=True)
    state, reason = status(ioc)
    assert state == "cancelled" and "IOC" in reason and ioc.fills.empty
    fok = run(GAPS, lambda ctx: ctx.buy("X", 10, tif="FOK"))
    assert fok.fills["price"].tolist() == [95.0]


def test_oca_group_one_fill_cancels_the_others_across_symbols():
    data = {"X": GAPS, "Y": GAPS * 1.0}

    class Entry(qn.Strategy):
        def on_data(self, ctx, bars):
            if len(ctx.history("X", 5)) == 1:
                ctx.buy("X", 10, limit=96, oca="pick-one")
                ctx.buy("Y", 10, limit=90, oca="pick-one")

    r = qn.backtest(Entry(), data, commission=0.0, slippage=0.0, progress=False)
    assert r.fills["symbol"].tolist() == ["X"]
    state, reason = status(r, "2")
    assert state == "cancelled" and "OCA" in reason


def test_oca_reduce_takes_the_filled_quantity_off_the_others():
    class Scale(qn.Strategy):
        def on_data(self, ctx, bars):
            if len(ctx.history("X", 5)) == 1:
                self.a = ctx.buy("X", 10, limit=96, oca="scale", oca_type="reduce")
                self.b = ctx.buy("X", 25, limit=50, tif="GTC", oca="scale", oca_type="reduce")

    s = Scale()
    qn.backtest(s, {"X": GAPS}, commission=0.0, slippage=0.0, progress=False)
    assert s.a.status == "filled" and s.b.qty == 15 and s.b.status == "submitted"


def test_adaptive_is_a_plain_order_in_a_backtest():
    plain = run(GAPS, lambda ctx: ctx.buy("X", 10, limit=96))
    algo = run(GAPS, lambda ctx: ctx.buy("X", 10, limit=96, algo="adaptive:urgent"))
    assert algo.fills["price"].tolist() == plain.fills["price"].tolist() == [95.0]


@pytest.mark.parametrize(
    "place, message",
    [
        (lambda c: c.buy("X", 1, at="close", tif="GTC"), "DAY"),
        (lambda c: c.buy("X", 1, at="open", stop=120), "market or a limit"),
        (lambda c: c.buy("X", 1, stop=120, tif="IOC"), "market and limit"),
        (lambda c: c.buy("X", 1, tif="GTD"), "good_till"),
        (lambda c: c.buy("X", 1, good_till="2024-02-01"), "tif='GTD'"),
        (lambda c: c.buy("X", 1, at="noon"), "at='noon'"),
        (lambda c: c.buy("X", 1, type="LOC"), "needs limit"),
        (lambda c: c.buy("X", 1, oca="g", oca_type="maybe"), "oca_type"),
        (lambda c: c.buy("X", 1, algo="twap"), "adaptive"),
        (lambda c: c.buy("X", 1, stop=120, algo="adaptive"), "Adaptive"),
    ],
)
def test_combinations_ib_refuses_raise(place, message):
    with pytest.raises(OrderError, match=message):
        run(GAPS, place)


def test_cutoffs_follow_the_calendar_on_an_early_close():
    from quantnb.domain.auction import SessionBars, refusal
    from quantnb.domain.model import Order, OrderType, Side

    moc = Order("1", "X", Side.BUY, 1, type=OrderType.MARKET_ON_CLOSE)

    def ns(text):
        return pd.Timestamp(text, tz=NY).value

    # 2024-11-29 closes at 13:00 New York: the cut-off is 12:50
    assert refusal(moc, ns("2024-11-29 12:49")) == ""
    assert "12:50" in refusal(moc, ns("2024-11-29 12:50"))
    assert refusal(moc, ns("2024-11-29 13:00")) == ""  # after the close: the next session's
    clock = pd.date_range("2024-11-29 09:30", "2024-11-29 12:55", freq="5min", tz=NY)
    bars = SessionBars.of(clock.tz_convert("UTC").as_unit("ns").asi8, 300 * 10**9, daily=False)
    assert bars.opening.tolist() == [True] + [False] * (len(clock) - 1)
    assert bars.closing.tolist() == [False] * (len(clock) - 1) + [True]
