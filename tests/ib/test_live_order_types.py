"""The strategy API's auction orders run live on the simulator give the backtest's fills."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import quantnb as qn
from quantnb.ib.config import IBConfig
from quantnb.sim import GatewaySimulator
from quantnb.testing import eventually
from quantnb.trading import LiveStrategyEngine

pytestmark = [pytest.mark.ib, pytest.mark.timeout(120)]

NY = "America/New_York"


def last_half_hour() -> pd.DataFrame:
    """1-minute bars from 15:30 New York to the close of 2024-01-03."""
    index = pd.date_range("2024-01-03 15:30", "2024-01-03 15:59", freq="1min", tz=NY)
    o = 100 + 0.1 * np.arange(len(index))
    c = o + 0.05
    frame = {"open": o, "high": c + 0.2, "low": o - 0.2, "close": c, "volume": 1e6}
    return pd.DataFrame(frame, index=index.tz_convert("UTC"))


class CloseAuction(qn.Strategy):
    """On its first bar: a MOC buy and a LOC buy whose limit the close will not meet."""

    def initialize(self, ctx):
        self.placed = False

    def on_data(self, ctx, data):
        if not self.placed:
            self.placed = True
            ctx.buy("AAPL", 10, at="close")
            ctx.buy("AAPL", 5, at="close", limit=50.0)


def test_moc_and_loc_live_on_the_simulator_fill_as_in_the_backtest(tmp_path, client_errors):
    bars = {"AAPL": last_half_hour()}
    bt = qn.backtest(CloseAuction(), bars, progress=False, commission=0.0, slippage=0.0)
    assert bt.fills["price"].tolist() == [pytest.approx(bars["AAPL"]["close"].iloc[-1])]
    with GatewaySimulator(mode="manual", bars=bars, commission=0.0) as sim:
        cfg = IBConfig(host=sim.host, port=sim.port, client_id=11, timeout=5)
        eng = LiveStrategyEngine(config=cfg, journal=tmp_path / "j.sqlite", update_interval=5.0)
        eng.add_strategy(CloseAuction())
        eng.start(["AAPL"], lookback_days=0, interval="1m", wait=True)
        sim.step(1)
        eventually(lambda: len(eng.orders) == 2, 10)
        for _ in range(40):
            if sim.now >= bars["AAPL"].index[-1] + pd.Timedelta(minutes=1):
                break
            sim.step(1)
        eventually(lambda: not eng.broker.open_orders(), 10)
        eventually(lambda: len(eng.fills) == 1, 10)
        live, orders = eng.fills, eng.orders
        eng.stop()
    assert live["price"].tolist() == bt.fills["price"].tolist()
    assert sorted(orders["status"]) == ["cancelled", "filled"]


def continuous_minutes() -> pd.DataFrame:
    """1-minute bars 15:30-15:59 New York, each opening at the last one's close (so the price
    now on the simulator and the next bar's open in a backtest are one price)."""
    index = pd.date_range("2024-01-03 15:30", "2024-01-03 15:59", freq="1min", tz=NY)
    o = 100 + 0.1 * np.arange(len(index))
    c = o + 0.1
    frame = {"open": o, "high": c + 0.02, "low": o - 0.02, "close": c, "volume": 1e6}
    return pd.DataFrame(frame, index=index.tz_convert("UTC"))


ENTRY = pd.Timestamp("2024-01-03 15:33", tz=NY)


class TimeBound(qn.Strategy):
    """On the 15:33 bar: a market buy, an IOC and an Adaptive limit that trade at once, a FOK
    below the market, a GTD limit far below until 15:40; on the next: an OCA pair of sell
    limits above."""

    def initialize(self, ctx):
        self.ids = {}

    def on_data(self, ctx, data):
        p = ctx.price("AAPL")
        if ctx.now == ENTRY:
            ctx.buy("AAPL", 10)
            ctx.buy("AAPL", 2, tif="IOC")
            ctx.buy("AAPL", 1, limit=round(p + 1, 2), algo="adaptive:urgent")
            self.ids["fok"] = ctx.buy("AAPL", 3, limit=round(p - 1, 2), tif="FOK").id
            gtd = ctx.buy("AAPL", 5, limit=50.0, tif="GTD", good_till="2024-01-03 15:40")
            self.ids["gtd"] = gtd.id
        elif ctx.now == ENTRY + pd.Timedelta(minutes=1):
            near = ctx.sell("AAPL", 5, limit=round(p + 0.55, 2), oca="exit")
            far = ctx.sell("AAPL", 5, limit=round(p + 3, 2), oca="exit")
            self.ids.update(near=near.id, far=far.id)


def test_ioc_fok_gtd_oca_and_adaptive_live_on_the_simulator_fill_as_in_the_backtest(tmp_path):
    bars = {"AAPL": continuous_minutes()}
    costs = {"commission": 0.0, "slippage": 0.0}
    strat = TimeBound()
    bt = qn.backtest(strat, bars, progress=False, **costs)
    expected = sorted(zip(bt.fills["side"], bt.fills["qty"], bt.fills["price"].round(4)))
    assert len(expected) == 4  # market, IOC, Adaptive, the near exit
    bt_status = dict(zip(bt.orders["order_id"], bt.orders["status"]))
    with GatewaySimulator(mode="manual", bars=bars, commission=0.0, slippage=0.0) as sim:
        cfg = IBConfig(host=sim.host, port=sim.port, client_id=12, timeout=5)
        eng = LiveStrategyEngine(config=cfg, journal=tmp_path / "j.sqlite", update_interval=5.0,
                                 **costs)  # fmt: skip
        live = TimeBound()
        eng.add_strategy(live)
        eng.start(["AAPL"], lookback_days=0, interval="1m", wait=True)
        for _ in range(25):
            sim.step(1)
            seen = sim.now - pd.Timedelta(minutes=1)
            eventually(lambda s=seen: eng.last_bar_time is not None and eng.last_bar_time >= s, 10)
        eventually(lambda: len(eng.fills) == 4 and len(eng.broker.open_orders()) == 0, 10)
        fills, orders = eng.fills, eng.orders
        eng.stop()
    got = sorted(zip(fills["side"], fills["qty"], fills["price"].round(4)))
    assert got == expected
    status = dict(zip(orders["order_id"], orders["status"]))

    def by_role(ids, table):
        return {role: table[oid] for role, oid in ids.items()}

    expected = {"fok": "cancelled", "gtd": "expired", "near": "filled", "far": "cancelled"}
    assert by_role(strat.ids, bt_status) == expected
    assert by_role(live.ids, status) == expected  # IB's "Cancelled" at a GTD's time: expired
    reasons = dict(zip(orders["order_id"], orders["reason"]))
    bt_reasons = dict(zip(bt.orders["order_id"], bt.orders["reason"]))
    assert reasons[live.ids["gtd"]] == bt_reasons[strat.ids["gtd"]]
    assert reasons[live.ids["gtd"]].startswith("GTD order expired at ")
