"""The live journal: append-only rows, fills once per exec id, readable elsewhere, resumable."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import threading

import pandas as pd
import pytest

from quantnb.domain.model import Fill, Order, OrderStatus, OrderType, Side, TimeInForce
from quantnb.errors import JournalError
from quantnb.trading.journal import Journal, default_path

T0 = pd.Timestamp("2024-01-02 15:00", tz="UTC")


def _order(n: int, run: str = "run1", **kw) -> Order:
    return Order(id=f"{run}-{n}", symbol="AAPL", side=Side.BUY, qty=10, created=T0, **kw)


def _fill(exec_id: str, order_id: str = "run1-1", qty: float = 10) -> Fill:
    return Fill(order_id, "AAPL", Side.BUY, qty, 100.5, 1.0, T0, exec_id=exec_id, source="ib")


def test_every_order_state_change_is_a_new_row(tmp_path):
    j = Journal(tmp_path / "j.sqlite")
    j.record_run("run1", strategy="Sma", account="DU***1234")
    o = _order(1, type=OrderType.LIMIT, limit=99.5)
    j.record_order(o, "created")
    o.status = OrderStatus.SUBMITTED
    j.record_order(o)
    o.status, o.filled, o.avg_price = OrderStatus.FILLED, 10, 99.4
    j.record_order(o)
    rows = j.orders()
    assert list(rows["status"]) == ["pending", "submitted", "filled"]
    assert list(rows["event"]) == ["created", "submitted", "filled"]
    assert rows["limit"].iloc[0] == 99.5
    latest = j.orders(latest=True)
    assert len(latest) == 1 and latest["status"].iloc[0] == "filled"
    assert str(rows["created"].dt.tz) == "UTC"


def test_fill_with_a_known_exec_id_is_ignored(tmp_path):
    j = Journal(tmp_path / "j.sqlite", run_id="run1")
    assert j.record_fill(_fill("e1"))
    assert not j.record_fill(_fill("e1"))
    assert j.record_fill(_fill("e2", qty=5))
    fills = j.fills()
    assert list(fills["exec_id"]) == ["e1", "e2"]
    assert list(fills["qty"]) == [10, 5]
    assert j.counts.fills == 2 and j.counts.ignored_fills == 1


def test_a_fill_without_exec_id_is_refused(tmp_path):
    j = Journal(tmp_path / "j.sqlite")
    with pytest.raises(JournalError, match="exec_id"):
        j.record_fill(_fill(""))


def test_tables_are_append_only(tmp_path):
    path = tmp_path / "j.sqlite"
    j = Journal(path, run_id="r")
    j.record_fill(_fill("e1"))
    con = sqlite3.connect(path)
    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        con.execute("UPDATE fills SET qty = 1")
    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        con.execute("DELETE FROM fills")
    con.close()


def test_errors_and_equity_frames(tmp_path):
    j = Journal(tmp_path / "j.sqlite", run_id="r")
    j.record_error("strategy", "ZeroDivisionError: boom", detail="Traceback ...", time=T0)
    j.record_error("gateway", "No security definition", code=200, symbol="NOPE")
    j.record_equity(T0, 100_000.0, 90_000.0, realized_pnl=5.0, unrealized_pnl=-2.0)
    errors = j.errors()
    assert list(errors["kind"]) == ["strategy", "gateway"]
    assert errors["code"].iloc[1] == 200 and errors["symbol"].iloc[1] == "NOPE"
    assert errors["time"].iloc[0] == T0
    eq = j.equity()
    assert eq["equity"].iloc[0] == 100_000.0 and eq["unrealized_pnl"].iloc[0] == -2.0


def test_last_state_gives_latest_orders_exec_ids_run_and_sequence(tmp_path):
    j = Journal(tmp_path / "j.sqlite")
    j.record_run("run1")
    a, b = _order(1), _order(2, type=OrderType.STOP, stop=90.0)
    for o in (a, b):
        j.record_order(o, "created")
    a.status, a.filled = OrderStatus.FILLED, 10
    j.record_order(a)
    j.record_fill(_fill("e1"))
    j.close()
    state = Journal(tmp_path / "j.sqlite").last_state()
    orders, exec_ids, run_id, seq = state
    assert run_id == "run1" and seq == 2 and exec_ids == {"e1"}
    by_id = {o.id: o for o in orders}
    assert by_id["run1-1"].status is OrderStatus.FILLED and by_id["run1-1"].filled == 10
    assert by_id["run1-2"].status is OrderStatus.PENDING and by_id["run1-2"].stop == 90.0
    assert by_id["run1-2"].limit is None and by_id["run1-2"].created == T0


def test_empty_journal_state(tmp_path):
    state = Journal(tmp_path / "j.sqlite").last_state()
    assert state.orders == [] and state.exec_ids == set() and state.run_id is None
    assert state.order_seq == 0


def test_readable_from_another_thread_while_written(tmp_path):
    j = Journal(tmp_path / "j.sqlite", run_id="r")
    stop = threading.Event()

    def writer():
        n = 0
        while not stop.is_set() and n < 2000:
            n += 1
            j.record_fill(_fill(f"e{n}"))

    t = threading.Thread(target=writer)
    t.start()
    try:
        seen = [len(j.fills()) for _ in range(5)]
    finally:
        stop.set()
        t.join()
    assert seen == sorted(seen)
    assert len(j.fills()) == j.counts.fills


def test_readable_from_another_process(tmp_path):
    path = tmp_path / "j.sqlite"
    j = Journal(path, run_id="r")
    j.record_fill(_fill("e1"))
    code = (
        "from quantnb.trading.journal import Journal; import sys; "
        f"print(len(Journal({str(path)!r}).fills()))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "1"


def test_default_path_and_bad_path(tmp_path):
    assert default_path("abc").as_posix() == "quantnb_journal/abc.sqlite"
    assert default_path("abc", tmp_path) == tmp_path / "abc.sqlite"
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(JournalError, match="cannot open"):
        Journal(blocker / "sub" / "j.sqlite")


def test_writing_after_close_is_an_error(tmp_path):
    j = Journal(tmp_path / "j.sqlite", run_id="r")
    j.close()
    assert j.closed
    with pytest.raises(JournalError, match="closed"):
        j.record_error("x", "y")
    assert len(j.errors()) == 0


def test_a_commission_report_replaces_the_estimate_in_the_fills_table(tmp_path):
    j = Journal(tmp_path / "j.sqlite", run_id="run1")
    j.record_fill(_fill("e1"))
    j.record_fill(_fill("e2"))
    j.record_commission("e1", 0.35, 1.0)
    assert list(j.fills()["commission"]) == [0.35, 1.0]
    (row,) = j.commissions().itertuples()
    assert (row.exec_id, row.commission, row.estimate) == ("e1", 0.35, 1.0)
    assert j.counts.corrections == 1


def test_a_ledger_comes_back_from_its_journal_with_cuts_and_real_commissions(tmp_path):
    from quantnb.trading.ledger import Ledger

    j = Journal(tmp_path / "j.sqlite", run_id="run1")
    j.record_order(_order(1), "created")
    j.record_fill(_fill("e1"))  # ours: 10 bought
    j.record_fill(_fill("e2", order_id="other-7", qty=4))  # another session's
    j.record_commission("e1", 0.35, 1.0)
    j.record_holding("AAPL", 10, 6, "outside change: sold in TWS", T0)
    ledger = Ledger.from_journal(j)
    pos = ledger.position("AAPL")
    assert pos.qty == 6 and pos.avg_price == pytest.approx(100.5)
    assert ledger.portfolio.commissions == pytest.approx(0.35)
    assert ledger.exec_ids == {"e1"}
    assert list(j.holdings()["reason"]) == ["outside change: sold in TWS"]
    con = sqlite3.connect(j.path)
    for table in ("commissions", "holdings"):
        with pytest.raises(sqlite3.DatabaseError, match="append-only"):
            con.execute(f"DELETE FROM {table}")
    con.close()


def test_a_holding_is_cut_only_when_the_account_holds_less():
    from quantnb.trading.ledger import Ledger

    ledger = Ledger()
    ledger.apply(_fill("e1"))
    assert not ledger.apply(_fill("e1"))  # once
    assert ledger.fit("AAPL", 25) is None and ledger.position("AAPL").qty == 10
    cut = ledger.fit("AAPL", 4)
    assert (cut.before, cut.after) == (10, 4) and ledger.position("AAPL").qty == 4
    assert ledger.fit("AAPL", -3).after == 0 and not ledger.open_positions()
    short = Ledger()
    short.apply(Fill("s-1", "MSFT", Side.SELL, 10, 50.0, 1.0, T0, exec_id="s1"))
    assert short.fit("MSFT", -12) is None
    assert short.fit("MSFT", -4).after == -4


def test_ib_order_fields_come_back_from_the_journal(tmp_path):
    j = Journal(tmp_path / "j.sqlite", run_id="run1")
    until = pd.Timestamp("2024-01-03 15:30", tz="America/New_York").tz_convert("UTC")
    gtd = _order(1, type=OrderType.LIMIT, limit=99.5, good_till=until, oca_group="pair",
                 oca_type=2, outside_rth=True)  # fmt: skip
    algo = _order(2, type=OrderType.LIMIT, limit=98.0, algo="Adaptive", algo_priority="Urgent")
    j.record_orders([gtd, algo])
    back = {o.id: o for o in j.last_state().orders}
    assert back["run1-1"].good_till == until
    assert (back["run1-1"].oca_group, back["run1-1"].oca_type) == ("pair", 2)
    assert back["run1-1"].outside_rth is True and back["run1-2"].outside_rth is False
    assert (back["run1-2"].algo, back["run1-2"].algo_priority) == ("Adaptive", "Urgent")
    assert back["run1-2"].good_till is None and back["run1-2"].oca_type == 1


def test_a_journal_written_before_the_ib_order_fields_opens_and_resumes(tmp_path):
    path = tmp_path / "old.sqlite"
    j = Journal(path, run_id="run1")
    j.record_order(_order(1))
    j.close()
    con = sqlite3.connect(path)  # as an older version wrote it: without the five columns
    con.executescript(
        "DROP TRIGGER orders_no_update; DROP TRIGGER orders_no_delete; "
        "ALTER TABLE orders DROP COLUMN good_till; ALTER TABLE orders DROP COLUMN oca_type; "
        "ALTER TABLE orders DROP COLUMN algo; ALTER TABLE orders DROP COLUMN algo_priority; "
        "ALTER TABLE orders DROP COLUMN outside_rth;"
    )
    con.close()
    j = Journal(path, run_id="run1")
    (old,) = j.last_state().orders
    assert old.good_till is None and old.oca_type == 1 and not old.algo
    j.record_order(_order(2, good_till=T0, tif=TimeInForce.GTD))
    assert j.last_state().orders[-1].good_till == T0
