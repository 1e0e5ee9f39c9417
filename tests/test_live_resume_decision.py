"""The decision to resume a journal: only a gateway that knows none of its orders and holds
none of its symbols makes a new run."""

from __future__ import annotations

import pandas as pd

from quantnb.domain.model import Order, OrderStatus, OrderType, Side
from quantnb.trading.resume import JournalHoldings, not_resumable


def _order(oid: str, status: OrderStatus) -> Order:
    order = Order(oid, "AAPL", Side.BUY, 5, OrderType.LIMIT, limit=90.0)
    order.status = status
    order.created = pd.Timestamp("2024-01-03 15:00", tz="UTC")
    return order


JOURNAL = JournalHoldings.of(
    [_order("r-1", OrderStatus.FILLED), _order("r-2", OrderStatus.SUBMITTED)], {"AAPL": 10.0}
)


def test_nothing_working_or_held_resumes_anywhere():
    done = JournalHoldings.of([_order("r-1", OrderStatus.FILLED)], {"AAPL": 0.0})
    assert done.working == () and done.held == {}
    assert not_resumable(done, set(), {}) is None


def test_a_gateway_that_knows_an_order_or_holds_a_symbol_resumes():
    assert not_resumable(JOURNAL, {"r-2"}, {}) is None
    assert not_resumable(JOURNAL, {"r-1"}, {}) is None  # an execution of today
    assert not_resumable(JOURNAL, set(), {"AAPL": 3.0}) is None


def test_a_gateway_that_holds_none_of_it_is_named_with_what_the_journal_had():
    why = not_resumable(JOURNAL, {"other-1"}, {"MSFT": 7.0})
    assert why is not None
    assert "1 working order(s) (r-2) and holdings of 10 AAPL" in why
    assert "the gateway holds none of them" in why and "no position in AAPL" in why
