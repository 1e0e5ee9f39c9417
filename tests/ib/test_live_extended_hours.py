"""Extended hours live on the simulator: a session with hours="extended" asks for all hours'
bars (useRTH=0) and sends limit orders outsideRth, so they trade in the pre-market as in the
backtest, while a market order waits for the regular open there as here."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import quantnb as qn
from quantnb.ib.client import IB
from quantnb.ib.config import IBConfig
from quantnb.sim import GatewaySimulator
from quantnb.testing import eventually
from quantnb.trading import LiveStrategyEngine
from quantnb.trading import engine as engine_module

pytestmark = [pytest.mark.ib, pytest.mark.timeout(120)]

NY = "America/New_York"


def around_the_open() -> pd.DataFrame:
    """1-minute bars of 2024-01-03 from 09:20 (pre-market) to 09:39; the open gaps up by 2."""
    index = pd.date_range("2024-01-03 09:20", "2024-01-03 09:39", freq="1min", tz=NY)
    o = 100 + 0.1 * np.arange(len(index))
    o[index.strftime("%H:%M") >= "09:30"] += 2.0
    c = o + 0.05
    frame = {"open": o, "high": c + 0.2, "low": o - 0.2, "close": c, "volume": 1e6}
    return pd.DataFrame(frame, index=index.tz_convert("UTC"))


class EarlyOrders(qn.Strategy):
    """On its first bar: a limit buy below the price and a market buy; records the bars seen."""

    def initialize(self, ctx):
        self.placed = False
        self.seen = []

    def on_data(self, ctx, data):
        self.seen.append(ctx.now.tz_convert(NY).strftime("%H:%M"))
        if not self.placed:
            self.placed = True
            ctx.buy("AAPL", 10, limit=100.05)
            ctx.buy("AAPL", 5)


def acknowledged(engine) -> bool:
    """Whether the simulator has answered both orders of the session (none is PendingSubmit)."""
    trades = engine.connection.ib.trades()
    return len(trades) == 2 and all(t.orderStatus.status != "PendingSubmit" for t in trades)


def _local(times) -> list[str]:
    return [pd.Timestamp(t).tz_convert(NY).strftime("%H:%M") for t in times]


def test_extended_session_live_on_the_simulator_fills_as_in_the_backtest(
    tmp_path, client_errors, monkeypatch
):
    bars = {"AAPL": around_the_open()}
    # the simulator plays the first bar before the session starts: the strategy's first is 09:21
    later = {"AAPL": bars["AAPL"].iloc[1:]}
    bt = qn.backtest(EarlyOrders(), later, progress=False, commission=0.0, slippage=0.0,
                     hours="extended")  # fmt: skip
    assert _local(bt.fills["time"]) == ["09:22", "09:30"]
    assert bt.fills["price"].tolist() == [pytest.approx(100.05), bars["AAPL"]["open"].iloc[10]]
    client_errors.allow(399)  # the market order waits for the open: IB says so
    with GatewaySimulator(
        mode="manual", bars=bars, commission=0.0, slippage=0.0, spread=0.0
    ) as sim:
        cfg = IBConfig(host=sim.host, port=sim.port, client_id=11, timeout=5)
        eng = LiveStrategyEngine(config=cfg, journal=tmp_path / "j.sqlite", update_interval=5.0,
                                 hours="extended")  # fmt: skip
        strategy = EarlyOrders()
        eng.add_strategy(strategy)
        asked: list[bool] = []
        original = IB.reqHistoricalDataAsync

        def spy(self, *args, **kwargs):
            asked.append(kwargs.get("useRTH", args[4] if len(args) > 4 else None))
            return original(self, *args, **kwargs)

        monkeypatch.setattr(IB, "reqHistoricalDataAsync", spy)
        lookbacks: list[bool] = []
        counted = engine_module.history_days

        def history_days(*args):
            lookbacks.append(args[-1])  # extended: the warm-up counts extended hours
            return counted(*args)

        monkeypatch.setattr(engine_module, "history_days", history_days, raising=True)
        eng.start(["AAPL"], lookback_days=0, interval="1m", wait=True)
        sim.step(1)
        eventually(lambda: len(eng.orders) == 2, 10)
        eventually(lambda: acknowledged(eng), 10)  # at the simulator before the next bar
        for _ in range(10):
            sim.step(1)
        eventually(lambda: len(eng.fills) == 2, 10)
        live, seen = eng.fills, list(strategy.seen)
        sent = {o.orderType: o.outsideRth for o in eng.broker._ib_orders.values()}
        eng.stop()
    assert asked and not any(asked)  # useRTH=0: all hours
    assert lookbacks == [True]
    assert seen[0] < "09:30"  # the strategy sees the pre-market's bars
    assert sent == {"LMT": True, "MKT": False}
    assert _local(live["time"].sort_values()) == ["09:22", "09:30"]  # as in the backtest
    by_qty = live.set_index("qty")["price"]
    assert by_qty[10.0] == pytest.approx(100.05)
    assert by_qty[5.0] == bars["AAPL"]["open"].iloc[10]  # the market order: the regular open


def test_paper_takes_the_hours_setting(tmp_path, client_errors):
    client_errors.allow(399)
    bars = {"AAPL": around_the_open()}
    strategy = EarlyOrders()
    live = qn.paper(
        strategy, "AAPL", interval="1m", lookback_days=0, journal=tmp_path / "j.sqlite",
        gateway="sim", update_interval=3600.0, sim={"mode": "manual", "bars": bars},
        client_id=32, hours="extended",
    )  # fmt: skip
    live.start(wait=True)
    try:
        assert live.sim.config.skip_extended is False  # the embedded simulator plays them
        # one bar at a time, each handled before the next (live.step would wait for the
        # market order, which waits for 09:30)
        live.sim.step()
        eventually(lambda: len(live.orders) == 2, 10)
        eventually(lambda: acknowledged(live.engine), 10)
        for n in (2, 3):
            live.sim.step()
            eventually(lambda n=n: len(strategy.seen) == n, 10)
        eventually(lambda: len(live.fills) == 1, 10)
        assert strategy.seen[:3] == ["09:21", "09:22", "09:23"]
    finally:
        live.stop()
    assert _local(live.fills["time"])[0] == "09:22"  # the limit, outsideRth, pre-market
    with pytest.raises(qn.errors.ConfigError, match="hours='rth'"):
        qn.paper(strategy, "AAPL", gateway="sim", hours="rth")
