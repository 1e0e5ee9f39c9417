"""The backtest's extended-hours rule and the simulator's agree: the same orders on the same
hand-made bars, through a real client, give the same fills (limit and stop-limit orders
outsideRth trade in the pre-market and the after-hours, market orders wait for the open, and a
half day's after-hours end at 17:00)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import quantnb as qn
from quantnb.domain import sessions
from quantnb.sim import GatewaySimulator

pytestmark = [pytest.mark.ib, pytest.mark.timeout(60)]

NY = "America/New_York"


def minutes(first: str, last: str, step: float, gap: float = 0.0) -> pd.DataFrame:
    """1-minute bars from ``first`` to ``last`` New York moving ``step`` a bar; the regular open
    (09:30) gaps by ``gap``."""
    index = pd.date_range(first, last, freq="1min", tz=NY)
    o = 100 + step * np.arange(len(index))
    o[index.strftime("%H:%M") >= "09:30"] += gap
    c = o + step / 2
    frame = {
        "open": o,
        "high": np.maximum(o, c) + 0.2,
        "low": np.minimum(o, c) - 0.2,
        "close": c,
        "volume": 1e6,
    }
    return pd.DataFrame(frame, index=index.tz_convert("UTC"))


def backtest(bars: pd.DataFrame, orders) -> list[tuple[str, float, float]]:
    """The fills of ``orders`` (kwargs of ``ctx.order``) placed on the first bar, extended hours:
    (minute New York, qty, price) each."""

    class Once(qn.Strategy):
        done = False

        def on_data(self, ctx, data):
            if not self.done:
                self.done = True
                for o in orders:
                    ctx.order("AAPL", **o)

    result = qn.backtest(Once(), {"AAPL": bars}, progress=False, commission=0.0, slippage=0.0,
                         hours="extended", allow_short=True)  # fmt: skip
    return sorted(
        (t.tz_convert(NY).strftime("%H:%M"), q, p)
        for t, q, p in zip(result.fills["time"], result.fills["qty"], result.fills["price"])
    )


def on_the_simulator(bars, orders, connect, ibc, wait, steps: int, client_errors):
    """The same orders through a real client on the simulator playing ``bars`` (its clock stands
    after the first bar), outsideRth on limit and stop-limit orders as the live broker sends."""
    client_errors.allow(399, 2109, 202)
    with GatewaySimulator(mode="manual", bars={"AAPL": bars}, commission=0.0, slippage=0.0,
                          spread=0.0) as sim:  # fmt: skip
        assert sim.now == bars.index[1]
        ib = connect(sim)
        (aapl,) = ib.qualifyContracts(ibc.Stock("AAPL", "SMART", "USD"))
        trades = []
        for o in orders:
            action = "BUY" if o["qty"] > 0 else "SELL"
            qty = abs(o["qty"])
            if "stop" in o:
                order = ibc.StopLimitOrder(action, qty, o["limit"], o["stop"], outsideRth=True)
            elif "limit" in o:
                order = ibc.LimitOrder(action, qty, o["limit"], outsideRth=True)
                order.tif = o.get("tif", "DAY")
                if "good_till" in o:  # naive New York times, as the backtest reads them
                    until = pd.Timestamp(o["good_till"]).strftime("%Y%m%d %H:%M:%S")
                    order.goodTillDate = f"{until} {NY}"
            else:
                order = ibc.MarketOrder(action, qty)
            trades.append(ib.placeOrder(aapl, order))
        # acknowledged (ib_async shows the market order's warning 399 as "ValidationError")
        wait(ib, lambda: all(t.orderStatus.status != "PendingSubmit" for t in trades))
        for _ in range(steps):
            sim.step()
            ib.reqCurrentTime()  # a round trip: what the step sent has arrived
        fills = [f for t in trades for f in t.fills]
        return sorted(
            (
                pd.Timestamp(f.execution.time).tz_convert(NY).strftime("%H:%M"),
                f.execution.shares,
                f.execution.price,
            )
            for f in fills
        )


def test_pre_market_fills_match_the_backtest(connect, ibc, wait, client_errors):
    bars = minutes("2024-01-03 09:20", "2024-01-03 09:39", 0.1, gap=2.0)
    orders = [
        {"qty": 10, "limit": 99.95},  # the 09:21 bar dips to 99.9: fills in the pre-market
        {"qty": 5},  # a market order: the regular open
        {"qty": 3, "stop": 100.5, "limit": 100.6},  # triggers at 09:23
    ]
    expected = backtest(bars, orders)
    assert expected == [
        ("09:21", 10, pytest.approx(99.95)),
        ("09:23", 3, pytest.approx(100.5)),
        ("09:30", 5, pytest.approx(bars["open"].iloc[10])),
    ]
    got = on_the_simulator(bars, orders, connect, ibc, wait, 12, client_errors)
    assert got == expected


@pytest.mark.ib_sim(start="2023-11-24 21:58", commission=0.0)  # 16:58 New York, a half day
def test_a_half_days_after_hours_end_at_five_on_both(ib_sim, ib, aapl, ibc, wait, client_errors):
    # the backtest's calendar: the close at 13:00, after-hours until 17:00, then closed
    stamps = pd.DatetimeIndex(pd.to_datetime(["2023-11-24 16:59", "2023-11-24 17:00"]))
    phases = sessions.bar_phases(stamps.tz_localize(NY))
    assert phases.tolist() == [sessions.POST, sessions.CLOSED]
    # the simulator's: an outsideRth limit trades at 16:59, one placed at 17:00 waits for Monday
    client_errors.allow(399)
    last = ib_sim.price("AAPL")
    early = ib.placeOrder(aapl, ibc.LimitOrder("BUY", 1, round(last * 1.5, 2), outsideRth=True))
    wait(ib, lambda: early.isDone())
    ib_sim.step()
    assert ib_sim.now == pd.Timestamp("2023-11-24 17:00", tz=NY)
    last = ib_sim.price("AAPL")
    late = ib.placeOrder(aapl, ibc.LimitOrder("BUY", 1, round(last * 1.5, 2), outsideRth=True))
    wait(ib, lambda: late.orderStatus.status == "Submitted")
    ib.sleep(0.05)
    assert not late.fills
    ib_sim.step()  # the next bar: Monday's pre-market
    wait(ib, lambda: late.isDone())
    when = pd.Timestamp(late.fills[0].execution.time).tz_convert(NY)
    assert when.strftime("%Y-%m-%d %H:%M") == "2023-11-27 04:00"


def test_ioc_fok_keep_to_regular_hours_and_gtd_trades_outside_them_as_in_the_backtest(
    connect, ibc, wait, client_errors
):
    # IB: outside regular hours is "not available for IOC, OPG, FOK, MOC or LOC orders"; the
    # flag is ignored (2109) and they trade at the first price of the regular session
    bars = minutes("2024-01-03 09:20", "2024-01-03 09:39", 0.1, gap=2.0)
    orders = [
        {"qty": 10, "limit": 120.0, "tif": "IOC"},
        {"qty": 4, "limit": 120.0, "tif": "FOK"},
        {"qty": 3, "limit": 99.95, "tif": "GTD", "good_till": "2024-01-03 09:25"},
        {"qty": 2, "limit": 99.0, "tif": "GTD", "good_till": "2024-01-03 09:25"},
    ]
    expected = backtest(bars, orders)
    opening = pytest.approx(bars["open"].iloc[10])
    assert expected == [("09:21", 3, pytest.approx(99.95)), ("09:30", 4, opening),
                        ("09:30", 10, opening)]  # fmt: skip
    got = on_the_simulator(bars, orders, connect, ibc, wait, 12, client_errors)
    assert got == expected
