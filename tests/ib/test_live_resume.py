"""A journal is resumed on the gateway it traded on; on a fresh gateway that holds none of its
orders or holdings it is not: a new run starts in a journal of its own and says why."""

from __future__ import annotations

import pandas as pd
import pytest

import quantnb as qn
from quantnb.ib.config import IBConfig
from quantnb.sim import GatewaySimulator
from quantnb.testing import eventually
from quantnb.trading import Journal, LiveStrategyEngine
from tests.ib.test_live_engine import Scripted

pytestmark = [pytest.mark.ib, pytest.mark.timeout(90)]


def _sim() -> GatewaySimulator:
    return GatewaySimulator(symbols=["AAPL"], mode="manual", seed=3)


def _engine(sim, path, strategy=None) -> LiveStrategyEngine:
    cfg = IBConfig(host=sim.host, port=sim.port, client_id=11, timeout=5)
    eng = LiveStrategyEngine(config=cfg, journal=path, update_interval=3600.0)
    eng.add_strategy(strategy or Scripted())
    eng.start(["AAPL"], lookback_days=0, interval="1m", wait=True)
    return eng


def _held(table: pd.DataFrame) -> dict[str, float]:
    return dict(zip(table["symbol"], table["qty"], strict=True))


def _trade_and_rest(eng: LiveStrategyEngine) -> str:
    """Buy 10 AAPL, then leave a GTC limit buy far below working; returns its id."""
    eng.call(lambda c: c.buy("AAPL", 10))
    eventually(lambda: eng.ctx.position("AAPL").qty == 10, 10)
    order = eng.call(lambda c: c.buy("AAPL", 5, limit=round(c.price("AAPL") * 0.5, 2), tif="GTC"))
    eventually(lambda: order.status is qn.OrderStatus.SUBMITTED, 10)
    return order.id


def _journal_rows(path) -> tuple[int, int, int]:
    journal = Journal(path)
    try:
        return len(journal.orders()), len(journal.fills()), len(journal.errors())
    finally:
        journal.close()


def test_a_journal_is_not_resumed_on_a_fresh_gateway(tmp_path, caplog):
    path = tmp_path / "run.sqlite"
    with _sim() as first:
        eng = _engine(first, path)
        resting = _trade_and_rest(eng)
        old_run = eng.run_id
        eng.stop()
    rows = _journal_rows(path)

    with _sim() as fresh:  # nothing on it: not the gateway the journal traded on
        eng = _engine(fresh, path)
        try:
            assert eng.run_id != old_run
            assert eng.journal.path != path and eng.journal.path.parent == tmp_path
            assert eng.status["journal"] == str(eng.journal.path)
            assert eng.ctx.position("AAPL").qty == 0 and _held(eng.positions) == {}
            assert eng.broker.open_orders() == [] and eng.orders.empty
            said = list(eng.errors["message"])
            assert len(said) == 1, said
            assert f"{path}: the journal recorded 1 working order(s) ({resting}) and " in said[0]
            assert "holdings of 10 AAPL, but the gateway holds none of them" in said[0]
            assert f"Not resumed: a new run {eng.run_id} starts in {eng.journal.path}" in said[0]
            assert not [r for r in caplog.records if "unknown to the IB gateway" in r.getMessage()]

            eng.call(lambda c: c.buy("AAPL", 3))  # the new run trades on its own
            eventually(lambda: _held(eng.positions) == {"AAPL": 3.0} == fresh.positions(), 10)
            assert eng.orders["order_id"].str.startswith(eng.run_id).all()
        finally:
            eng.stop()
    assert _journal_rows(path) == rows  # the old journal is kept as it was


def test_a_journal_is_resumed_on_the_gateway_it_traded_on(tmp_path):
    path = tmp_path / "run.sqlite"
    with _sim() as sim:
        eng = _engine(sim, path)
        resting = _trade_and_rest(eng)
        old_run = eng.run_id
        eng.stop()

        eng = _engine(sim, path)
        try:
            assert eng.run_id == old_run and eng.journal.path == path
            assert eng.ctx.position("AAPL").qty == 10
            assert [o.id for o in eng.broker.open_orders()] == [resting]
            assert eng.errors.empty
        finally:
            eng.stop()
