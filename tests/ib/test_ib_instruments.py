"""The IB adapters with futures, FX pairs and an index against the simulator: the contracts they
qualify, the history series they ask for, and orders as IB wants them per kind."""

from __future__ import annotations

import itertools

import pandas as pd
import pytest

from quantnb.domain.instrument import continuous, future, fx, index
from quantnb.domain.model import Order, OrderStatus, OrderType, Side
from quantnb.errors import OrderError
from quantnb.ib import IBConfig, IBConnection, LiveBroker, LiveDataFeed
from quantnb.ib.cache import BarCache
from quantnb.ib.instruments import history_series, ib_contract, order_price, order_quantity
from quantnb.testing import eventually

pytestmark = [
    pytest.mark.ib,
    pytest.mark.timeout(60),
    pytest.mark.ib_sim(futures=["ES", "CL"], fx=["EURUSD"], indices=["SPX"]),
]
_ids = itertools.count(1)
ES = future("ES", "2024-03")


@pytest.fixture
def connection(ib_sim, loop_thread):
    cfg = IBConfig(host=ib_sim.host, port=ib_sim.port, client_id=1, timeout=5)
    conn = IBConnection(cfg, loop_thread, backoff=(0.05, 0.2))
    conn.connect_blocking()
    yield conn
    conn.disconnect_blocking()


@pytest.fixture
def broker(ib_sim, loop_thread):
    """A LiveBroker made before its connection connects, as the live engine makes it."""
    cfg = IBConfig(host=ib_sim.host, port=ib_sim.port, client_id=1, timeout=5)
    conn = IBConnection(cfg, loop_thread, backoff=(0.05, 0.2))
    made = LiveBroker(conn, run_id="run1")
    conn.connect_blocking()
    yield made
    conn.disconnect_blocking()


def _order(symbol, side="BUY", qty=1.0, **kw) -> Order:
    return Order(f"run1-{next(_ids)}", symbol, Side(side), qty, **kw)


def test_contracts_per_kind():
    es = ib_contract(ES)
    assert (es.secType, es.symbol, es.lastTradeDateOrContractMonth) == ("FUT", "ES", "202403")
    assert (es.exchange, es.multiplier, es.tradingClass) == ("CME", "50", "ES")
    assert ib_contract(continuous("ES")).secType == "CONTFUT"
    eur = ib_contract(fx("EURUSD"))
    assert (eur.secType, eur.symbol, eur.currency, eur.exchange) == (
        "CASH", "EUR", "USD", "IDEALPRO",
    )  # fmt: skip
    assert ib_contract(index("SPX")).secType == "IND"
    assert history_series(fx("EURUSD")) == "MIDPOINT"
    assert history_series(ES) == "TRADES"
    assert order_quantity(ES, 2.0) == 2.0
    assert order_quantity(fx("EURUSD"), 25_000) == 25_000.0
    with pytest.raises(OrderError, match="whole number of contracts"):
        order_quantity(ES, 1.5)
    assert order_price(ES, 4700.25) == 4700.25
    with pytest.raises(OrderError, match=r"tick grid.*4700 or 4700\.25"):
        order_price(ES, 4700.10)
    assert order_price(fx("EURUSD"), 1.09505) == 1.09505


def test_history_of_a_future_a_pair_a_continuous_future_and_an_index(ib_sim, connection, tmp_path):
    feed = LiveDataFeed(connection, cache=BarCache(tmp_path / "cache"))
    es = feed.get_historical_data(ES, None, None, "5m")
    assert len(es) > 10 and es.attrs["symbol"] == "ES 2024-03"
    assert ((es[["open", "high", "low", "close"]] / 0.25) % 1 == 0).all().all()
    # an FX pair has no TRADES at IB: the feed asks for MIDPOINT (the simulator refuses TRADES)
    eur = feed.get_historical_data(fx("EURUSD"), None, None, "5m")
    assert len(eur) > 10 and eur["close"].between(1.0, 1.2).all()
    cont = feed.get_historical_data(continuous("ES"), None, None, "1h")
    assert len(cont) > 3 and cont["close"].between(4000, 5500).all()
    spx = feed.get_historical_data(index("SPX"), None, None, "1h")
    assert len(spx) > 3
    # the name keys later calls
    assert feed.get_historical_data("ES 2024-03", None, None, "5m").index.equals(es.index)


def test_streaming_bars_of_a_future(ib_sim, connection, tmp_path):
    feed = LiveDataFeed(connection, cache=BarCache(tmp_path / "cache"))
    got = []
    feed.subscribe([future("CL", "2024-03")], "1m", on_bar=got.append)
    ib_sim.step(2)
    eventually(lambda: len(got) >= 2)
    assert got[-1].symbol == "CL 2024-03" and 50 < got[-1].close < 100
    assert got[-1].time + pd.Timedelta(minutes=1) <= ib_sim.now


def test_futures_and_fx_orders_as_ib_wants_them(ib_sim, broker):
    connection = broker.connection
    connection.contracts.register(ES)
    connection.contracts.register(fx("EURUSD"))
    buy = broker.execute_order(_order("ES 2024-03", qty=2))
    eventually(lambda: buy.status is OrderStatus.FILLED)
    assert ib_sim.positions()["ESH4"] == 2
    # the fill is booked under the instrument's name, not IB's root symbol
    eventually(lambda: broker.portfolio.position("ES 2024-03").qty == 2)
    assert "ES" not in broker.portfolio.positions
    values = ib_sim.account_values()
    assert values["InitMarginReq"] == pytest.approx(2 * 13_200)
    eur = broker.execute_order(_order("EURUSD", qty=20_000))
    eventually(lambda: eur.status is OrderStatus.FILLED)
    assert ib_sim.positions()["EURUSD"] == 20_000


def test_orders_ib_refuses_are_refused_before_they_are_sent(ib_sim, broker):
    connection = broker.connection
    for inst in (ES, index("SPX"), continuous("ES")):
        connection.contracts.register(inst)
    sent = ib_sim.frames_sent()
    with pytest.raises(OrderError, match="tick grid"):
        broker.execute_order(_order("ES 2024-03", type=OrderType.LIMIT, limit=4700.1))
    with pytest.raises(OrderError, match="whole number"):
        broker.execute_order(_order("ES 2024-03", qty=0.5))
    with pytest.raises(OrderError, match="index"):
        broker.execute_order(_order("SPX"))
    with pytest.raises(OrderError, match="continuous"):
        broker.execute_order(_order("ES"))
    assert ib_sim.positions() == {}
    assert ib_sim.frames_sent() == sent  # nothing reached the gateway
