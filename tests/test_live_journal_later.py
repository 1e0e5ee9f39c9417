"""Journal rows queued for the worker thread (``later=True``): written without a read, read
back at once by the journal that queued them, kept by close(), never ahead of a creation."""

from __future__ import annotations

import sqlite3

import pandas as pd

from quantnb.domain.model import Order, OrderStatus, Side
from quantnb.testing import eventually
from quantnb.trading.journal import Journal

T0 = pd.Timestamp("2024-01-02 15:00", tz="UTC")


def _order(n: int) -> Order:
    return Order(id=f"run1-{n}", symbol="AAPL", side=Side.BUY, qty=10, created=T0)


def _bar(minute: int, symbol: str = "AAPL") -> tuple:
    return (T0 + pd.Timedelta(minutes=minute), symbol, 1.0, 2.0, 0.5, 1.5, 100.0, "live")


def _count(path, table: str) -> int:
    con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return con.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0]
    finally:
        con.close()


def test_queued_rows_reach_the_file_without_a_read(tmp_path):
    path = tmp_path / "j.sqlite"
    j = Journal(path, run_id="run1")
    j.record_bars([_bar(0), _bar(1)], later=True)
    j.record_equity(T0, 1000.0, 1000.0, later=True)
    # another connection (a dashboard, another process) sees them once the worker has written
    assert eventually(lambda: _count(path, "bars") == 2 and _count(path, "equity") == 1)
    j.close()


def test_the_journal_that_queued_rows_reads_them_back_at_once(tmp_path):
    j = Journal(tmp_path / "j.sqlite", run_id="run1")
    o = _order(1)
    j.record_order(o, "created")
    o.status = OrderStatus.SUBMITTED
    j.record_order(o, later=True)
    o.status, o.filled, o.avg_price = OrderStatus.FILLED, 10, 99.4
    j.record_order(o, later=True)
    rows = j.orders()
    assert list(rows["event"]) == ["created", "submitted", "filled"]
    assert j.orders(latest=True)["status"].iloc[0] == "filled"
    j.close()


def test_a_creation_is_on_disk_when_record_returns(tmp_path):
    path = tmp_path / "j.sqlite"
    j = Journal(path, run_id="run1")
    j.record_bars([_bar(0)], later=True)
    j.record_orders([_order(1), _order(2)], "created")
    assert _count(path, "orders") == 2  # no read of this journal in between: already written
    j.close()


def test_close_writes_what_is_queued(tmp_path):
    path = tmp_path / "j.sqlite"
    j = Journal(path, run_id="run1")
    for k in range(50):
        j.record_bars([_bar(k, s) for s in ("AAPL", "MSFT")], later=True)
    j.close()
    assert _count(path, "bars") == 100
    assert len(Journal(path).bars()) == 100
