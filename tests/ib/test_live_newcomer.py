"""Newcomer mistakes in a live run get a word: hooks of another library warn at start, and a run
that never called ``on_data`` says why when it stops."""

from __future__ import annotations

import pytest

import quantnb as qn
from quantnb.ib.config import IBConfig
from quantnb.sim import GatewaySimulator
from quantnb.testing import eventually
from quantnb.trading import LiveStrategyEngine
from tests.ib.test_live_engine import Scripted
from tests.test_strategy_hooks import BacktestingPy

pytestmark = [pytest.mark.ib, pytest.mark.timeout(90)]


def _engine(sim, tmp_path, strategy) -> LiveStrategyEngine:
    cfg = IBConfig(host=sim.host, port=sim.port, client_id=21, timeout=5)
    eng = LiveStrategyEngine(config=cfg, journal=tmp_path / "j.sqlite", update_interval=3600.0)
    eng.add_strategy(strategy)
    return eng


def _no_bars(said) -> str:
    """The NoBarsWarning's text among what was recorded (other warnings may come first)."""
    (message,) = [str(w.message) for w in said if issubclass(w.category, qn.NoBarsWarning)]
    return message


def test_another_librarys_hooks_warn_at_the_paper_start(tmp_path):
    live = qn.paper(BacktestingPy(), ["AAPL"], interval="1m", lookback_days=0,
                    journal_dir=tmp_path, sim={"mode": "manual", "seed": 0})  # fmt: skip
    try:
        with pytest.warns(qn.StrategyHookWarning, match=r"BacktestingPy\.next\(\) is"):
            live.start(wait=True)
        assert live.engine.state == "running"  # a warning, not a refusal
    finally:
        with pytest.warns(qn.NoBarsWarning):
            live.stop()


def test_a_run_with_no_bar_says_so_when_it_stops(tmp_path):
    strategy = Scripted()
    with GatewaySimulator(symbols=["AAPL"], mode="manual") as sim:
        eng = _engine(sim, tmp_path, strategy)
        eng.start(["AAPL"], lookback_days=0, interval="1m", wait=True)
        with pytest.warns(qn.NoBarsWarning) as said:
            eng.stop()
    assert strategy.seen == []
    assert _no_bars(said) == (
        "the strategy's on_data was never called: no 1m bar of AAPL completed while the session ran"
    )


def test_a_run_without_market_data_says_why_it_got_no_bar(tmp_path, client_errors):
    client_errors.allow(162, 354, 10168)
    strategy = Scripted()
    with GatewaySimulator(symbols=["AAPL"], mode="manual", market_data="none") as sim:
        eng = _engine(sim, tmp_path, strategy)
        eng.start(["AAPL"], lookback_days=0, interval="1m", wait=True)
        eventually(lambda: "10168" in (eng.status["market_data"] or ""), 10)  # the stream refused
        with pytest.warns(qn.NoBarsWarning) as said:
            eng.stop()
    message = _no_bars(said)
    assert message.startswith("the strategy's on_data was never called: market data: AAPL: no ")
    assert "10168" in message


def test_a_run_with_bars_stops_without_a_word(tmp_path, recwarn):
    strategy = Scripted()
    with GatewaySimulator(symbols=["AAPL"], mode="manual") as sim:
        eng = _engine(sim, tmp_path, strategy)
        eng.start(["AAPL"], lookback_days=0, interval="1m", wait=True)
        sim.step(2)
        eventually(lambda: strategy.seen, 10)
        eng.stop()
    assert not [str(w.message) for w in recwarn if issubclass(w.category, qn.QuantnbWarning)]
