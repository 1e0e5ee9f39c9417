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
