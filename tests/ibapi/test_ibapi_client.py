"""IB's own Python client (``ibapi`` 9.81, server version 157) against the simulator: connect,
contract details, history, market data, orders and executions, with no decoder error."""

from __future__ import annotations

import pytest
from ibapi.execution import ExecutionFilter
from ibapi.order import Order

from tests.ibapi.harness import stock

pytestmark = [pytest.mark.ibapi, pytest.mark.timeout(60)]


def _order(action: str, qty: float, kind: str = "MKT", limit: float | None = None) -> Order:
    order = Order()
    order.action, order.totalQuantity, order.orderType = action, qty, kind
    if limit is not None:
        order.lmtPrice = limit
    order.orderRef = "ibapi-1"
    return order


def test_connects_at_157_with_the_paper_account(ib_sim, ibapi_connect):
    client = ibapi_connect(ib_sim)
    assert client.client.serverVersion() == 157
    assert client.wait_for("managedAccounts") == ("DU1234567",)
    assert client.next_id >= 1
    codes = {args[1] for args in client.all("error")}
    assert {2104, 2106, 2158} <= codes


def test_contract_details_and_an_unknown_contract(ib_sim, ibapi_connect, ibapi_errors):
    ibapi_errors.allow(200)
    client = ibapi_connect(ib_sim)
    client.client.reqContractDetails(11, stock("AAPL"))
    req_id, details = client.wait_for("contractDetails")
    client.wait_for("contractDetailsEnd", lambda r: r == 11)
    assert req_id == 11 and details.contract.conId == 265598
    assert details.contract.primaryExchange == "NASDAQ" and details.minTick == 0.01
    client.client.reqContractDetails(12, stock("NOPE"))
    req_id, _, text = client.wait_for("error", lambda r, c, t: c == 200)
    assert req_id == 12 and "No security definition" in text


def test_history_arrives_bar_by_bar(ib_sim, ibapi_connect):
    client = ibapi_connect(ib_sim)
    client.client.reqHistoricalData(21, stock(), "", "2 D", "1 hour", "TRADES", 1, 1, False, [])
    req_id, _, _ = client.wait_for("historicalDataEnd")
    bars = [bar for r, bar in client.all("historicalData") if r == 21]
    assert req_id == 21 and len(bars) >= 7
    assert all(b.low <= min(b.open, b.close) <= max(b.open, b.close) <= b.high for b in bars)
    assert all(isinstance(b.volume, int) and b.volume > 0 for b in bars)


def test_market_data_streams_on_each_step(ib_sim, ibapi_connect):
    client = ibapi_connect(ib_sim)
    client.client.reqMktData(31, stock(), "", False, False, [])
    client.wait_for("tickPrice", lambda r, t, p, a: r == 31 and t == 4)
    mark = client.mark()
    ib_sim.step()  # a bar played as several slices: the last trade is the bar's close
    last = ib_sim.price("AAPL")
    client.wait_for("tickPrice", lambda r, t, p, a: t == 4 and p == pytest.approx(last), since=mark)
    assert len([a for a in client.all("tickPrice", since=mark) if a[1] == 4]) >= 2
    _, _, volume = client.wait_for("tickSize", lambda r, t, s: t == 8, since=mark)
    assert isinstance(volume, int) and volume > 0
    client.client.cancelMktData(31)


def test_place_modify_and_cancel_a_limit_order(ib_sim, ibapi_connect, ibapi_errors):
    ibapi_errors.allow(202)
    client = ibapi_connect(ib_sim)
    order_id = client.take_id()
    limit = round(ib_sim.price("AAPL") * 0.5, 2)
    client.client.placeOrder(order_id, stock(), _order("BUY", 10, "LMT", limit))
    _, contract, order, state = client.wait_for("openOrder", lambda i, *_: i == order_id)
    assert (contract.conId, order.lmtPrice, order.orderRef) == (265598, limit, "ibapi-1")
    assert state.status in ("PreSubmitted", "Submitted")
    mark = client.mark()
    client.client.placeOrder(order_id, stock(), _order("BUY", 10, "LMT", limit - 1))
    _, _, order, _ = client.wait_for("openOrder", lambda i, *_: i == order_id, since=mark)
    assert order.lmtPrice == pytest.approx(limit - 1)
    client.client.cancelOrder(order_id)
    client.wait_for("orderStatus", lambda i, s, *_: i == order_id and s == "Cancelled")
    client.wait_for("error", lambda r, c, t: r == order_id and c == 202)


def test_a_market_order_fills_and_executions_are_read_back(ib_sim, ibapi_connect):
    client = ibapi_connect(ib_sim)
    order_id = client.take_id()
    client.client.placeOrder(order_id, stock(), _order("BUY", 25))
    client.wait_for("orderStatus", lambda i, s, *_: i == order_id and s == "Filled")
    _, _, live = client.wait_for("execDetails", lambda r, c, e: e.orderId == order_id)
    report = client.wait_for("commissionReport")[0]
    assert live.shares == 25 and live.side == "BOT" and report.execId == live.execId
    mark = client.mark()
    client.client.reqExecutions(41, ExecutionFilter())
    client.wait_for("execDetailsEnd", lambda r: r == 41, since=mark)
    found = [e for r, _, e in client.all("execDetails", since=mark) if r == 41]
    assert [(e.execId, e.shares, e.price) for e in found] == [
        (live.execId, 25, pytest.approx(live.price))
    ]
    client.client.reqPositions()
    account, contract, position, _ = client.wait_for("position")
    assert (account, contract.conId, position) == ("DU1234567", 265598, 25)


def test_two_ibapi_clients_side_by_side(ib_sim, ibapi_connect):
    a = ibapi_connect(ib_sim, client_id=1)
    b = ibapi_connect(ib_sim, client_id=2)
    a.client.reqCurrentTime()
    b.client.reqCurrentTime()
    assert a.wait_for("currentTime")[0] == b.wait_for("currentTime")[0]
    assert ib_sim.connected_clients() == [1, 2]


@pytest.mark.ib_sim(market_data="delayed")  # so that type 3 really gets delayed ticks
def test_account_order_and_lookup_requests_after_a_fill(ib_sim, ibapi_connect, ibapi_errors):
    ibapi_errors.allow(10167)  # "Displaying delayed market data": a notice, not a failure
    client = ibapi_connect(ib_sim)
    order_id = client.take_id()
    client.client.placeOrder(order_id, stock(), _order("BUY", 7))
    client.wait_for("orderStatus", lambda i, s, *_: i == order_id and s == "Filled")
    c = client.client
    c.reqCompletedOrders(True)
    c.reqAccountUpdates(True, "")
    c.reqAccountSummary(51, "All", "NetLiquidation,TotalCashValue")
    c.reqPositionsMulti(52, "DU1234567", "")
    c.reqMatchingSymbols(53, "AAP")
    c.reqHeadTimeStamp(54, stock(), "TRADES", 1, 1)
    c.reqPnL(55, "DU1234567", "")
    c.reqMarketDataType(3)
    c.reqMktData(56, stock(), "", True, False, [])
    client.wait_for("completedOrdersEnd")
    _, order, state = client.wait_for("completedOrder")
    assert (order.totalQuantity, order.orderRef, state.status) == (7, "ibapi-1", "Filled")
    client.wait_for("accountDownloadEnd")
    contract, position, *_ = client.wait_for("updatePortfolio")
    assert (contract.conId, position) == (265598, 7)
    client.wait_for("accountSummaryEnd", lambda r: r == 51)
    tags = {args[2] for args in client.all("accountSummary")}
    assert tags == {"NetLiquidation", "TotalCashValue"}
    client.wait_for("positionMultiEnd", lambda r: r == 52)
    assert client.wait_for("positionMulti")[4] == 7
    (_, samples) = client.wait_for("symbolSamples")
    assert samples[0].contract.symbol == "AAPL"
    assert client.wait_for("headTimestamp")[0] == 54
    assert client.wait_for("pnl")[0] == 55
    client.wait_for("tickSnapshotEnd", lambda r: r == 56)
    assert {args[1] for args in client.all("tickPrice") if args[0] == 56} >= {66, 67, 68}
