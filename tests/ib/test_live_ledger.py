"""A session's own holdings on an account others trade too: trades made outside it, two sessions
on one account, a periodic reconcile, and IB's late commission reports."""

from __future__ import annotations

import pandas as pd
import pytest

import quantnb.ib.broker as ib_broker
from quantnb.ib.config import IBConfig
from quantnb.sim import GatewaySimulator
from quantnb.testing import eventually
from quantnb.trading import Journal, LiveStrategyEngine
from tests.ib.test_live_engine import Scripted

pytestmark = [pytest.mark.ib, pytest.mark.timeout(90)]


@pytest.fixture
def sim():
    with GatewaySimulator(symbols=["AAPL"], mode="manual", seed=3) as s:
        yield s


def _engine(sim, path, client_id: int, **kw) -> LiveStrategyEngine:
    cfg = IBConfig(host=sim.host, port=sim.port, client_id=client_id, timeout=5)
    kw.setdefault("reconcile_interval", 3600.0)
    eng = LiveStrategyEngine(config=cfg, journal=path, update_interval=3600.0, **kw)
    eng.add_strategy(Scripted())
    eng.start(["AAPL"], lookback_days=0, interval="1m", wait=True)
    return eng


def _held(table: pd.DataFrame) -> dict[str, float]:
    return dict(zip(table["symbol"], table["qty"], strict=True))


def _outside(eng: LiveStrategyEngine) -> list[str]:
    errors = eng.errors
    return list(errors[errors["kind"] == "outside"]["message"])


def _trade(eng: LiveStrategyEngine, fn, expect: float) -> None:
    """Run ``fn(ctx)`` on the engine and wait until its own AAPL holding is ``expect``."""
    eng.call(fn)
    eventually(lambda: eng.ctx.position("AAPL").qty == expect, 10)
    eventually(lambda: not eng.broker.open_orders(), 10)


def test_a_trade_made_outside_the_session_is_followed_and_logged(sim, tmp_path):
    eng = _engine(sim, tmp_path / "a.sqlite", 11)
    _trade(eng, lambda c: c.buy("AAPL", 10), 10)
    assert _outside(eng) == []

    sim.trade_outside("AAPL", 5)  # bought by hand in TWS: the account's, not the session's
    eventually(lambda: _held(eng.account_positions) == {"AAPL": 15.0} == sim.positions(), 10)
    eventually(lambda: len(_outside(eng)) == 1, 10)
    assert "outside change: BUY 5 AAPL" in _outside(eng)[0]
    assert eng.ctx.position("AAPL").qty == 10 and _held(eng.positions) == {"AAPL": 10.0}

    sim.trade_outside("AAPL", -12)  # sold elsewhere: the account holds 3, fewer than ours
    eventually(lambda: _held(eng.account_positions) == {"AAPL": 3.0} == sim.positions(), 10)
    eventually(lambda: eng.ctx.position("AAPL").qty == 3, 10)
    assert _held(eng.positions) == {"AAPL": 3.0}
    logged = _outside(eng)
    assert any("SELL 12 AAPL" in m for m in logged)
    assert any("less than the 10 this session bought; its holding is cut to 3" in m for m in logged)
    assert list(Journal(tmp_path / "a.sqlite").fills()["source"]) == ["ib", "outside", "outside"]
    assert eng.broker.portfolio.cash == pytest.approx(sim.account_values()["TotalCashValue"])
    eng.stop()

    # a new kernel on the same journal: the cut is part of the session's history
    again = _engine(sim, tmp_path / "a.sqlite", 11)
    assert again.ctx.position("AAPL").qty == 3 and _held(again.positions) == {"AAPL": 3.0}
    assert list(Journal(tmp_path / "a.sqlite").holdings()["qty_after"]) == [3.0]
    again.stop()


def test_the_periodic_reconcile_catches_what_the_push_missed(sim, tmp_path):
    eng = _engine(sim, tmp_path / "a.sqlite", 11, reconcile_interval=0.2)
    _trade(eng, lambda c: c.buy("AAPL", 10), 10)
    ib = eng.connection.ib
    eng.call(lambda c: ib.client.cancelPositions())  # no more position pushes

    async def round_trip():  # all sent before it has reached the gateway
        return await ib.reqCurrentTimeAsync()

    eng._loop.run(round_trip(), timeout=5)
    rounds = eng._sync.rounds
    sim.trade_outside("AAPL", -4)
    eventually(lambda: _held(eng.account_positions) == {"AAPL": 6.0}, 10)
    eventually(lambda: eng._sync.rounds > rounds, 10)  # booked by a round, not a push
    eventually(lambda: eng.ctx.position("AAPL").qty == 6, 10)
    assert any("SELL 4 AAPL" in m for m in _outside(eng))
    eng.stop()


def test_two_sessions_on_one_account_keep_their_own_shares(sim, tmp_path):
    a = _engine(sim, tmp_path / "a.sqlite", 11)
    b = _engine(sim, tmp_path / "b.sqlite", 12)
    _trade(a, lambda c: c.buy("AAPL", 10), 10)
    _trade(b, lambda c: c.buy("AAPL", 5), 5)
    for eng in (a, b):
        eventually(lambda e=eng: _held(e.account_positions) == {"AAPL": 15.0}, 10)
    assert _held(a.positions) == {"AAPL": 10.0} and _held(b.positions) == {"AAPL": 5.0}
    refs = [e["order_ref"] for e in sim.executions()]
    assert refs[0].startswith(a.run_id) and refs[1].startswith(b.run_id)

    # a kernel restart of a: its ledger comes back from its journal, not from the account
    a.stop()
    a = _engine(sim, tmp_path / "a.sqlite", 11)
    assert a.ctx.position("AAPL").qty == 10 and _held(a.account_positions) == {"AAPL": 15.0}

    _trade(a, lambda c: c.close("AAPL"), 0)  # sells a's 10, never b's 5
    eventually(lambda: sim.positions() == {"AAPL": 5.0}, 10)
    eventually(lambda: _held(b.account_positions) == {"AAPL": 5.0}, 10)
    assert b.ctx.position("AAPL").qty == 5 and _held(a.positions) == {}
    assert a.close_all() == 0  # nothing of a's is left to close

    _trade(b, lambda c: c.order_target("AAPL", 8), 8)  # b's own 5 -> 8: buys 3
    eventually(lambda: sim.positions() == {"AAPL": 8.0}, 10)
    assert [e["shares"] for e in sim.executions()] == [10, 5, 10, 3]
    # the gateway's position moves before the session has booked the execution it reports
    eventually(lambda: b.fills["order_id"].str.startswith(b.run_id).sum() == 2, 10)
    assert not any("is cut to" in m for m in _outside(b))
    a.stop()
    b.stop()


def test_a_late_commission_report_replaces_the_estimate_once(sim, tmp_path, monkeypatch):
    monkeypatch.setattr(ib_broker, "COMMISSION_WAIT", 0.05)  # book the estimate at once
    sim.delay_commission_reports(0.5)
    eng = _engine(sim, tmp_path / "a.sqlite", 11, commission=0.01)  # estimates 1% of notional
    _trade(eng, lambda c: c.buy("AAPL", 10), 10)
    (booked,) = eng.broker.fills
    (execution,) = sim.executions()
    real = execution["commission"]
    assert booked.commission == pytest.approx(0.01 * 10 * booked.price) != pytest.approx(real)
    eventually(lambda: len(Journal(tmp_path / "a.sqlite").commissions()) == 1, 10)
    (fixed,) = eng.broker.fills
    assert fixed.commission == pytest.approx(real)
    assert list(eng.fills["commission"]) == pytest.approx([real])
    theirs = sim.account_values()
    pf = eng.broker.portfolio
    assert pf.cash == pytest.approx(theirs["TotalCashValue"], abs=0.01)
    assert pf.commissions == pytest.approx(real)
    pf.mark("AAPL", theirs["GrossPositionValue"] / 10)  # the gateway's mark
    assert pf.equity == pytest.approx(theirs["NetLiquidation"], abs=0.01)
    assert eng.ledger.portfolio.commissions == pytest.approx(real)
    assert pf.position("AAPL").avg_cost == pytest.approx(eng.ledger.position("AAPL").avg_cost)
    eng.stop()
    # the journal keeps the estimate and the report; the fills table shows the report
    j = Journal(tmp_path / "a.sqlite")
    (row,) = j.commissions().itertuples()
    assert (row.commission, row.estimate) == pytest.approx((real, booked.commission))
    assert list(j.fills()["commission"]) == pytest.approx([real])


def test_a_commission_report_after_a_restart_still_replaces_the_estimate(
    sim, tmp_path, monkeypatch
):
    monkeypatch.setattr(ib_broker, "COMMISSION_WAIT", 0.05)
    sim.delay_commission_reports(1.0)
    eng = _engine(sim, tmp_path / "a.sqlite", 11, commission=0.01)
    _trade(eng, lambda c: c.buy("AAPL", 10), 10)
    (booked,) = eng.broker.fills
    eng.stop()  # before IB has priced the execution
    real = sim.executions()[0]["commission"]
    assert booked.commission != pytest.approx(real)

    again = _engine(sim, tmp_path / "a.sqlite", 11, commission=0.01, reconcile_interval=0.2)
    eventually(lambda: list(again.fills["commission"]) == pytest.approx([real]), 10)
    assert again.ledger.portfolio.commissions == pytest.approx(real)
    assert again.broker.fills == []  # booked by the first run: never twice
    assert again.broker.portfolio.commissions == 0.0  # nor its commission
    eventually(
        lambda: (
            again.broker.portfolio.cash
            == pytest.approx(sim.account_values()["TotalCashValue"], abs=0.01)
        )
    )
    again.stop()
    assert len(Journal(tmp_path / "a.sqlite").commissions()) == 1
