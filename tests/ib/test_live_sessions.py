"""A live session trading ES follows CME Globex's hours, not the NYSE's: at night its market is
open and the next bar is due a minute on, a stream gone silent at night is noticed, and the
daily 17:00-18:00 New York halt is not silence. Against the simulator's night session, over a
real socket, with both clients."""

from __future__ import annotations

import pandas as pd
import pytest

import quantnb as qn
from quantnb.domain.instrument import future
from quantnb.domain.interval import parse_ib_duration
from quantnb.ib.config import IBConfig
from quantnb.sim import GatewaySimulator
from quantnb.testing import eventually
from quantnb.trading import LiveStrategyEngine, clock
from tests.ib.test_live_warmup import _spy_history

pytestmark = [pytest.mark.ib, pytest.mark.timeout(90)]

MINUTE = pd.Timedelta(minutes=1)
ES = future("ES", "2024-03")


def ny(text: str) -> pd.Timestamp:
    return pd.Timestamp(text, tz="America/New_York").tz_convert("UTC")


class Idle(qn.Strategy):
    def on_data(self, ctx, data):
        pass


def _start(sim, tmp_path, engines, client_id: int = 41, **kw) -> LiveStrategyEngine:
    cfg = IBConfig(host=sim.host, port=sim.port, client_id=client_id, timeout=5)
    kw.setdefault("hours", "extended")  # the night session streams with useRTH=0
    eng = LiveStrategyEngine(
        config=cfg, journal=tmp_path / f"j{client_id}.sqlite", update_interval=5.0, **kw
    )
    eng.add_strategy(Idle())
    engines.append(eng)
    eng.start([ES], lookback_days=0.05, interval="1m", wait=True, timeout=30)
    eventually(lambda: eng.state == "running", 20)
    return eng


def _step(sim, eng, n: int = 1) -> None:
    for _ in range(n):
        sim.step(1)
        seen = sim.now - MINUTE
        eventually(lambda s=seen: eng.last_bar_time is not None and eng.last_bar_time >= s, 10)


@pytest.fixture
def night():
    # Tuesday 2024-03-05, 20:00 New York: US stocks closed, Globex open since 18:00
    with GatewaySimulator(futures=["ES"], mode="manual", seed=5, start="2024-03-06 01:00") as s:
        yield s


def _paper(tmp_path, hours: str):
    """A paper session on ES on the embedded simulator, Tuesday 20:00 New York."""
    sim = {"mode": "manual", "seed": 5, "start": "2024-03-06 01:00"}
    journal = tmp_path / f"{hours}.sqlite"
    session = qn.paper(Idle(), [ES], interval="1m", gateway="sim", sim=sim, hours=hours,
                       lookback_days=0.05, journal=journal, client_id=42)  # fmt: skip
    session.start(wait=True)
    return session


def test_an_es_session_at_night_is_open_and_its_next_bar_is_due(tmp_path):
    session = _paper(tmp_path, "extended")
    try:
        now = session.sim.now
        assert ny("2024-03-05 20:00") <= now < ny("2024-03-05 20:05")
        status = session.status
        assert status["market_closed_until"] is None
        assert status["next_bar_due"] == now + MINUTE  # the bar in progress
        session.step(3)
        eventually(lambda: session.status["last_bar_time"] == now + 2 * MINUTE, 10)
        status = session.status
        assert status["market_closed_until"] is None
        assert status["next_bar_due"] == now + 4 * MINUTE
        # by the NYSE's hours the same moment is closed until the pre-market
        assert clock.closed_until(now, True) == ny("2024-03-06 04:00")
    finally:
        session.stop()


def test_an_es_session_on_regular_hours_waits_for_the_liquid_hours(tmp_path):
    session = _paper(tmp_path, "regular")
    try:
        status = session.status
        # useRTH keeps ES's liquid hours, 08:30-15:00 Chicago
        assert status["market_closed_until"] == ny("2024-03-06 09:30")
        assert status["next_bar_due"] == ny("2024-03-06 09:31")
    finally:
        session.stop()


def test_an_es_stream_silent_at_night_goes_stale(night, tmp_path, engines, client_errors):
    eng = _start(night, tmp_path, engines, stale_after="90s")
    assert dict(eng.check_streams()) == {ES.name: "ok"}
    night.stall_stream()
    night.step(2)  # nothing reaches the engine: only the gateway's clock tells the time
    assert dict(eng.check_streams()) == {ES.name: "resubscribing"}
    night.step(2)
    assert dict(eng.check_streams()) == {ES.name: "stale"}
    assert eng.status["stale"] == [ES.name]
    errors = eng.errors
    assert any(m.startswith(f"{ES.name} is stale") for m in errors["message"])
    night.restore_stream()
    night.step(2)
    eventually(lambda: eng.status["stale"] == [], 10)


def test_the_daily_halt_is_not_silence(tmp_path, engines):
    # Tuesday 16:50 New York: ten minutes to Globex's daily halt (17:00-18:00)
    with GatewaySimulator(futures=["ES"], mode="manual", seed=5, start="2024-03-05 21:50") as sim:
        eng = _start(sim, tmp_path, engines, stale_after="90s")
        try:
            _step(sim, eng, 8)
            sim.step(1)  # to 17:00: no trade starts a bar, so 16:59 is complete only at 18:00
            assert eng.last_bar_time == ny("2024-03-05 16:58")
            assert dict(eng.check_streams()) == {ES.name: "ok"}
            sim.stall_stream()  # not a bar in the hour of the halt: none is expected
            for _ in range(60):
                sim.step(1)
                assert dict(eng.check_streams()) == {ES.name: "ok"}
            assert sim.now == ny("2024-03-05 18:00")
            sim.restore_stream()
            _step(sim, eng, 2)  # Globex trades again at 18:00
            assert eng.last_bar_time == ny("2024-03-05 18:01")
            assert dict(eng.check_streams()) == {ES.name: "ok"}
            assert eng.status["stale"] == []
        finally:
            eng.stop()


class Warm(Idle):
    def initialize(self, ctx):
        ctx.warmup(100)


def test_the_warm_up_of_es_at_night_comes_from_tonights_session(tmp_path, engines):
    # Tuesday 21:00 New York: three hours into Globex's evening session, stocks long closed
    with GatewaySimulator(futures=["ES"], mode="manual", seed=5, start="2024-03-06 02:00") as sim:
        cfg = IBConfig(host=sim.host, port=sim.port, client_id=43, timeout=5)
        eng = LiveStrategyEngine(config=cfg, journal=tmp_path / "w.sqlite", hours="extended")
        eng.add_strategy(Warm())
        engines.append(eng)
        try:
            eng.connect()
            asked = _spy_history(eng)
            eng.start([ES], interval="1m", wait=True, timeout=30)  # the warm-up decides the span
            assert eng.warmup.warmup.bars == 100
            assert len(asked) == 1
            span = parse_ib_duration(asked[0]["durationStr"])
            # 110 bars (the warm-up and its margin) of tonight's session: not back into the
            # afternoon, as the NYSE's hours (after-hours to 20:00) would have it
            assert 110 * MINUTE <= span <= 110 * MINUTE + pd.Timedelta(seconds=2)
            held = eng.ctx.history(ES.name, 100_000)
            assert 100 <= len(held) <= 112
        finally:
            eng.stop()
