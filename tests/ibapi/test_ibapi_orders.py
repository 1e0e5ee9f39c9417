"""IB's own client against the simulator's order rules: what-if answers, untransmitted orders and
the order of status, execution and commission messages, all at server version 157."""

from __future__ import annotations

import pytest
from ibapi.order import Order

from tests.ibapi.harness import stock

pytestmark = [pytest.mark.ibapi, pytest.mark.timeout(60)]

_ORDER_EVENTS = ("openOrder", "orderStatus", "execDetails", "commissionReport")


def _market(action: str, qty: float, **fields) -> Order:
    order = Order()
    order.action, order.totalQuantity, order.orderType = action, qty, "MKT"
    for name, value in fields.items():
        setattr(order, name, value)
    return order


def _order_events(client, since: int, order_id: int) -> list[str]:
    """The order messages about ``order_id`` (commission reports by execution) in arrival order."""
    exec_ids: set[str] = set()
    out = []
    for name, args in client.wrapper.events[since:]:
        if name not in _ORDER_EVENTS:
            continue
        if name == "execDetails":
            if args[2].orderId != order_id:
                continue
            exec_ids.add(args[2].execId)
            out.append(name)
        elif name == "commissionReport":
            if args[0].execId in exec_ids:
                out.append(name)
        elif args[0] == order_id:
            out.append(f"{name}:{args[-1].status if name == 'openOrder' else args[1]}")
    return out


def test_what_if_answers_margin_and_commission_and_trades_nothing(ib_sim, ibapi_connect):
    client = ibapi_connect(ib_sim)
    order_id = client.take_id()
    mark = client.mark()
    client.client.placeOrder(order_id, stock(), _market("BUY", 100, whatIf=True))
    _, _, order, state = client.wait_for("openOrder", lambda i, *_: i == order_id, since=mark)
    assert order.whatIf
    price = ib_sim.price("AAPL")
    assert float(state.initMarginChange) == pytest.approx(100 * price / 2, rel=0.01)
    assert float(state.equityWithLoanBefore) == pytest.approx(100_000, rel=0.01)
    assert state.commission > 0 and state.commissionCurrency == "USD"
    client.client.reqCurrentTime()
    client.wait_for("currentTime", since=mark)
    assert not client.all("orderStatus", since=mark)
    assert ib_sim.positions() == {}


def test_an_untransmitted_order_waits_for_its_group(ib_sim, ibapi_connect):
    client = ibapi_connect(ib_sim)
    parent_id = client.take_id()
    child_id = client.take_id()
    mark = client.mark()
    client.client.placeOrder(parent_id, stock(), _market("BUY", 10, transmit=False))
    client.client.reqCurrentTime()
    client.wait_for("currentTime", since=mark)
    assert _order_events(client, mark, parent_id) == []
    assert ib_sim.positions() == {}
    stop = _market("SELL", 10, parentId=parent_id, transmit=True)
    stop.orderType, stop.auxPrice = "STP", round(ib_sim.price("AAPL") * 0.5, 2)
    client.client.placeOrder(child_id, stock(), stop)
    client.wait_for("orderStatus", lambda i, s, *_: i == parent_id and s == "Filled", since=mark)
    client.wait_for("openOrder", lambda i, *_: i == child_id, since=mark)
    assert ib_sim.positions() == {"AAPL": 10}


def test_a_market_order_is_submitted_then_executed_then_filled(ib_sim, ibapi_connect):
    client = ibapi_connect(ib_sim)
    order_id = client.take_id()
    mark = client.mark()
    client.client.placeOrder(order_id, stock(), _market("BUY", 5))
    client.wait_for("commissionReport", since=mark)
    client.client.reqCurrentTime()
    client.wait_for("currentTime", since=mark)
    assert _order_events(client, mark, order_id) == [
        "openOrder:Submitted",
        "orderStatus:Submitted",
        "execDetails",
        "orderStatus:Filled",
        "openOrder:Filled",
        "commissionReport",
    ]


def test_gtd_oca_and_adaptive_fields_are_read_at_server_version_157(
    ib_sim, ibapi_connect, ibapi_errors
):
    from ibapi.tag_value import TagValue

    ibapi_errors.allow(201)
    client = ibapi_connect(ib_sim)
    far = round(ib_sim.price("AAPL") * 0.5, 2)
    gtd, oca, algo = (client.take_id() for _ in range(3))
    mark = client.mark()
    past = _market("BUY", 10, orderType="LMT", lmtPrice=far, tif="GTD")
    past.goodTillDate = "20240102 10:00:00 America/New_York"  # before the simulator's start
    client.client.placeOrder(gtd, stock(), past)
    grouped = _market("BUY", 10, orderType="LMT", lmtPrice=far, ocaGroup="g", ocaType=2)
    client.client.placeOrder(oca, stock(), grouped)
    bad_algo = _market("BUY", 10, orderType="STP", auxPrice=far * 4, algoStrategy="Adaptive")
    bad_algo.algoParams = [TagValue("adaptivePriority", "Normal")]
    client.client.placeOrder(algo, stock(), bad_algo)
    client.wait_for("openOrder", lambda i, *_: i == oca, since=mark)
    client.wait_for("error", lambda i, *_: i == algo, since=mark)
    errors = {args[0]: args[2] for args in client.all("error", since=mark)}
    assert "good_till" in errors.get(gtd, "") and "Adaptive" in errors.get(algo, "")
    assert oca not in errors
