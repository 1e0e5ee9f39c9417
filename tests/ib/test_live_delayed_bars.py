"""A login with delayed data only: IB refuses history and bars (162 "No market data
permissions"), so the feed builds the session's bars from delayed last-trade ticks, 15 minutes
late and with no lookback, and says so; with no data at all the session says that, and waits."""

from __future__ import annotations

import contextlib

import pandas as pd
import pytest

import quantnb as qn
from quantnb.ib import IBConfig
from quantnb.sim import GatewaySimulator
from quantnb.testing import eventually
from quantnb.trading import LiveStrategyEngine

pytestmark = [pytest.mark.ib, pytest.mark.timeout(60)]

NOTE = (
    "AAPL: no market data permissions for history; bars are built from delayed ticks "
    "(15 min late), no lookback"
)


class BuyOnce(qn.Strategy):
    """Buys one share on its first bar; remembers every bar it decided on."""

    def initialize(self, ctx):
        self.seen: list[tuple[pd.Timestamp, float, int]] = []

    def on_data(self, ctx, data):
        bar = data["AAPL"]
        self.seen.append((bar.time, bar.close, len(ctx.history("AAPL", 10_000))))
        if len(self.seen) == 1:
            ctx.buy("AAPL", 1)


def _engine(sim: GatewaySimulator, tmp_path, strategy) -> LiveStrategyEngine:
    cfg = IBConfig(host=sim.host, port=sim.port, client_id=43, timeout=5)
    eng = LiveStrategyEngine(config=cfg, journal=tmp_path / "j.sqlite")
    eng.add_strategy(strategy)
    eng.start(["AAPL"], lookback_days=2, interval="1m", wait=True)
    return eng


def test_delayed_login_trades_on_bars_built_from_delayed_ticks(tmp_path, client_errors):
    client_errors.allow(162, 354)
    strategy = BuyOnce()
    with GatewaySimulator(symbols=["AAPL"], mode="manual", market_data="delayed") as sim:
        eng = _engine(sim, tmp_path, strategy)
        try:
            assert eng.ctx.history("AAPL", 10_000).size == 0  # no lookback
            messages = eng.errors["message"].tolist()
            assert any(m.startswith(NOTE + " (IB error 162") for m in messages), messages
            eventually(lambda: (eng.status["market_data"] or "").startswith(NOTE), 10)
            assert "pacing" not in eng.errors["kind"].tolist()  # IB's 162, but no pacing at all
            live: dict[pd.Timestamp, float] = {sim.now: sim.price("AAPL")}
            for _ in range(18):
                sim.step()
                live[sim.now] = sim.price("AAPL")
                n = len(live) - 1
                eventually(lambda n=n: eng.bars_received >= n - 1, 10)
            eventually(lambda: len(strategy.seen) >= 16, 10)
            times = [t for t, _, _ in strategy.seen]
            assert all(t == t.floor("1min") for t in times)
            assert times == sorted(set(times))
            # each bar holds the price the market had 15 minutes before its label
            late = [(t, c) for t, c, _ in strategy.seen if t - pd.Timedelta("15min") in live]
            assert late
            for t, close in late:
                assert close == pytest.approx(live[t - pd.Timedelta("15min")]), t
                assert close != pytest.approx(live[t]) or live[t] == live[t - pd.Timedelta("15min")]
            assert strategy.seen[0][2] == 1  # the strategy's first decision saw one bar
            eventually(lambda: sim.positions().get("AAPL") == 1, 10)
        finally:
            eng.stop()


def test_a_login_without_any_market_data_says_so_and_waits(tmp_path, client_errors):
    client_errors.allow(162, 354, 10168)
    strategy = BuyOnce()
    with GatewaySimulator(symbols=["AAPL"], mode="manual", market_data="none") as sim:
        eng = _engine(sim, tmp_path, strategy)
        try:
            assert eng.state == "running"
            note = "AAPL: no market data, live or delayed (IB error 10168"
            eventually(lambda: (eng.status["market_data"] or "").startswith(note), 10)
            messages = eng.errors["message"].tolist()
            assert any(m.startswith(NOTE) for m in messages), messages
            sim.step(3)
            eventually(lambda: any(m.startswith(note) for m in eng.errors["message"]), 10)

            # a round trip through the engine's client: what the steps sent has arrived by now
            async def round_trip():
                return await eng.connection.ib.reqCurrentTimeAsync()

            eng._loop.run(round_trip(), timeout=5)
            assert eng.bars_received == 0 and strategy.seen == []
        finally:
            eng.stop()


def _step_until(sim: GatewaySimulator, condition, steps: int = 20) -> None:
    """Step until ``condition()`` holds: ticks sent before the feed has asked for them (at
    start, after a reconnect) are not heard, so how many steps that takes is not fixed."""
    for _ in range(steps):
        sim.step()
        with contextlib.suppress(AssertionError):
            eventually(condition, 0.5)
            return
    raise AssertionError(f"still not true after {steps} steps")


def test_bars_from_delayed_ticks_go_on_after_a_reconnect(tmp_path, client_errors):
    client_errors.allow(162, 354, 1100, "Peer closed", "Socket disconnect", "API connection failed")
    strategy = BuyOnce()
    with GatewaySimulator(symbols=["AAPL"], mode="manual", market_data="delayed") as sim:
        eng = _engine(sim, tmp_path, strategy)
        try:
            _step_until(sim, lambda: len(strategy.seen) >= 2)
            reconnects = eng.status["reconnects"]
            sim.drop_connections()
            eventually(lambda: eng.status["reconnects"] > reconnects, 20)
            eventually(lambda: eng.status["connection"] == "connected", 20)
            eventually(lambda: len(sim.connected_clients()) == 1, 10)
            before = len(strategy.seen)
            _step_until(sim, lambda: len(strategy.seen) >= before + 2)
            times = [t for t, _, _ in strategy.seen]
            assert times == sorted(set(times))  # each bar once, in order
        finally:
            eng.stop()
