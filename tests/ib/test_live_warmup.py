"""A live run loads its strategy's warm-up, not a blind 30 days, and decides only after it.

Through the real client against the simulator: the history requests the client sends (their
``durationStr``) cover the warm-up and no more than a day; ``on_data`` first runs with the
indicators ready; a history download held back by pacing says why and for how long.
"""

from __future__ import annotations

import math
import time

import pandas as pd
import pytest

import quantnb as qn
from quantnb.domain.interval import parse_ib_duration
from quantnb.sim import GatewaySimulator
from quantnb.testing import eventually
from tests.ib.test_live_engine import SYMBOLS, _engine, _step

pytestmark = [pytest.mark.ib, pytest.mark.timeout(90)]


class SmaWatch(qn.Strategy):
    """Declares SMA(slow) (or a warm-up) and records every decision with the SMA it saw."""

    def __init__(self, slow: int = 30, declare: int | None = None) -> None:
        self.slow, self.declare = slow, declare

    def initialize(self, ctx):
        if self.declare is not None:
            ctx.warmup(self.declare)
        self.sma = ctx.indicator(qn.ind.sma, "close", self.slow)
        self.calls: list[tuple[pd.Timestamp, int, float]] = []

    def on_data(self, ctx, data):
        self.calls.append((ctx.now, len(ctx.history("AAPL", 100_000)), self.sma["AAPL"]))
        if len(self.calls) == 1:
            ctx.buy("AAPL", 1)


def _spy_history(eng) -> list[dict]:
    """Record the historical-data requests the client sends (keepUpToDate ones left out)."""
    asked: list[dict] = []
    ib = eng.connection.ib
    real = ib.reqHistoricalDataAsync

    def spy(contract, *args, **kwargs):
        if not kwargs.get("keepUpToDate"):
            asked.append({"symbol": contract.symbol, **kwargs})
        return real(contract, *args, **kwargs)

    ib.reqHistoricalDataAsync = spy
    return asked


def _waiting(status):
    """The status when it shows a history download that waits, else None."""
    progress = status["history_progress"]
    return status.to_dict() if progress is not None and progress["waiting"] else None


@pytest.fixture
def sim():
    with GatewaySimulator(symbols=SYMBOLS, mode="manual", seed=3) as s:
        yield s


def test_history_at_start_covers_the_measured_warm_up_not_30_days(sim, tmp_path):
    strat = SmaWatch(slow=30)
    eng = _engine(sim, tmp_path, strat)
    eng.connect()
    asked = _spy_history(eng)
    eng.start(SYMBOLS, interval="1m", wait=True)  # no lookback_days: the warm-up decides
    try:
        assert eng.warmup.warmup.bars == 30  # measured from sma(close, 30), never declared
        assert sorted(a["symbol"] for a in asked) == SYMBOLS  # one request per symbol
        for a in asked:
            span = parse_ib_duration(a["durationStr"])
            assert a["durationStr"].endswith(" S") and span < pd.Timedelta(days=1)
            assert span >= 30 * pd.Timedelta(minutes=1)
        held = len(eng.ctx.history("AAPL", 100_000))
        assert 30 <= held <= 40  # the warm-up and its margin, not 30 days of minutes
        assert strat.calls == []  # history is not replayed through on_data
        _step(sim, eng, 2)
        _, first_held, first_sma = strat.calls[0]
        assert first_held == held + 1 and math.isfinite(first_sma)  # ready at the first decision
        closes = eng.ctx.history("AAPL", 100_000)[:first_held]
        assert first_sma == pytest.approx(closes[-30:].mean())
        assert eng.status["history_progress"] is None and eng.status["state"] == "running"
    finally:
        eng.stop()


def test_declared_warm_up_is_loaded(sim, tmp_path):
    strat = SmaWatch(slow=5, declare=120)
    eng = _engine(sim, tmp_path, strat, client_id=12)
    eng.connect()
    asked = _spy_history(eng)
    eng.start(["AAPL"], interval="1m", wait=True)
    try:
        assert eng.warmup.warmup.bars == 120
        assert [a["durationStr"].endswith(" S") for a in asked] == [True]
        assert len(eng.ctx.history("AAPL", 100_000)) >= 120  # across the previous session
        _step(sim, eng, 2)
        assert len(strat.calls) >= 1 and strat.calls[0][1] > 120
    finally:
        eng.stop()


def test_first_decision_waits_for_the_warm_up_when_history_is_short(sim, tmp_path):
    strat = SmaWatch(slow=5)
    eng = _engine(sim, tmp_path, strat, client_id=13)
    eng.start(["AAPL"], lookback_days=0, interval="1m", wait=True)  # explicit: no history
    try:
        held = len(eng.ctx.history("AAPL", 100))
        assert held < 5
        _step(sim, eng, 6)
        first_time, first_held, first_sma = strat.calls[0]
        assert first_held == 5 and math.isfinite(first_sma)  # the 5th bar, not earlier
        assert len(strat.calls) == 6 - (5 - held) + 1
        eventually(lambda: len(eng.fills) == 1, 10)
        assert eng.fills["time"].min() >= first_time  # no trade before the warm-up
    finally:
        eng.stop()


def test_a_paced_history_download_says_why_and_for_how_long(sim, tmp_path, monkeypatch):
    monkeypatch.setattr("quantnb.ib.feed.SMALL_BAR_SECONDS", 60)  # pace minutes as IB does 30 s
    eng = _engine(sim, tmp_path, SmaWatch(slow=5), client_id=14)
    eng.connect()
    eng.feed.pacing.max_requests = 3  # IB's 60 per 10 minutes, small: the download must wait
    asked = _spy_history(eng)
    # three days of minutes: three requests per symbol
    eng.start(SYMBOLS, lookback_days=3, interval="1m")
    try:
        status = eventually(lambda: _waiting(eng.status), 20)  # one reading of the status
        assert status["state"] == "loading history" and status["running"]
        progress = status["history_progress"]
        assert progress["waiting"] == "IB pacing: 3 requests per 10 minutes"
        assert 590 < progress["resume_in"] <= 600
        assert progress["total"] == 8 and progress["done"] <= 3 and len(asked) == 3
        # the three sent are answered; the fourth waits for IB's window
        eventually(lambda: eng.status["history_progress"]["done"] == 3, 10)
        assert len(asked) == 3 and eng.status["history_progress"]["waiting"]
        time.sleep(1.2)  # the wait counts down
        assert eng.status["history_progress"]["resume_in"] < progress["resume_in"] - 1.0
    finally:
        eng.stop()
    assert eng.state == "stopped"


def test_a_slow_gateway_shows_in_the_history_progress(sim, tmp_path, monkeypatch):
    monkeypatch.setattr("quantnb.ib.progress.SLOW_ANSWER", 0.3)
    eng = _engine(sim, tmp_path, SmaWatch(slow=5), client_id=15)
    eng.connect()
    sim.set_latency(1.5)  # every answer comes 1.5 s late
    eng.start(["AAPL"], interval="1m")
    try:
        status = eventually(lambda: _waiting(eng.status), 20)  # one reading of the status
        assert status["history_progress"]["waiting"].startswith("the gateway has not answered")
        assert status["history_progress"]["resume_in"] is None  # unknown: IB's to decide
        assert status["state"] == "loading history"
        eventually(lambda: eng.state == "running", 20)
        assert eng.status["history_progress"] is None
    finally:
        sim.set_latency(0.0)
        eng.stop()
