"""A login without live market data: IB answers a live tick request with 354 "...Delayed market
data is available."; the connection asks for delayed data from then on (and after every
reconnect), notes it per symbol, and a price snapshot asked meanwhile is asked again."""

from __future__ import annotations

import itertools

import pytest

import quantnb as qn
from quantnb.domain.model import Order, OrderStatus, Side
from quantnb.ib import IBConfig, IBConnection, LiveBroker
from quantnb.ib.connection import ErrorEvent
from quantnb.ib.tables import ErrorKind
from quantnb.sim import GatewaySimulator
from quantnb.testing import eventually
from quantnb.trading import LiveStrategyEngine

pytestmark = [pytest.mark.ib, pytest.mark.timeout(60)]

LOST = ("Peer closed", "API connection failed", "Make sure API port", "Socket disconnect")
DELAYED_NOTE = "AAPL: delayed market data (15 min): live data is not subscribed"
_ids = itertools.count(1)


@pytest.fixture
def make_broker(ib_sim, loop_thread):
    made: list[IBConnection] = []

    def make() -> tuple[LiveBroker, list[ErrorEvent]]:
        cfg = IBConfig(host=ib_sim.host, port=ib_sim.port, client_id=41, timeout=5)
        conn = IBConnection(cfg, loop_thread, backoff=(0.05, 0.2))
        made.append(conn)
        errors: list[ErrorEvent] = []
        conn.add_listener(on_error=errors.append)
        broker = LiveBroker(conn, run_id="md")  # no price source: a market order needs a snapshot
        conn.connect_blocking()
        return broker, errors

    yield make
    for conn in made:
        conn.disconnect_blocking()


def buy(qty: float = 1) -> Order:
    return Order(f"md-{next(_ids)}", "AAPL", Side.BUY, qty)


def codes(errors: list[ErrorEvent]) -> list[int]:
    return [e.code for e in errors]


@pytest.mark.ib_sim(symbols=["AAPL"], market_data="delayed")
def test_a_login_without_live_data_gets_delayed_prices_with_a_note(
    ib_sim, make_broker, client_errors
):
    client_errors.allow(354, *LOST)
    broker, errors = make_broker()
    conn = broker.connection
    assert conn.market_data.summary() is None and not conn.market_data.delayed

    order = broker.execute_order(buy())  # the snapshot meets 354, switches, asks again
    eventually(lambda: order.status is OrderStatus.FILLED, 10)
    assert codes(errors).count(354) == 1 and 10167 in codes(errors)
    assert conn.market_data.delayed and conn.market_data.summary() == DELAYED_NOTE
    (note,) = [e for e in errors if e.message == DELAYED_NOTE]
    assert note.kind is ErrorKind.MARKET_DATA and note.symbol == "AAPL"  # noted once
    contract = conn.contracts.get("AAPL")
    delayed = conn.loop_thread.run(conn.market_data.snapshot(contract))
    assert delayed > 0 and delayed != ib_sim.price("AAPL")  # 15 minutes old

    # the data type belongs to the connection: asked again after a reconnect, no second 354
    ib_sim.drop_connections()
    eventually(lambda: conn.reconnects == 1 and conn.is_connected(), 10)
    broker.portfolio.positions.clear()  # forget the mark: the next order needs a snapshot
    again = broker.execute_order(buy())
    eventually(lambda: again.status is OrderStatus.FILLED, 10)
    assert codes(errors).count(354) == 1
    assert [e.message for e in errors].count(DELAYED_NOTE) == 1


@pytest.mark.ib_sim(symbols=["AAPL"], market_data="none")
def test_a_login_without_any_market_data_is_told_so(ib_sim, make_broker, client_errors):
    client_errors.allow(354, 201)
    broker, _ = make_broker()
    order = broker.execute_order(buy())
    assert order.status is OrderStatus.REJECTED and "no price known for AAPL" in order.reason
    assert not broker.connection.market_data.delayed  # IB offered no delayed data
    summary = broker.connection.market_data.summary()
    assert summary.startswith("AAPL: no market data, live or delayed (IB error 354")


class Idle(qn.Strategy):
    def on_data(self, ctx, data):
        pass


def test_the_session_status_and_error_log_note_delayed_data(tmp_path, client_errors):
    """IB refuses the engine's history (162): its bars come from delayed ticks, which the status
    says per symbol; a tick request (the snapshot behind an order) gets delayed data too."""
    client_errors.allow(162, 354)
    with GatewaySimulator(symbols=["AAPL", "MSFT"], mode="manual", market_data="delayed") as sim:
        cfg = IBConfig(host=sim.host, port=sim.port, client_id=42, timeout=5)
        eng = LiveStrategyEngine(config=cfg, journal=tmp_path / "j.sqlite")
        eng.add_strategy(Idle())
        eng.start(["AAPL"], lookback_days=0, interval="1m", wait=True)
        try:
            bars_note = (
                "AAPL: no market data permissions for history; bars are built from delayed "
                "ticks (15 min late), no lookback (IB error 162"
            )
            eventually(lambda: (eng.status["market_data"] or "").startswith(bars_note), 10)
            order = eng.broker.execute_order(Order("md-msft", "MSFT", Side.BUY, 1))
            eventually(lambda: order.status is OrderStatus.FILLED, 10)
            note = "MSFT: delayed market data (15 min): live data is not subscribed"
            eventually(lambda: eng.status["market_data"].endswith("; " + note), 10)
            assert eng.errors.loc[eng.errors["message"] == note, "kind"].tolist() == ["market_data"]
            sim.step(2)
            eventually(lambda: eng.bars_received >= 1, 10)  # AAPL's bars flow on, from ticks
        finally:
            eng.stop()
