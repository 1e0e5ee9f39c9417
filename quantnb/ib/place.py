"""Send a new order the way the client's ``IB.placeOrder`` does, minus its log line.

``IB.placeOrder`` formats the whole trade into an f-string for an INFO record on every order,
whatever the log level: about half of the client's cost of an order. This does the same steps
(send, then keep the trade live-updated in the client's books) and leaves that text out; the
broker logs each order sent itself.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from quantnb.ib.client import ibapi


def place_new_order(ib: Any, contract: Any, order: Any) -> Any:
    """Send ``order`` (never sent before) and return its client ``Trade``, as ``IB.placeOrder``."""
    wrapper = ib.wrapper
    order_id = order.orderId or ib.client.getReqId()
    key = wrapper.orderKey(wrapper.clientId, order_id, order.permId)
    if key in wrapper.trades:  # a modification: the client's own path
        return ib.placeOrder(contract, order)
    ib.client.placeOrder(order_id, contract, order)
    order.clientId = wrapper.clientId
    order.orderId = order_id
    status = ibapi.OrderStatus(orderId=order_id, status=ibapi.OrderStatus.PendingSubmit)
    now = dt.datetime.now(getattr(wrapper, "defaultTimezone", dt.UTC))
    trade = ibapi.Trade(contract, order, status, [], [ibapi.TradeLogEntry(now, status.status)])
    wrapper.trades[key] = trade
    ib.newOrderEvent.emit(trade)
    return trade
