"""A paper run judged: its result like a backtest's, and the backtest of the same bars beside it.

The session runs on the simulator in manual mode through the real client; the strategy is
deterministic, so the backtest over the journaled bars must make the same decisions.
"""

from __future__ import annotations

import pandas as pd
import pytest

import quantnb as qn
from tests.ib.test_live_engine import Scripted, Sma

pytestmark = [pytest.mark.ib, pytest.mark.timeout(120)]

SYMBOLS = ["AAPL", "MSFT"]
COMMISSION, SLIPPAGE = 0.001, 0.0005  # the session's cost model (the engine's defaults)


@pytest.fixture
def bars():
    return qn.data.sample(SYMBOLS, interval="1m", bars=70, seed=4)


def _paper(strategy, bars, journal, **kw):
    return qn.paper(
        strategy, SYMBOLS, interval="1m", lookback_days=0, journal=journal, gateway="sim",
        update_interval=3600.0, sim={"mode": "manual", "bars": bars}, client_id=31, **kw,
    )  # fmt: skip


def _same_result(a: qn.BacktestResult, b: qn.BacktestResult) -> None:
    pd.testing.assert_frame_equal(a.equity, b.equity)
    pd.testing.assert_frame_equal(a.fills, b.fills)
    pd.testing.assert_frame_equal(a.orders, b.orders)
    pd.testing.assert_frame_equal(a.trades, b.trades)
    pd.testing.assert_series_equal(a.stats, b.stats)


def test_a_paper_run_is_a_result_during_the_run_after_stop_and_from_its_journal(bars, tmp_path):
    path = tmp_path / "run.sqlite"
    live = _paper(Sma(fast=3, slow=8, qty=10), bars, path)
    live.start(wait=True)
    live.step(30)
    engine = live.engine

    during = live.result()
    assert len(during.equity) == engine.groups_processed == 30
    assert during.equity.index[-1] == engine.last_bar_time
    pd.testing.assert_frame_equal(during.fills, live.fills.reset_index(drop=True))
    assert len(during.fills) >= 4  # the SMA crossed a few times
    account = live.account.drop_duplicates("time").set_index("time")["equity"]
    assert list(during.equity["equity"]) == list(account.loc[during.equity.index])
    assert during.initial_cash == during.equity["equity"].iloc[0]
    stats = during.stats
    assert stats["Trades"] == len(during.trades) >= 1
    assert stats["Final equity"] == during.equity["equity"].iloc[-1]
    assert stats["Commissions"] == pytest.approx(live.fills["commission"].sum())
    assert stats["Start"] == during.equity.index[0] and stats["End"] == engine.last_bar_time
    assert set(during.prices) == set(SYMBOLS)
    assert "<b>Sma</b>" in during._repr_html_()

    live.step(10)
    live.stop()
    after = live.result()
    assert len(after.equity) == 40 and len(after.fills) == len(live.fills) >= len(during.fills)
    pd.testing.assert_frame_equal(after.equity.iloc[:30], during.equity)

    # after a kernel restart: a new session on the same journal, or the journal file alone
    again = _paper(Sma(fast=3, slow=8, qty=10), bars, path)
    _same_result(again.result(), after)
    _same_result(qn.paper_result(path), after)


def test_compare_finds_no_differing_decision_and_checks_the_fill_costs(bars, tmp_path):
    live = _paper(Sma(fast=3, slow=8, qty=10), bars, tmp_path / "run.sqlite")
    live.start(wait=True)
    live.step(40)
    live.stop()
    cmp = live.compare()

    assert len(cmp.differences) == 0
    assert len(cmp.decisions) == len(live.orders) >= 4
    assert (cmp.decisions["live_qty"] == cmp.decisions["backtest_qty"]).all()
    assert cmp.summary["Differing decisions"] == 0
    assert cmp.summary["Fills compared"] == len(live.fills)

    # one fill by hand: the backtest fills the order of bar t at bar t+1's open, slipped by
    # the rate (within the bar's range), and charges the rate's commission (at least $1)
    row = cmp.fills.iloc[0]
    order = live.orders.set_index("order_id").loc[row["order_id"]]
    frame = bars[row["symbol"]]
    nxt = frame.iloc[frame.index.get_loc(order["created"]) + 1]
    sign = 1 if row["side"] == "BUY" else -1
    model = min(max(nxt["open"] * (1 + sign * SLIPPAGE), nxt["low"]), nxt["high"])
    assert row["reference"] == pytest.approx(nxt["open"])
    assert row["model_price"] == pytest.approx(model)
    assert row["slippage"] == pytest.approx(sign * (row["price"] - nxt["open"]))
    assert row["model_slippage"] == pytest.approx(sign * (model - nxt["open"]))
    assert row["slippage_bps"] == pytest.approx(row["slippage"] / nxt["open"] * 1e4)
    assert row["model_commission"] == pytest.approx(max(1.0, COMMISSION * row["qty"] * model))
    fill = live.fills.iloc[0]
    assert row["commission"] == fill["commission"] and row["price"] == fill["price"]
    assert row["extra_cost"] == pytest.approx(
        sign * (row["price"] - model) * row["qty"] + row["commission"] - row["model_commission"]
    )
    assert cmp.summary["Commission realized"] == pytest.approx(live.fills["commission"].sum())

    # the drift: live P&L from the account snapshots, the backtest's from its equity
    res = live.result()
    assert list(cmp.drift.index) == list(res.equity.index)
    assert cmp.drift["live_pnl"].iloc[-1] == pytest.approx(
        res.equity["equity"].iloc[-1] - res.initial_cash
    )
    bt_final = cmp.backtest.equity["equity"].loc[res.equity.index[-1]]
    assert cmp.drift["backtest_pnl"].iloc[-1] == pytest.approx(bt_final - res.initial_cash)
    assert cmp.summary["P&L drift"] == pytest.approx(
        cmp.drift["live_pnl"].iloc[-1] - cmp.drift["backtest_pnl"].iloc[-1]
    )
    assert "Every decision is the same" in cmp._repr_html_()
    fig = cmp.plot()
    assert len(fig.axes) == 3


def test_an_order_rejected_only_live_shows_as_a_differing_decision(bars, tmp_path, client_errors):
    client_errors.allow(201)

    def buy(ctx):
        ctx.buy("AAPL", 10)

    def close(ctx):
        ctx.close("AAPL")  # nothing to close live: the buy was rejected

    strat = Scripted({2: buy, 5: close})
    live = _paper(strat, bars, tmp_path / "run.sqlite")
    live.start(wait=True)
    live.step(2)
    live.sim.reject_next_orders(1, "no trading permissions")
    live.step(6)
    live.stop()
    times = [t for t, _ in strat.seen]
    cmp = live.compare()

    diff = cmp.differences
    assert list(diff["time"]) == [times[2], times[5]]
    assert list(diff["difference"]) == ["filled", "backtest only"]
    first = diff.iloc[0]
    assert (first["symbol"], first["side"], first["live_qty"], first["backtest_qty"]) == (
        "AAPL", "BUY", 10.0, 10.0,
    )  # fmt: skip
    assert (first["live_status"], first["live_filled"]) == ("rejected", 0.0)
    assert (first["backtest_status"], first["backtest_filled"]) == ("filled", 10.0)
    assert diff.iloc[1]["side"] == "SELL" and pd.isna(diff.iloc[1]["live_qty"])
    assert cmp.summary["Differing decisions"] == 2
    assert "2 differing decisions" in cmp._repr_html_()
