"""Cancels made while the gateway comes back are queued and carried out in order, never dropped.

The simulator runs in manual mode (see test_live_engine.py): bars played while the engine is
away are caught up when it is back, and the strategy's ``on_data`` runs for them while the
connection is still reconnecting (resubscribing).
"""

from __future__ import annotations

import pytest

import quantnb as qn
from quantnb.sim import GatewaySimulator
from quantnb.testing import eventually
from tests.ib.test_live_engine import SYMBOLS, Scripted, _engine, _open_refs, _step

pytestmark = [pytest.mark.ib, pytest.mark.timeout(90)]

AWAY = ("Peer closed", "API connection failed", "Make sure API port", 1100, 202)


@pytest.fixture
def sim():
    with GatewaySimulator(symbols=SYMBOLS, mode="manual", seed=3) as s:
        yield s


def _away_and_back(sim: GatewaySimulator, eng, bars: int) -> None:
    """A nightly restart while ``bars`` bars are played; the engine catches them up after."""
    eng.connection.backoff = (0.05, 0.2)
    sim.nightly_restart()
    eventually(lambda: eng.status["connection"] != "connected", 10)
    sim.step(bars)
    sim.end_restart()
    eventually(lambda: eng.status["connection"] == "connected", 20)


def test_a_cancel_and_replace_during_catch_up_leaves_only_the_new_stop(
    sim, tmp_path, client_errors
):
    client_errors.allow(*AWAY)
    stops: dict[str, qn.Order] = {}
    states: list[str] = []

    def protect(ctx):
        stops["old"] = ctx.sell("AAPL", 10, stop=round(ctx.price("AAPL") * 0.5, 2), tif="GTC")

    def replace(ctx):
        states.append(eng.connection.state)  # where the callback runs: during the catch-up
        assert ctx.cancel(stops["old"])  # pending, not refused
        stops["new"] = ctx.sell("AAPL", 10, stop=round(ctx.price("AAPL") * 0.6, 2), tif="GTC")
        states.append(str(stops["old"].status))
        assert stops["old"] in ctx.open_orders("AAPL")  # still working until IB confirms

    strat = Scripted({0: lambda c: c.buy("AAPL", 10), 1: protect, 2: replace})
    eng = _engine(sim, tmp_path, strat)
    eng.start(SYMBOLS, lookback_days=0, interval="1m", wait=True)
    _step(sim, eng, 2)
    assert _open_refs(sim) == [stops["old"].id]
    sent: list[str] = []
    real_cancel, real_place = eng.broker.cancel, eng.broker.execute_order
    eng.broker.cancel = lambda o: sent.append(o.id) or real_cancel(o)
    eng.broker.execute_order = lambda o: sent.append(o.id) or real_place(o)
    _away_and_back(sim, eng, 3)
    eventually(lambda: stops["old"].status is qn.OrderStatus.CANCELLED, 10)
    eventually(lambda: stops["new"].status is qn.OrderStatus.SUBMITTED, 10)
    assert states == ["reconnecting", "submitted"]
    assert _open_refs(sim) == [stops["new"].id]  # never both working
    assert _order_errors(eng) == []
    assert eng.status["order_changes_queued"] == 0
    assert sent == [stops["old"].id, stops["new"].id]  # the cancel went out first
    events = eng.order_events
    old_cancelled = events.query("order_id == @stops['old'].id and event == 'cancelled'")
    new_created = events.query("order_id == @stops['new'].id and event == 'created'")
    assert len(old_cancelled) == 1 and len(new_created) == 1
    assert _positions_at_gateway(sim) == {"AAPL": 10.0}
    eng.stop()


def test_cancels_wait_in_order_while_the_gateway_is_down_and_new_orders_wait_behind_them(
    sim, tmp_path, client_errors
):
    client_errors.allow(*AWAY)

    def rest(ctx):
        px = ctx.price("AAPL")
        for k in range(3):
            ctx.buy("AAPL", 1 + k, limit=round(px * (0.5 - 0.05 * k), 2), tif="GTC")

    strat = Scripted({0: rest})
    eng = _engine(sim, tmp_path, strat)
    eng.start(SYMBOLS, lookback_days=0, interval="1m", wait=True)
    sim.step(1)
    _step(sim, eng, 1)
    resting = eng.broker.open_orders()
    assert len(resting) == 3
    eng.connection.backoff = (0.05, 0.2)
    sim.nightly_restart()
    eventually(lambda: eng.status["connection"] != "connected", 10)
    sent: list[str] = []
    real_cancel = eng.broker.cancel
    eng.broker.cancel = lambda o: sent.append(o.id) or real_cancel(o)

    def while_away(ctx):
        assert ctx.cancel(resting[2]) and ctx.cancel(resting[0])
        return ctx.buy("AAPL", 4, limit=round(ctx.price("AAPL") * 0.3, 2), tif="GTC")

    new = eng.call(while_away)
    assert eng.status["order_changes_queued"] == 2 and sent == []
    assert new.status is qn.OrderStatus.PENDING and new in eng.ctx.open_orders()
    assert _order_errors(eng) == []
    sim.end_restart()
    eventually(lambda: eng.status["connection"] == "connected", 20)
    eventually(lambda: new.status is qn.OrderStatus.SUBMITTED, 10)
    eventually(lambda: resting[0].status is qn.OrderStatus.CANCELLED, 10)
    eventually(lambda: resting[2].status is qn.OrderStatus.CANCELLED, 10)
    assert sent == [resting[2].id, resting[0].id]  # in the order they were asked
    assert sorted(_open_refs(sim)) == sorted([resting[1].id, new.id])
    assert _order_errors(eng) == []
    eng.stop()


def test_cancel_while_paused_is_carried_out_on_resume(sim, tmp_path, client_errors):
    client_errors.allow(*AWAY, 1102)
    strat = Scripted({0: lambda c: c.buy("AAPL", 2, limit=round(c.price("AAPL") * 0.5, 2))})
    eng = _engine(sim, tmp_path, strat)
    eng.start(SYMBOLS, lookback_days=0, interval="1m", wait=True)
    sim.step(1)
    _step(sim, eng, 1)
    (resting,) = eng.broker.open_orders()
    sim.pause()
    assert eng.cancel_all() == 1
    sim.resume()
    eventually(lambda: resting.status is qn.OrderStatus.CANCELLED, 10)
    assert _open_refs(sim) == []
    eng.stop()


def test_a_cancel_never_sent_is_reported_at_stop_and_messages_name_the_order_once(
    sim, tmp_path, client_errors
):
    client_errors.allow(*AWAY)
    strat = Scripted({0: lambda c: c.buy("AAPL", 2, limit=round(c.price("AAPL") * 0.5, 2))})
    eng = _engine(sim, tmp_path, strat)
    eng.start(SYMBOLS, lookback_days=0, interval="1m", wait=True)
    sim.step(1)
    _step(sim, eng, 1)
    (resting,) = eng.broker.open_orders()
    sim.nightly_restart()
    eventually(lambda: eng.status["connection"] != "connected", 10)
    assert eng.call(lambda c: c.cancel(resting))
    new = eng.call(lambda c: c.buy("MSFT", 1))
    eng.stop()
    address = f"{sim.host}:{sim.port}"
    errors = eng.errors
    assert errors.query("order_id == @resting.id")["message"].tolist() == [
        f"cancel of order {resting.id} not sent: the IB gateway at {address} was not back "
        "before stop(); the order may still be working as it was"
    ]
    assert errors.query("order_id == @new.id")["message"].tolist() == [
        f"order {new.id} not sent: the IB gateway at {address} was not back before stop()"
    ]
    assert new.status is qn.OrderStatus.REJECTED
    sim.end_restart()
    assert _open_refs(sim) == [resting.id]


def test_without_reconnecting_a_cancel_fails_at_once_with_its_prefix_once(
    sim, tmp_path, client_errors
):
    client_errors.allow(*AWAY)
    strat = Scripted({0: lambda c: c.buy("AAPL", 2, limit=round(c.price("AAPL") * 0.5, 2))})
    eng = _engine(sim, tmp_path, strat, enable_reconnect=False)
    eng.start(SYMBOLS, lookback_days=0, interval="1m", wait=True)
    sim.step(1)
    _step(sim, eng, 1)
    (resting,) = eng.broker.open_orders()
    sim.drop_connections()
    eventually(lambda: eng.status["connection"] == "disconnected", 10)
    assert not eng.call(lambda c: c.cancel(resting))
    new = eng.call(lambda c: c.buy("MSFT", 1))
    address = f"{sim.host}:{sim.port}"
    errors = eng.errors
    assert errors.query("order_id == @resting.id")["message"].tolist() == [
        f"cannot cancel order {resting.id}: not connected to the IB gateway at {address} "
        "(state: disconnected)"
    ]
    assert errors.query("order_id == @new.id")["message"].tolist() == [
        f"cannot send order {new.id}: not connected to the IB gateway at {address} "
        "(state: disconnected); nothing was sent. Call connect() first."
    ]
    assert new.reason == errors.query("order_id == @new.id")["message"].iloc[0]
    eng.stop()


def test_a_stop_moved_during_catch_up_is_modified_at_the_gateway_once_back(
    sim, tmp_path, client_errors
):
    client_errors.allow(*AWAY)
    stops: dict[str, qn.Order] = {}
    states: list[str] = []
    prices: list[float] = []

    def protect(ctx):
        prices.append(round(ctx.price("AAPL") * 0.5, 2))
        stops["stop"] = ctx.sell("AAPL", 10, stop=prices[0], tif="GTC")

    def move(ctx):
        states.append(eng.connection.state)
        prices.append(round(ctx.price("AAPL") * 0.6, 2))
        assert ctx.modify(stops["stop"], stop=prices[1], qty=8)
        assert stops["stop"].stop == prices[0]  # shown once the change is sent
        stops["new"] = ctx.buy("MSFT", 1)  # decided after the change: goes out after it

    strat = Scripted({0: lambda c: c.buy("AAPL", 10), 1: protect, 2: move})
    eng = _engine(sim, tmp_path, strat)
    eng.start(SYMBOLS, lookback_days=0, interval="1m", wait=True)
    _step(sim, eng, 2)
    stop = stops["stop"]
    assert _gateway_orders(sim) == {stop.id: (10.0, prices[0])}
    sent: list[str] = []
    real = eng.broker.modify
    eng.broker.modify = lambda o, ch: sent.append(o.id) or real(o, ch)
    real_place = eng.broker.execute_order
    eng.broker.execute_order = lambda o: sent.append(o.id) or real_place(o)
    _away_and_back(sim, eng, 2)
    eventually(lambda: stops["new"].status is qn.OrderStatus.FILLED, 10)
    assert states == ["reconnecting"]
    assert sent == [stop.id, stops["new"].id]  # the change first, then the new order
    assert stop.status is qn.OrderStatus.SUBMITTED and (stop.qty, stop.stop) == (8.0, prices[1])
    assert _gateway_orders(sim) == {stop.id: (8.0, prices[1])}  # the same order, changed
    assert _order_errors(eng) == []
    assert eng.status["order_changes_queued"] == 0
    eng.stop()


def _gateway_orders(sim: GatewaySimulator) -> dict[str, tuple[float, float]]:
    """orderRef -> (quantity, stop price) of the orders working at the gateway."""
    from quantnb.ib.config import IBConfig
    from quantnb.ib.connection import IBConnection
    from quantnb.ib.loop import LoopThread

    with LoopThread() as loop:
        conn = IBConnection(IBConfig(host=sim.host, port=sim.port, client_id=98), loop)
        conn.connect_blocking()
        try:

            async def orders():
                trades = await conn.ib.reqAllOpenOrdersAsync()
                return {t.order.orderRef: (t.order.totalQuantity, t.order.auxPrice) for t in trades}

            return loop.run(orders(), timeout=10)
        finally:
            conn.disconnect_blocking()


def _order_errors(eng) -> list[str]:
    """Errors about orders (the connection's own notices of the restart aside)."""
    errors = eng.errors
    return errors[errors["order_id"].notna()]["message"].tolist()


def _positions_at_gateway(sim: GatewaySimulator) -> dict[str, float]:
    return {s: q for s, q in sim.positions().items() if q}
