"""Judging a paper run: the comparison logic on hand-made frames, the journaled bars, and the
replay of a strategy on exactly the bars a run handed it."""

from __future__ import annotations

import math
import sqlite3

import numpy as np
import pandas as pd
import pytest

import quantnb as qn
from quantnb.domain.costs import CostModel
from quantnb.errors import ConfigError, JournalError
from quantnb.trading.bar_log import replay_bars
from quantnb.trading.journal import Journal
from quantnb.trading.judge import (
    DECISION_COLUMNS,
    fill_costs,
    match_decisions,
    pnl_drift,
    summarize,
)
from quantnb.trading.replay import fresh_copy, replay_backtest
from quantnb.trading.result import paper_result

T0 = pd.Timestamp("2024-01-03 15:00", tz="UTC")
MIN = pd.Timedelta(minutes=1)


def _orders(*rows) -> pd.DataFrame:
    """(order_id, minute, symbol, side, qty, status, filled) rows as an orders frame."""
    return pd.DataFrame(
        [
            {"order_id": oid, "created": T0 + m * MIN, "symbol": sym, "side": side, "qty": qty,
             "status": status, "filled": filled}
            for oid, m, sym, side, qty, status, filled in rows
        ]
    )  # fmt: skip


def _fills(*rows) -> pd.DataFrame:
    """(order_id, minute, side, qty, price, commission, slippage) rows as a fills frame."""
    return pd.DataFrame(
        [
            {"time": T0 + m * MIN, "order_id": oid, "symbol": "AAPL", "side": side, "qty": qty,
             "price": price, "commission": comm, "slippage": slip}
            for oid, m, side, qty, price, comm, slip in rows
        ]
    )  # fmt: skip


def test_decisions_pair_by_bar_symbol_and_side_and_name_what_differs():
    live = _orders(
        ("L1", 1, "AAPL", "BUY", 10, "filled", 10),
        ("L2", 3, "AAPL", "SELL", 10, "filled", 10),
        ("L3", 3, "AAPL", "SELL", 5, "filled", 5),  # a second order on the same key
        ("L4", 5, "MSFT", "BUY", 7, "filled", 7),
        ("L5", 6, "AAPL", "BUY", 4, "rejected", 0),
        ("L6", 8, "AAPL", "BUY", 4, "submitted", 0),  # still working at the end
        ("L7", 9, "MSFT", "BUY", 1, "filled", 1),
    )
    backtest = _orders(
        ("1", 1, "AAPL", "BUY", 10, "filled", 10),
        ("2", 3, "AAPL", "SELL", 10, "filled", 10),
        ("3", 3, "AAPL", "SELL", 5, "filled", 5),
        ("4", 5, "MSFT", "BUY", 8, "filled", 8),
        ("5", 6, "AAPL", "BUY", 4, "filled", 4),
        ("6", 8, "AAPL", "BUY", 4, "filled", 4),
        ("7", 9, "MSFT", "SELL", 1, "filled", 1),
    )
    d = match_decisions(live, backtest)
    assert list(d.columns) == DECISION_COLUMNS
    by_live = d.dropna(subset=["live_order_id"]).set_index("live_order_id")["difference"]
    by_live = by_live.to_dict()
    assert by_live == {
        "L1": "", "L2": "", "L3": "", "L4": "qty", "L5": "filled", "L6": "",
        "L7": "live only",
    }  # fmt: skip
    pairs = d.dropna(subset=["live_order_id", "backtest_order_id"])
    assert dict(zip(pairs["live_order_id"], pairs["backtest_order_id"], strict=True))["L3"] == "3"
    only = d[d["difference"] == "backtest only"]
    assert list(only["backtest_order_id"]) == ["7"] and only["live_qty"].isna().all()
    assert list(d["time"]) == sorted(d["time"])


def test_no_orders_on_either_side_is_no_difference():
    empty = _orders().reindex(
        columns=["order_id", "created", "symbol", "side", "qty", "status", "filled"]
    )
    d = match_decisions(empty, empty)
    assert len(d) == 0 and list(d.columns) == DECISION_COLUMNS


def test_fill_costs_against_the_backtest_fill_of_the_same_decision():
    decisions = match_decisions(
        _orders(("L1", 1, "AAPL", "BUY", 10, "filled", 10),
                ("L2", 4, "AAPL", "SELL", 10, "filled", 10),
                ("L3", 6, "AAPL", "BUY", 3, "filled", 3)),
        _orders(("1", 1, "AAPL", "BUY", 10, "filled", 10),
                ("2", 4, "AAPL", "SELL", 10, "filled", 10)),
    )  # fmt: skip
    live = _fills(
        ("L1", 2, "BUY", 6, 100.30, 0.60, 0.0),  # two partial fills live
        ("L1", 2, "BUY", 4, 100.40, 0.40, 0.0),
        ("L2", 5, "SELL", 10, 101.80, 1.02, 0.0),
        ("L3", 7, "BUY", 3, 99.0, 1.0, 0.0),  # no backtest decision
    )
    # backtest: bought 10 at 100.05 (open 100.00 + 0.05 slippage per share, 0.50 in all),
    # sold 10 at 101.95 (open 102.00 − 0.05)
    backtest = _fills(("1", 2, "BUY", 10, 100.05, 1.0005, 0.5),
                      ("2", 5, "SELL", 10, 101.95, 1.0195, 0.5))  # fmt: skip
    c = fill_costs(live, backtest, decisions)
    first, second, sell, lone = (c.iloc[i] for i in range(4))
    assert first["reference"] == pytest.approx(100.0) and first["model_price"] == 100.05
    assert first["slippage"] == pytest.approx(0.30)
    assert first["model_slippage"] == pytest.approx(0.05)
    assert first["slippage_bps"] == pytest.approx(30.0)
    assert first["model_slippage_bps"] == pytest.approx(5.0)
    assert first["model_commission"] == pytest.approx(1.0005 * 6 / 10)
    assert first["extra_cost"] == pytest.approx(0.25 * 6 + 0.60 - 0.6003)
    assert second["slippage"] == pytest.approx(0.40)
    assert second["model_commission"] == pytest.approx(1.0005 * 4 / 10)
    assert sell["reference"] == pytest.approx(102.0)
    assert sell["slippage"] == pytest.approx(0.20)  # sold 0.20 below the open: adverse
    assert sell["model_slippage"] == pytest.approx(0.05)
    assert sell["extra_cost"] == pytest.approx(0.15 * 10 + 1.02 - 1.0195)
    assert math.isnan(lone["model_price"]) and math.isnan(lone["extra_cost"])

    drift = pnl_drift(
        pd.Series([1000.0, 1010.0, 1005.0], index=[T0, T0 + MIN, T0 + 2 * MIN]),
        pd.Series([500.0, 500.0, 512.0, 508.0], index=[T0 - MIN, T0, T0 + MIN, T0 + 2 * MIN]),
        1000.0,
        500.0,
    )
    assert list(drift["live_pnl"]) == [0.0, 10.0, 5.0]
    assert list(drift["backtest_pnl"]) == [0.0, 12.0, 8.0]
    assert list(drift["drift"]) == [0.0, -2.0, -3.0]

    s = summarize(decisions, c, drift)
    assert s["Decisions live"] == 3 and s["Decisions backtest"] == 2
    assert s["Differing decisions"] == 1 and s["Fills compared"] == 3
    assert s["Slippage realized"] == pytest.approx(0.30 * 6 + 0.40 * 4 + 0.20 * 10)
    assert s["Slippage modelled"] == pytest.approx(0.05 * 20)
    notional = 100.0 * 10 + 102.0 * 10
    assert s["Slippage realized [bps]"] == pytest.approx(5.4 / notional * 1e4)
    assert s["Commission realized"] == pytest.approx(2.02)
    assert s["Commission modelled"] == pytest.approx(1.0005 + 1.0195)
    assert s["P&L drift"] == -3.0 and s["P&L live"] == 5.0 and s["P&L backtest"] == 8.0


def _bar_rows(symbol, minutes, kind, price=100.0):
    return [
        (T0 + m * MIN, symbol, price + m, price + m + 1, price + m - 1, price + m + 0.5, 10.0, kind)
        for m in minutes
    ]


def test_journaled_bars_replay_as_frames_and_the_groups_on_data_saw(tmp_path):
    j = Journal(tmp_path / "j.sqlite", run_id="r")
    j.record_bars(_bar_rows("AAPL", range(0, 3), "history") + _bar_rows("MSFT", [2], "history"))
    j.record_bars(_bar_rows("AAPL", [3], "live") + _bar_rows("MSFT", [3], "live"))
    j.record_bars(_bar_rows("AAPL", [4], "live"))
    j.record_bars(_bar_rows("AAPL", range(0, 5), "history"))  # a restart's history: no repeat
    replay = replay_bars(j.bars())
    assert len(j.bars()) == 4 + 3 + 2
    assert list(replay.frames["AAPL"].index) == [T0 + m * MIN for m in range(5)]
    assert list(replay.frames["AAPL"].columns) == ["open", "high", "low", "close", "volume"]
    assert replay.frames["AAPL"]["close"].iloc[-1] == 104.5
    assert list(replay.frames["MSFT"].index) == [T0 + 2 * MIN, T0 + 3 * MIN]
    assert replay.groups == {T0 + 3 * MIN: ("AAPL", "MSFT"), T0 + 4 * MIN: ("AAPL",)}
    with pytest.raises(sqlite3.IntegrityError):  # the journal stays append-only
        sqlite3.connect(j.path).execute("DELETE FROM bars")


def test_a_journal_written_before_bars_were_journaled_still_reads(tmp_path):
    path = tmp_path / "old.sqlite"
    con = sqlite3.connect(path)  # the equity and runs tables as they were, nothing else
    con.executescript(
        "CREATE TABLE runs (seq INTEGER PRIMARY KEY AUTOINCREMENT, run_id TEXT NOT NULL, "
        "recorded TEXT NOT NULL, meta TEXT NOT NULL);"
        "CREATE TABLE equity (seq INTEGER PRIMARY KEY AUTOINCREMENT, run_id TEXT NOT NULL, "
        "recorded TEXT NOT NULL, time, equity, cash, realized_pnl, unrealized_pnl, commissions);"
        "INSERT INTO runs (run_id, recorded, meta) VALUES ('r', '2024-01-03T15:00:00+00:00', "
        '\'{"interval": "1m", "params": {"n": 2}, "strategy": "Old"}\');'
    )
    for m, eq in [(0, 1000.0), (1, 1010.0), (1, 1012.0), (2, 990.0)]:
        con.execute(
            "INSERT INTO equity (run_id, recorded, time, equity, cash, realized_pnl, "
            "unrealized_pnl, commissions) VALUES ('r', '2024', ?, ?, ?, 0, 0, 0)",
            ((T0 + m * MIN).isoformat(), eq, eq),
        )
    con.commit()
    con.close()
    res = qn.paper_result(path)
    assert list(res.equity["equity"]) == [1000.0, 1010.0, 990.0]  # the first snapshot per time
    assert res.strategy == "Old" and res.params == {"n": 2} and res.interval == "1m"
    assert res.initial_cash == 1000.0 and res.prices == {} and len(res.fills) == 0
    assert res.stats["Total return [%]"] == pytest.approx(-1.0)
    assert len(Journal(path).bars()) == 0
    with pytest.raises(JournalError, match="no journal at"):
        paper_result(tmp_path / "missing.sqlite")


class Counter(qn.Strategy):
    """Buys on its 2nd on_data call and sells on its 4th; keeps what it saw."""

    def __init__(self, qty: int = 5, *, tag: str = "x") -> None:
        self.qty, self.tag = qty, tag

    def initialize(self, ctx):
        self.calls = []

    def on_data(self, ctx, data):
        self.calls.append((ctx.now, tuple(data), len(ctx.history("AAPL", 100))))
        if len(self.calls) == 2:
            ctx.buy("AAPL", self.qty)
        elif len(self.calls) == 4:
            ctx.close("AAPL")


def test_the_replay_decides_only_on_the_bars_the_run_handed_on_data(tmp_path):
    j = Journal(tmp_path / "j.sqlite", run_id="r")
    j.record_bars(_bar_rows("AAPL", range(5), "history") + _bar_rows("MSFT", range(5), "history"))
    j.record_bars(_bar_rows("AAPL", range(5, 9), "live") + _bar_rows("MSFT", [5, 7], "live"))
    j.record_bars(_bar_rows("AAPL", [9], "history"))  # seen, never handed to on_data
    strat = Counter(qty=5)
    res = replay_backtest(strat, replay_bars(j.bars()), cash=10_000.0,
                          costs=CostModel.from_args(0.0, 0.0), interval="1m")  # fmt: skip
    assert [c[:2] for c in strat.calls] == [
        (T0 + 5 * MIN, ("AAPL", "MSFT")), (T0 + 6 * MIN, ("AAPL",)),
        (T0 + 7 * MIN, ("AAPL", "MSFT")), (T0 + 8 * MIN, ("AAPL",)),
    ]  # fmt: skip
    assert strat.calls[0][2] == 6  # the history before the first live bar is there
    assert list(res.orders["created"]) == [T0 + 6 * MIN, T0 + 8 * MIN]
    assert list(res.fills["price"]) == [107.0, 109.0]  # the next bar's open
    assert res.strategy == "Counter" and res.params == {"qty": 5, "tag": "x"}
    with pytest.raises(ConfigError, match="no bars the strategy traded on"):
        replay_backtest(strat, replay_bars(j.bars().iloc[:0]), cash=1.0,
                        costs=CostModel(), interval="1m")  # fmt: skip


def test_a_fresh_copy_has_the_same_parameters_and_none_of_the_run_state():
    strat = Counter(qty=7, tag="y")
    strat.calls = ["stale"]
    copy = fresh_copy(strat)
    assert type(copy) is Counter and copy is not strat
    assert (copy.qty, copy.tag) == (7, "y") and not hasattr(copy, "calls")

    class Hidden(qn.Strategy):
        def __init__(self, n):
            self._n = n  # not kept under its argument's name: copied instead
            self.lock = np.zeros(1)

    hidden = Hidden(3)
    again = fresh_copy(hidden)
    assert again._n == 3 and again.lock is not hidden.lock


def test_a_run_with_no_bar_yet_is_an_empty_result(tmp_path):
    j = Journal(tmp_path / "j.sqlite")
    j.record_run("r", strategy="Counter", params={"qty": 5}, interval="1m")
    res = paper_result(j)
    assert len(res.equity) == 0 and len(res.fills) == 0 and len(res.trades) == 0
    assert res.stats["Trades"] == 0 and pd.isna(res.stats["Start"])
    assert "<b>Counter</b>" in res._repr_html_()
