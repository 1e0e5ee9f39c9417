"""A GTD order and an OCA pair keep IB's order fields (good-till time, OCA group and type, the
Adaptive algo, outsideRth) when the session is resumed from its journal and when the gateway
restarts under it; the journal's rows written afterwards keep them too."""

from __future__ import annotations

import pandas as pd
import pytest

import quantnb as qn
from quantnb.domain.auction import ib_good_till
from quantnb.ib.config import IBConfig
from quantnb.sim import GatewaySimulator
from quantnb.testing import eventually
from quantnb.trading import Journal, LiveStrategyEngine
from tests.ib.test_live_engine import Scripted

pytestmark = [pytest.mark.ib, pytest.mark.timeout(90)]

LOST = ("Peer closed", "API connection failed", "Make sure API port", 1100)


def _engine(sim, path) -> LiveStrategyEngine:
    cfg = IBConfig(host=sim.host, port=sim.port, client_id=11, timeout=5)
    eng = LiveStrategyEngine(config=cfg, journal=path, update_interval=3600.0, hours="extended")
    eng.add_strategy(Scripted())
    eng.start(["AAPL"], lookback_days=0, interval="1m", wait=True)
    return eng


def _fields(order: qn.Order) -> tuple:
    return (order.tif, order.good_till, order.oca_group, order.oca_type, order.algo,
            order.algo_priority, order.outside_rth)  # fmt: skip


def _place(until: pd.Timestamp):
    def place(c):
        p = c.price("AAPL")
        return [
            c.buy("AAPL", 5, limit=round(p * 0.5, 2), tif="GTD", good_till=until),
            c.buy("AAPL", 4, limit=round(p * 0.8, 2), tif="GTC", oca="pair", oca_type="reduce",
                  algo="adaptive:patient"),
            c.buy("AAPL", 10, limit=round(p * 0.6, 2), tif="GTC", oca="pair", oca_type="reduce"),
        ]  # fmt: skip

    return place


def test_gtd_and_oca_orders_keep_their_ib_fields_across_a_resume_and_a_restart(
    tmp_path, client_errors, connect, wait
):
    client_errors.allow(*LOST)
    path = tmp_path / "run.sqlite"
    with GatewaySimulator(symbols=["AAPL"], mode="manual", seed=3) as sim:
        eng = _engine(sim, path)
        until = (sim.now + pd.Timedelta(minutes=30)).floor("min")
        placed = eng.call(_place(until))
        eventually(lambda: all(o.status is qn.OrderStatus.SUBMITTED for o in placed), 10)
        sent = {o.id: _fields(o) for o in placed}
        assert sent[placed[0].id][1] == until and sent[placed[1].id][4] == "Adaptive"
        assert all(f[6] for f in sent.values())  # limit orders of an extended session
        run_id = eng.run_id
        eng.stop()

        eng = _engine(sim, path)  # resumed from the journal
        try:
            assert eng.run_id == run_id
            assert {o.id: _fields(o) for o in eng.broker.open_orders()} == sent

            sim.nightly_restart()
            eventually(lambda: eng.status["connection"] == "reconnecting", 10)
            sim.end_restart()
            eventually(lambda: eng.status["connection"] == "connected", 20)
            assert {o.id: _fields(o) for o in eng.broker.open_orders()} == sent

            near = eng.broker.orders[placed[1].id]
            sim.set_price("AAPL", round(near.limit * 0.99, 2))  # the near one of the pair fills
            eventually(lambda: near.status is qn.OrderStatus.FILLED, 10)

            # a change of the GTD order after the restart keeps its time: it expires then
            gtd = eng.broker.orders[placed[0].id]
            lower = round(gtd.limit - 1, 2)
            eng.call(lambda c: c.modify(gtd.id, limit=lower))
            other = connect(sim, client_id=2)

            def at_gateway():
                return [t.order for t in other.reqAllOpenOrders() if t.order.lmtPrice == lower]

            (changed,) = wait(other, at_gateway)
            assert (changed.tif, changed.goodTillDate) == ("GTD", ib_good_till(until))
            assert changed.outsideRth
            sim.step(int((until - sim.now) / pd.Timedelta(minutes=1)) - 1)
            assert not gtd.is_done
            sim.step(2)
            eventually(lambda: gtd.is_done, 10)
            assert gtd.status is qn.OrderStatus.EXPIRED and not gtd.filled  # at its time
        finally:
            eng.stop()
    journal = Journal(path)
    try:
        latest = {o.id: o for o in journal.last_state().orders}
    finally:
        journal.close()
    assert latest[near.id].status is qn.OrderStatus.FILLED
    assert {oid: _fields(latest[oid]) for oid in sent} == sent
