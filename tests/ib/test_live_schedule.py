"""Scheduled decisions live: the same calls at the same market times as a backtest of the bars.

One strategy runs as a backtest and then live through the real client against the simulator
replaying the same 30-minute bars (Thanksgiving, its half day and a month start included).
"""

from __future__ import annotations

import pandas as pd
import pytest

import quantnb as qn
from quantnb.ib.config import IBConfig
from quantnb.sim import GatewaySimulator
from quantnb.testing import eventually
from quantnb.trading import Journal, LiveStrategyEngine
from quantnb.trading.bar_log import replay_bars
from quantnb.trading.replay import replay_backtest
from tests.test_schedule import NY, session_bars

pytestmark = [pytest.mark.ib, pytest.mark.timeout(120)]

SYMBOLS = ["AAPL", "MSFT"]


class Scheduled(qn.Strategy):
    """Decides only at scheduled times: a month-start rebalance at the close, a trim before each
    week's close, a look after each open."""

    def initialize(self, ctx):
        self.calls = []
        self.bars = 0
        ctx.schedule(self.rebalance, at="close", days="month_start")
        ctx.schedule(self.trim, at="close-10min", days="week_end")
        ctx.schedule(self.look, at="open+5min")

    def on_data(self, ctx, data):
        self.bars += 1

    def rebalance(self, ctx):
        self.calls.append(("rebalance", ctx.now))
        ctx.order_target("AAPL", 20)

    def trim(self, ctx):
        self.calls.append(("trim", ctx.now))
        ctx.buy("MSFT", 5)

    def look(self, ctx):
        self.calls.append(("look", ctx.now))


def test_scheduled_decisions_are_the_same_calls_at_the_same_times_live_and_in_a_backtest(
    tmp_path,
):
    bars = session_bars(SYMBOLS, "30m", "2023-11-21", "2023-12-04", seed=5)
    times = bars["AAPL"].index
    strat = Scheduled()
    bt = qn.backtest(strat, bars, progress=False)
    expected = list(strat.calls)
    cfg_orders = [(pd.Timestamp(o.created), o.symbol, float(o.qty)) for o in bt.orders.itertuples()]

    with GatewaySimulator(mode="manual", bars=bars) as sim:
        cfg = IBConfig(host=sim.host, port=sim.port, client_id=21, timeout=5)
        eng = LiveStrategyEngine(config=cfg, journal=tmp_path / "j.sqlite", update_interval=5.0)
        eng.add_strategy(strat)
        eng.start(SYMBOLS, lookback_days=0, interval="30m", wait=True)
        first = eng.ctx.now  # the bar complete at the start: history
        for i in range(1, len(times)):
            sim.step(1)
            seen = times[i - 1]
            eventually(lambda s=seen: eng.last_bar_time is not None and eng.last_bar_time >= s, 10)
        last = eng.last_bar_time
        eventually(lambda: not eng.ctx.outbox and len(eng.orders) == len(eng.fills), 10)
        live = list(strat.calls)
        live_orders = [
            (pd.Timestamp(r.created), r.symbol, float(r.qty)) for r in eng.orders.itertuples()
        ]
        eng.stop()

    assert first == times[0] and last == times[-2]
    wanted = [(name, t) for name, t in expected if first < t <= last]
    assert live == wanted
    local = [(name, t.tz_convert(NY).strftime("%m-%d %H:%M")) for name, t in live]
    assert ("trim", "11-24 12:30") in local  # the half day's close is 13:00
    assert ("look", "11-24 09:30") in local and not any(d.startswith("11-23") for _, d in local)
    assert ("rebalance", "12-01 15:30") in local
    assert len([c for c in local if c[0] == "look"]) == len({d[:5] for _, d in local})
    assert live_orders == [o for o in cfg_orders if first < o[0] <= last]
    assert len(live_orders) >= 3
    # the replay of the journaled run (qn.compare's backtest) makes the live run's calls
    again = Scheduled()
    journal = Journal(tmp_path / "j.sqlite")
    replay_backtest(again, replay_bars(journal.bars()), cash=1e5, costs=eng.costs, interval="30m")
    assert again.calls == live
