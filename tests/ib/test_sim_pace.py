"""A paper session on the embedded simulator paces itself for a notebook (a completed bar about
every second, closed and extended hours played at once) and trades the sample data's market."""

from __future__ import annotations

import time

import pandas as pd
import pytest

import quantnb as qn
from quantnb.data.sample import character
from quantnb.sim import GatewaySimulator
from quantnb.testing import eventually

pytestmark = pytest.mark.ib

FIVE_MIN = pd.Timedelta(minutes=5)


class Record(qn.Strategy):
    def initialize(self, ctx):
        self.closes = []

    def on_data(self, ctx, data):
        self.closes.append(ctx.history("AAPL", 1)[-1])


def _ny(text: str) -> pd.Timestamp:
    return pd.Timestamp(text, tz="America/New_York").tz_convert("UTC")


def test_a_paper_session_on_the_simulator_completes_a_bar_about_every_second():
    strategy = Record()
    session = qn.paper(strategy, ["AAPL", "MSFT"], interval="5m", gateway="sim")
    session.start()
    try:
        sim = session.sim
        assert (sim.config.speed, sim.config.skip_closed, sim.config.skip_extended) == (
            300.0,
            True,
            True,
        )
        eventually(lambda: session.status["bars_received"] >= 2, timeout=30)
        status = session.status
        assert status["clock"] == "simulated market, 300× real time"
        # the simulated clock runs at its pace: five-minute bars keep completing
        wall, market, groups = time.monotonic(), sim.now, session.engine.groups_processed
        eventually(lambda: session.engine.groups_processed >= groups + 3, timeout=30)
        pace = (sim.now - market) / pd.Timedelta(seconds=time.monotonic() - wall)
        assert pace > 30, f"the market clock ran only {pace:.0f}× real time"

        def due_is_the_bar_after_the_last() -> bool:
            st = session.status
            last = st["last_bar_time"]
            # the bar after the last one (stamped last + 5m) completes 5 minutes later
            return st["next_bar_due"] == last + 2 * FIVE_MIN and st["market_closed_until"] is None

        eventually(due_is_the_bar_after_the_last, timeout=10)
        # the sample's market, continued: AAPL closed 2023 at 235.61 in qn.data.sample
        last_close = qn.data.sample("AAPL", "1d")["AAPL"].close.iloc[-1]
        assert abs(strategy.closes[0] / last_close - 1) < 0.1, (strategy.closes[0], last_close)
    finally:
        session.stop()
    assert session.status["next_bar_due"] is None  # stopped: nothing is due


def test_real_time_is_one_setting_away():
    session = qn.paper(Record(), ["AAPL"], interval="5m", gateway="sim", sim={"speed": 1})
    wall = time.monotonic()
    session.start(wait=True)
    try:
        sim = session.sim
        assert sim.config.speed == 1
        assert session.status["clock"] == "simulated market, real time"
        elapsed = pd.Timedelta(seconds=time.monotonic() - wall)
        start = _ny("2024-01-03 10:01")  # the market's first bar has traded
        # one five-second slice at most ahead of the wall clock
        assert start <= sim.now <= start + elapsed + pd.Timedelta(seconds=5)
        assert session.status["bars_received"] == 0
    finally:
        session.stop()


def test_extended_hours_are_played_at_once(connect, wait, ibc):
    # 15:58 New York: two minutes of regular hours, then the after-hours session, the night and
    # the pre-market, played at once
    with GatewaySimulator(
        mode="realtime", speed=60, start="2024-01-03 20:58", skip_closed=True,
        skip_extended=True, symbols=["AAPL"],
    ) as sim:  # fmt: skip
        ib = connect(sim)
        (aapl,) = ib.qualifyContracts(ibc.Stock("AAPL", "SMART", "USD"))
        bars = ib.reqHistoricalData(
            aapl, "", "1 D", "1 min", "TRADES", useRTH=True, formatDate=2, keepUpToDate=True
        )
        assert sim.now < _ny("2024-01-03 16:00")
        opening = _ny("2024-01-04 09:30")
        wait(ib, lambda: bars and pd.Timestamp(bars[-1].date) >= opening, timeout=15)
        assert sim.now < opening + pd.Timedelta(minutes=15)  # regular hours at 60x again
        ib.cancelHistoricalData(bars)


def test_the_simulator_history_is_the_sample_and_continues_it(connect, ibc):
    days = qn.data.sample(["AAPL", "MSFT"], "1d")
    with GatewaySimulator(mode="manual", symbols=["AAPL", "MSFT"], follow_sample=True) as sim:
        ib = connect(sim)
        for symbol in ("AAPL", "MSFT"):
            (contract,) = ib.qualifyContracts(ibc.Stock(symbol, "SMART", "USD"))
            bars = ib.reqHistoricalData(
                contract, "", "1 Y", "1 day", "TRADES", useRTH=True, formatDate=2
            )
            got = pd.DataFrame(
                [(b.open, b.high, b.low, b.close, b.volume) for b in bars],
                index=pd.DatetimeIndex([pd.Timestamp(b.date) for b in bars])
                .tz_localize("UTC")
                .as_unit("ns"),
                columns=["open", "high", "low", "close", "volume"],
            )
            sample = days[symbol]
            overlap = got.index[1:].intersection(sample.index)  # the first day: a part only
            assert len(overlap) > 200
            pd.testing.assert_frame_equal(got.loc[overlap], sample.loc[overlap], check_names=False,
                                          check_freq=False)  # fmt: skip
            # 2024 starts from the sample's last close with an overnight gap of its volatility
            after = got[got.index > sample.index[-1]]
            vol = character(symbol)[0]
            gap = abs(after.open.iloc[0] / sample.close.iloc[-1] - 1)
            assert gap < 6 * vol * (0.2 / 252) ** 0.5 + 0.01, (gap, vol)
