"""History refused at the start (IB pacing, error 162) is asked again and fills the lookback.

The simulator follows IB's pacing rules with an injected clock (here for 1-minute bars too), so
the test moves IB's 10-minute window on without waiting for it.
"""

from __future__ import annotations

import numpy as np
import pytest

import quantnb as qn
from quantnb.sim import GatewaySimulator, PacingRule
from quantnb.testing import eventually
from tests.ib.test_live_engine import SYMBOLS, Scripted, _engine, _step

pytestmark = [pytest.mark.ib, pytest.mark.timeout(90)]


class Watches(Scripted):
    """Records, on each bar, how much AAPL history it sees and a 100-bar SMA of it."""

    def initialize(self, ctx):
        super().initialize(ctx)
        self.sma = ctx.indicator(qn.ind.sma, "close", 100)
        self.views: list[tuple[int, float, float]] = []

    def on_data(self, ctx, data):
        super().on_data(ctx, data)
        close = ctx.history("AAPL", 100_000)
        mean = float(close[-100:].mean()) if len(close) >= 100 else float("nan")
        self.views.append((len(close), self.sma["AAPL"], mean))


def test_history_refused_at_start_is_asked_again_and_the_strategy_sees_all_of_it(
    tmp_path, monkeypatch, client_errors
):
    client_errors.allow(162, "Peer closed", "API connection failed", "Make sure API port")
    monkeypatch.setattr("quantnb.ib.feed.RETRY_DELAY", 0.1)  # streaming: asked again soon
    monkeypatch.setattr("quantnb.trading.history.RETRY_DELAY", 3.0)  # history: later
    clock = [0.0]
    # IB's 10-minute allowance, small: one start (history and streaming requests) uses it up
    rule = PacingRule(total_max=6, total_window=600.0, bar_seconds_max=60, clock=lambda: clock[0])
    with GatewaySimulator(symbols=SYMBOLS, mode="manual", seed=3, pacing=rule) as sim:
        first = _engine(sim, tmp_path, Scripted(), journal=tmp_path / "first.sqlite")
        first.start(SYMBOLS, lookback_days=1, interval="1m", wait=True)
        before = first.ctx.history("AAPL", 100_000).copy()
        assert len(before) > 300 and first.errors.empty
        first.stop()
        # restarted within minutes: IB refuses the history
        strat = Watches()
        eng = _engine(sim, tmp_path, strat, client_id=12)
        eng.start(SYMBOLS, lookback_days=1, interval="1m", wait=True)
        assert eng.is_running
        status = eng.status
        assert status["history_missing"] == SYMBOLS
        assert 2.0 < status["history_wait"] <= 3.0
        refused = eng.errors.query("kind == 'pacing' and symbol == 'AAPL'")
        assert refused["message"].tolist() == [
            "history of AAPL refused by IB's pacing (error 162): asked again in 3 s; until it "
            "arrives the strategy sees only the bars streamed since the start"
        ]
        clock[0] += 601.0  # IB's window has passed: streaming resumes at once, history in 3 s
        eventually(lambda: all(s.bars is not None for s in eng.feed._subs.values()), 10)
        _step(sim, eng, 1)
        assert eng.status["history_missing"] == SYMBOLS
        progress = eng.status["history_progress"]  # the refused history, asked again later
        assert progress["waiting"].startswith("IB refused the history") and progress["total"] == 2
        assert progress["resume_in"] > 0
        assert strat.views == []  # a few streamed bars: short of the SMA(100)'s warm-up
        eventually(lambda: eng.status["history_missing"] == [], 10)
        assert eng.status["history_wait"] is None and eng.status["history_progress"] is None
        # a day of bars up to the gateway's time now (a bar later than the first run's)
        now = eng.ctx.history("AAPL", 100_000)
        assert len(now) == len(before) and np.array_equal(now[:-1], before[1:])
        _step(sim, eng, 1)
        seen, sma, mean = strat.views[-1]
        assert seen == len(before) + 1  # the whole lookback, and the bar streamed since
        assert np.isfinite(sma) and sma == pytest.approx(mean)
        eng.stop()
