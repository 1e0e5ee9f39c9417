"""How the live engine files broker errors: the order they name, without a socket."""

from __future__ import annotations

import pandas as pd

from quantnb.domain.accounting import Portfolio
from quantnb.domain.model import Order, OrderStatus, Side
from quantnb.errors import OrderError
from quantnb.ib.config import IBConfig
from quantnb.trading import LiveStrategyEngine


class StubBroker:
    """Only what the engine's error handler reads: the orders by id."""

    def __init__(self, *orders: Order) -> None:
        self.portfolio = Portfolio(10_000.0)
        self.orders = {o.id: o for o in orders}


def _engine(tmp_path, *orders: Order) -> LiveStrategyEngine:
    eng = LiveStrategyEngine(config=IBConfig(port=4999, client_id=77), journal=tmp_path / "j.db")
    eng._open_journal()
    eng.broker = StubBroker(*orders)
    return eng


def test_order_error_carries_the_order_id_and_keeps_its_message():
    err = OrderError("IB error 201: no permissions", order_id="run-3")
    assert err.order_id == "run-3" and str(err) == "IB error 201: no permissions"
    assert OrderError("order run-4: bad").order_id is None
    assert isinstance(err, ValueError)


def test_broker_errors_are_filed_under_the_order_they_carry(tmp_path):
    order = Order("run-3", "AAPL", Side.BUY, 5, status=OrderStatus.REJECTED)
    eng = _engine(tmp_path, order)
    eng._on_broker_error(OrderError("rejected: no trading permissions", order_id="run-3"))
    eng._on_broker_error(OrderError("order run-9: quantity must be positive"))  # named in text
    eng._on_broker_error(RuntimeError("the socket hiccupped"))
    errors = eng.errors
    assert list(errors["order_id"].fillna("-")) == ["run-3", "run-9", "-"]
    assert list(errors["kind"]) == ["order", "order", "broker"]
    assert list(eng.orders["order_id"]) == ["run-3"]  # the known order's state is journaled
    assert eng.journal is not None
    eng.journal.close()
    assert errors["time"].notna().all() and str(errors["time"].dt.tz) == "UTC"
    assert (errors["time"] <= pd.Timestamp.now(tz="UTC")).all()
