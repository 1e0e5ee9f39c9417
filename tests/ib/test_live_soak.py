"""Soak: a strategy trading every bar through IB's faults, mixed, one after another.

Kill and restart, dropped sockets, lost connectivity (pause/resume), late commission reports,
an order rejected after its acknowledgement, a market-data farm flap and the nightly restart
(with bars missed meanwhile and caught up). At the end: no order sent twice, no fill lost or
booked twice, and positions equal to the gateway's. Bounded: about 25 bars, a few seconds.
"""

from __future__ import annotations

from collections import Counter

import pytest

import quantnb as qn
from quantnb.sim import GatewaySimulator
from quantnb.testing import eventually
from tests.ib.test_live_engine import SYMBOLS, _engine, _open_refs, _step

pytestmark = [pytest.mark.ib, pytest.mark.timeout(120)]

FAULT_NOTICES = (
    "Peer closed",
    "API connection failed",
    "Make sure API port",
    1100,
    1102,
    2103,
    2104,
    201,
    202,
)


class Churn(qn.Strategy):
    """Trades on every bar: AAPL up and down a few shares, a protective MSFT stop moved each
    bar (a cancel and a new stop), and one resting GTC limit order."""

    def initialize(self, ctx):
        self.bars = 0
        self.stop: qn.Order | None = None
        self.rest: qn.Order | None = None
        self.fills = []
        self.seen = []

    def on_data(self, ctx, data):
        self.bars += 1
        self.seen.append((ctx.now, tuple(data)))
        if "AAPL" in data:
            if self.bars % 3 or ctx.position("AAPL").qty < 2:
                ctx.buy("AAPL", 3)
            else:
                ctx.sell("AAPL", 2)
            if self.rest is None:
                self.rest = ctx.buy("AAPL", 1, limit=round(ctx.price("AAPL") * 0.5, 2), tif="GTC")
        if "MSFT" in data:
            held = ctx.position("MSFT").qty
            if held < 12:
                ctx.buy("MSFT", 2)
            if self.stop is not None and not self.stop.is_done:
                ctx.cancel(self.stop)
            if held > 0:
                price = round(ctx.price("MSFT") * 0.5, 2)
                self.stop = ctx.sell("MSFT", held, stop=price, tif="GTC")

    def on_fill(self, ctx, fill):
        self.fills.append(fill)


@pytest.fixture
def sim():
    with GatewaySimulator(symbols=SYMBOLS, mode="manual", seed=5) as s:
        yield s


def _connected(eng) -> None:
    eventually(lambda: eng.status["connection"] == "connected", 20)


def _away(eng) -> None:
    eventually(lambda: eng.status["connection"] != "connected", 10)


def test_soak_with_faults_no_duplicate_orders_no_lost_fills_positions_match(
    sim, tmp_path, client_errors
):
    client_errors.allow(*FAULT_NOTICES)
    strat = Churn()
    eng = _engine(sim, tmp_path, strat)
    eng.start(SYMBOLS, lookback_days=0, interval="1m", wait=True)
    eng.connection.backoff = (0.05, 0.2)
    sim.step(1)
    _step(sim, eng, 2)

    # lost connectivity to IB: the socket stays, requests wait; an order made meanwhile goes
    sim.pause()
    eventually(lambda: "connectivity" in set(eng.errors["kind"]), 10)
    extra = eng.call(lambda c: c.buy("MSFT", 1))
    sim.resume()
    eventually(lambda: extra.status is qn.OrderStatus.FILLED, 10)
    _step(sim, eng, 2)

    # commission reports late: fills wait for them (or are booked with an estimate), once
    sim.delay_commission_reports(0.3)
    _step(sim, eng, 2)
    sim.delay_commission_reports(0.0)

    # an order acknowledged, then rejected: nothing trades, the strategy goes on
    sim.reject_next_orders(1, "margin requirements not met", after_ack=True)
    _step(sim, eng, 2)
    eventually(lambda: "rejected" in set(eng.orders["status"]), 10)

    # the market-data farm flaps while a bar completes
    sim.farm_flap()
    sim.step(1)
    sim.farm_restore()
    _step(sim, eng, 2)

    # the nightly restart with bars played meanwhile: caught up (stops moved) when back
    sim.nightly_restart()
    _away(eng)
    sim.step(2)
    sim.end_restart()
    _connected(eng)
    _step(sim, eng, 2)

    # the gateway killed and started again, and sockets dropped
    sim.stop()
    _away(eng)
    sim.start()
    _connected(eng)
    _step(sim, eng, 2)
    for fault in (sim.drop_connections, sim.restart):
        before = eng.status["reconnects"]
        fault()
        eventually(lambda b=before: eng.status["reconnects"] > b, 20)
        _connected(eng)
        _step(sim, eng, 2)

    eventually(lambda: eng.status["order_changes_queued"] == 0, 10)
    # every execution has reached the strategy before it stops (none is handed out after)
    eventually(lambda: len(strat.fills) == len(sim.executions()), 10)
    eng.stop()
    assert strat.bars >= 18
    # every bar once, in time order, both symbols together: the missed ones caught up too
    times = [t for t, _ in strat.seen]
    assert times == sorted(set(times))
    alone = [(t, symbols) for t, symbols in strat.seen if set(symbols) != set(SYMBOLS)]
    assert not alone, alone
    # no lost fill, none booked twice
    execs = sim.executions()
    fills = eng.fills
    assert len(fills) == len(execs) == len(set(fills["exec_id"]))
    assert set(fills["exec_id"]) == {e["exec_id"] for e in execs}
    assert len(strat.fills) == len(fills)
    # positions equal to the gateway's
    ours = {s: p.qty for s, p in eng.broker.portfolio.open_positions().items()}
    assert ours == {s: q for s, q in sim.positions().items() if q}
    # no order sent twice: one IB order per orderRef, created once in the journal
    ib_orders = {(e["order_ref"], e["client_id"], e["order_id"]) for e in execs}
    assert all(n == 1 for n in Counter(ref for ref, *_ in ib_orders).values())
    events = eng.order_events
    created = events[events["event"] == "created"]["order_id"]
    assert created.is_unique
    refs = _open_refs(sim)
    assert len(refs) == len(set(refs))
    # the stop was moved each bar: at most one working at the gateway, never two
    stops = [o.id for o in eng.broker.orders.values() if o.type is qn.OrderType.STOP]
    assert len(stops) > 5
    assert sum(ref in stops for ref in refs) <= 1
    rejected = eng.orders.query("status == 'rejected'")
    assert len(rejected) == 1
    assert "margin requirements not met" in rejected["reason"].iloc[0]
