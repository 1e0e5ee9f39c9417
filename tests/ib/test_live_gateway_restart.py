"""IB Gateway's nightly restart under a running session: the session waits for the gateway (its
status says so), comes back by itself, books the fills made meanwhile once and sends nothing
twice; with a relogin it waits at the login screen until someone logs in."""

from __future__ import annotations

import pandas as pd
import pytest

import quantnb as qn
from quantnb.ib.config import IBConfig
from quantnb.sim import GatewaySimulator
from quantnb.testing import eventually
from quantnb.trading import LiveStrategyEngine
from tests.ib.test_live_engine import _step as play

pytestmark = [pytest.mark.ib, pytest.mark.timeout(90)]

LOST = ("Peer closed", "API connection failed", "Make sure API port", 1100)
MINUTE = pd.Timedelta(minutes=1)


class EnterOnce(qn.Strategy):
    """On its first bar: a market buy of 3 and a resting GTC limit buy of 2 far below."""

    def initialize(self, ctx):
        self.bars = 0
        self.fills = []

    def on_data(self, ctx, data):
        self.bars += 1
        if self.bars == 1:
            ctx.buy("AAPL", 3)
            ctx.buy("AAPL", 2, limit=round(ctx.price("AAPL") * 0.9, 2), tif="GTC")

    def on_fill(self, ctx, fill):
        self.fills.append(fill.exec_id)


def _step(sim, eng, n: int = 1) -> None:
    """Play ``n`` bars, each time until the engine has handled the bar that completed."""
    play(sim, eng, n, settle=False)


@pytest.mark.parametrize("relogin", [False, True], ids=["restart", "relogin"])
def test_the_session_waits_out_the_nightly_restart(tmp_path, client_errors, relogin):
    client_errors.allow(*LOST)
    with GatewaySimulator(symbols=["AAPL"], mode="manual", seed=4) as sim:
        cfg = IBConfig(host=sim.host, port=sim.port, client_id=33, timeout=5)
        eng = LiveStrategyEngine(config=cfg, journal=tmp_path / "j.sqlite", update_interval=5.0)
        strat = EnterOnce()
        eng.add_strategy(strat)
        eng.start(["AAPL"], lookback_days=0, interval="1m", wait=True)
        try:
            sim.step(1)
            _step(sim, eng)
            eventually(lambda: sim.positions() == {"AAPL": 3} and len(strat.fills) == 1, 10)
            (limit,) = eng.broker.open_orders()

            sim.nightly_restart(relogin=relogin)
            eventually(lambda: eng.status["connection"] == "reconnecting", 10)
            eventually(lambda: "refuses connections" in (eng.status["waiting_for"] or ""), 10)
            assert eng.status["alert"] is None
            sim.set_price("AAPL", round(limit.limit * 0.99, 2))  # fills while the gateway is away
            sim.step(2)
            assert sim.positions() == {"AAPL": 5} and len(strat.fills) == 1

            sim.end_restart()
            if relogin:  # the login screen: still refused, still waiting
                attempts = eng.connection.attempts
                eventually(lambda: eng.connection.attempts >= attempts + 2, 20)
                assert eng.status["connection"] == "reconnecting"
                assert "refuses connections" in eng.status["waiting_for"]
                sim.login()
            eventually(lambda: eng.status["connection"] == "connected", 20)
            assert eng.status["waiting_for"] is None

            # the fill made meanwhile is booked once; nothing was sent twice
            eventually(lambda: limit.status is qn.OrderStatus.FILLED, 10)
            _step(sim, eng, 2)
            assert len(strat.fills) == 2 == len(set(strat.fills))
            assert sorted(eng.fills["exec_id"]) == sorted(e["exec_id"] for e in sim.executions())
            assert len(sim.executions()) == 2 and sim.positions() == {"AAPL": 5}
            assert dict(zip(eng.positions["symbol"], eng.positions["qty"])) == {"AAPL": 5}
            assert len(eng.orders) == 2 and set(eng.orders["status"]) == {"filled"}
            assert strat.bars >= 3  # bars resumed after the restart
        finally:
            eng.stop()
