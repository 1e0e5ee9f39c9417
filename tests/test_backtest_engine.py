"""The backtest loop: timing of fills (no look-ahead), order types, brackets, costs, rejections."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import quantnb as qn
from quantnb.errors import ConfigError, LookAheadError, OrderError
from tests.helpers import Scripted, bars_from, flat

NO_COST = {"commission": 0.0, "slippage": 0.0}

ROWS = [
    (100, 101, 99, 100),
    (101, 103, 100, 102),  # bar 1
    (102, 106, 101, 105),  # bar 2
    (104, 105, 96, 97),  # bar 3
    (95, 98, 94, 96),  # bar 4: gaps down
    (96, 100, 95, 99),  # bar 5
]


def run(script, rows=ROWS, **kw):
    strat = Scripted(script)
    kw = {**NO_COST, **kw}
    res = qn.backtest(strat, bars_from(rows), progress=False, **kw)
    return strat, res


def test_market_order_fills_at_next_open_never_the_same_bar():
    strat, res = run({0: lambda c: c.buy("X", 10)})
    f = res.fills.iloc[0]
    assert f.price == 101 and f.time == strat.seen[1][0]
    assert strat.fills[0][0] == strat.seen[1][0]


def test_limit_stop_and_gap_rules_through_the_engine():
    _strat, res = run(
        {
            0: lambda c: c.buy("X", 10, limit=100.5, tif="GTC"),  # bar1 low 100 -> 100.5
            2: lambda c: c.sell("X", 10, stop=97.5, tif="GTC"),  # bar3 low 96 -> 97.5
        }
    )
    assert list(res.fills.price) == [100.5, 97.5]


def test_stop_gap_fills_at_the_open():
    _strat, res = run({0: lambda c: c.buy("X", 10), 3: lambda c: c.sell("X", 10, stop=96.5)})
    assert list(res.fills.price) == [101, 95]  # bar 4 opened at 95, through the 96.5 stop


def test_day_order_expires_after_its_session_gtc_stays():
    _strat, res = run(
        {0: lambda c: c.buy("X", 1, limit=90), 1: lambda c: c.buy("X", 1, limit=94.5, tif="GTC")}
    )
    orders = res.orders.set_index("order_id")
    assert orders.loc["1", "status"] == "expired"
    assert orders.loc["2", "status"] == "filled"  # bar 4's low 94 reached it later


def test_bracket_take_profit_and_oco_cancel():
    _strat, res = run({0: lambda c: c.bracket("X", 10, take_profit=104, stop_loss=90)})
    assert list(res.fills.side) == ["BUY", "SELL"]
    assert list(res.fills.price) == [101, 104]
    st = res.orders.set_index("order_id").status
    assert st["2"] == "filled" and st["3"] == "cancelled"


def test_bracket_both_touched_in_one_bar_takes_the_stop():
    rows = [(100, 101, 99, 100), (100, 101, 99, 100), (100, 110, 90, 100), (100, 101, 99, 100)]
    _strat, res = run({0: lambda c: c.bracket("X", 10, take_profit=105, stop_loss=95)}, rows=rows)
    assert list(res.fills.price) == [100, 95]


def test_trailing_stop_percent():
    rows = [(100, 100, 100, 100), (100, 110, 100, 110), (110, 120, 110, 120), (119, 119, 100, 101)]
    _strat, res = run(
        {0: lambda c: c.buy("X", 1), 1: lambda c: c.sell("X", 1, trail_percent=10, tif="GTC")},
        rows=rows,
    )
    assert res.fills.price.iloc[-1] == pytest.approx(108.0)  # 10% under the 120 high


def test_costs_commission_minimum_and_adverse_slippage():
    strat = Scripted({0: lambda c: c.buy("X", 5), 2: lambda c: c.close("X")})
    res = qn.backtest(strat, bars_from(ROWS), commission=0.001, slippage=0.001, progress=False)
    buy, sell = res.fills.iloc[0], res.fills.iloc[1]
    assert buy.price == pytest.approx(101 * 1.001) and buy.commission == 1.0  # 0.1% < $1 minimum
    assert sell.price == pytest.approx(104 * 0.999)
    eq = res.equity.equity.iloc[-1]
    assert eq == pytest.approx(100_000 + 5 * (sell.price - buy.price) - 2.0)


def test_insufficient_cash_is_a_recorded_rejection_and_the_run_goes_on():
    _strat, res = run({0: lambda c: c.buy("X", 10_000), 1: lambda c: c.buy("X", 10)}, cash=5_000)
    assert len(res.rejections) == 1 and "insufficient buying power" in res.rejections.reason.iloc[0]
    assert res.orders.status.tolist() == ["rejected", "filled"]


def test_short_selling_refused_unless_allowed():
    _, res = run({0: lambda c: c.sell("X", 5)})
    assert "short selling is not allowed" in res.rejections.reason.iloc[0]
    _, res = run({0: lambda c: c.sell("X", 5)}, allow_short=True, leverage=2.0)
    assert res.fills.side.tolist() == ["SELL"]


def test_risk_limits_reject_with_reason():
    risk = qn.RiskLimits(max_order_qty=5)
    _strat, res = run({0: lambda c: c.buy("X", 10)}, risk=risk)
    assert "max_order_qty" in res.rejections.reason.iloc[0]


def test_max_daily_loss_blocks_new_risk_but_allows_reducing():
    rows = [
        (100, 100, 100, 100),
        (100, 100, 100, 100),
        (100, 100, 50, 50),
        (50, 50, 50, 50),
        (50, 51, 49, 50),
    ]
    risk = qn.RiskLimits(max_daily_loss=100)
    _strat, res = run(
        {0: lambda c: c.buy("X", 10), 2: lambda c: (c.buy("X", 1), c.sell("X", 5))},
        rows=rows,
        risk=risk,
    )
    reasons = res.rejections.reason.tolist()
    assert len(reasons) == 1 and "max_daily_loss" in reasons[0]
    assert res.fills.side.tolist() == ["BUY", "SELL"]


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda c: c.buy("X", 0), "qty=0"),
        (lambda c: c.buy("X", -3), "qty=-3"),
        (lambda c: c.buy("NOPE", 1), "unknown symbol 'NOPE'"),
        (lambda c: c.buy("X", 1, type="limit"), "needs limit="),
        (lambda c: c.buy("X", 1, limit=float("nan")), "limit=nan"),
        (lambda c: c.buy("X", 1, tif="GTX"), "tif='GTX'"),
        (lambda c: c.bracket("X", 1, take_profit=90), "take_profit=90"),
    ],
)
def test_invalid_orders_raise_at_once(call, match):
    with pytest.raises(OrderError, match=match.replace("(", r"\(").replace("[", r"\[")):
        run({0: call})


def test_order_target_and_percent():
    _strat, res = run(
        {
            0: lambda c: c.order_target("X", 30),
            1: lambda c: c.order_target("X", 10),
            2: lambda c: c.order_target_percent("X", 0.5),
        }
    )
    assert res.fills.qty.tolist() == [30, 20, 466]  # trunc(0.5 * 100,060 / 105) = 476, 10 held


def test_history_never_past_now_and_oldest_first():
    seen = []

    class H(qn.Strategy):
        def on_data(self, ctx, data):
            seen.append(ctx.history("X", 3, "close").copy())

    qn.backtest(H(), bars_from(ROWS), progress=False)
    assert seen[0].tolist() == [100]
    assert seen[3].tolist() == [102, 105, 97]
    assert all(len(h) <= 3 for h in seen)


def test_equity_curve_matches_the_portfolio_and_invariant():
    data = qn.data.sample(["AAA", "BBB"], interval="1d", start="2021-01-01", end="2022-12-31")

    class Rebalance(qn.Strategy):
        def on_data(self, ctx, data):
            for s in data:
                ctx.order_target_percent(s, 0.3 if ctx.history(s, 2)[0] < data[s].close else 0.0)

    res = qn.backtest(Rebalance(), data, progress=False)
    assert len(res.fills) > 10
    eq = res.equity
    # derive equity again from fills and closes, independently, at the last bar
    pos = res.fills.assign(s=np.where(res.fills.side == "BUY", 1, -1) * res.fills.qty)
    held = pos.groupby("symbol").s.sum()
    cash = 100_000 - (pos.s * pos.price).sum() - res.fills.commission.sum()
    last = sum(held.get(s, 0) * data[s].close.iloc[-1] for s in data)
    assert eq.equity.iloc[-1] == pytest.approx(cash + last)
    assert eq.cash.iloc[-1] == pytest.approx(cash)


def test_same_strategy_runs_twice_identically():
    data = qn.data.sample(["AAA"], interval="1d")
    strat = Scripted({5: lambda c: c.buy("AAA", 10), 50: lambda c: c.close("AAA")})
    a = qn.backtest(strat, data, progress=False)
    b = qn.backtest(strat, data, progress=False)
    pd.testing.assert_frame_equal(a.fills, b.fills)
    assert strat.finalized and len(strat.seen) == len(data["AAA"])


def test_misaligned_symbols_are_simply_absent():
    a = flat(5, symbol="A")
    b = flat(5, symbol="B", start="2024-01-04")
    strat = Scripted()
    qn.backtest(strat, {"A": a, "B": b}, progress=False)
    assert [sorted(d) for _, d in strat.seen] == [
        ["A"],
        ["A"],
        ["A", "B"],
        ["A", "B"],
        ["A", "B"],
        ["B"],
        ["B"],
    ]


def test_indicator_reveals_bar_by_bar():
    vals = []

    class Reveal(qn.Strategy):
        def initialize(self, ctx):
            self.s = ctx.indicator(qn.ind.sma, "close", 2)

        def on_data(self, ctx, data):
            vals.append(self.s["X"])

    qn.backtest(Reveal(), bars_from(ROWS), progress=False)
    assert vals[0:2] == [101.0, 103.5]  # on_data starts once sma(close, 2) has a value


def centred_mean(x, n):
    return pd.Series(x).rolling(n, center=True).mean().to_numpy()


def test_lookahead_indicator_is_caught_and_named():
    class Peek(qn.Strategy):
        def initialize(self, ctx):
            ctx.indicator(centred_mean, "close", 5)

    data = qn.data.sample(["AAA"], interval="1d", start="2022-01-01", end="2022-06-30")
    with pytest.raises(LookAheadError, match=r"centred_mean\(close, 5\).*AAA"):
        qn.backtest(Peek(), data, progress=False)


def test_bad_config_names_the_value():
    with pytest.raises(ConfigError, match="cash=-5"):
        qn.backtest(Scripted(), flat(3), cash=-5)
    with pytest.raises(ConfigError, match="commission='lots'"):
        qn.backtest(Scripted(), flat(3), commission="lots")


def test_close_cancels_resting_exits_then_flattens():
    _, res = run(
        {
            0: lambda c: c.buy("X", 10),
            1: lambda c: c.sell("X", 10, stop=50, tif="GTC"),
            2: lambda c: c.close("X"),
        }
    )
    st = res.orders.set_index("order_id").status
    assert st["2"] == "cancelled" and st["3"] == "filled"
    assert res.fills.side.tolist() == ["BUY", "SELL"] and res.fills.price.iloc[-1] == 104


def test_bar_view_mapping_api():
    seen = []

    class View(qn.Strategy):
        def on_data(self, ctx, data):
            bar = data["X"]
            seen.append(
                (
                    data.get("X") == bar,
                    data.get("Y", "none"),
                    [s for s, _ in data.items()],
                    [b.close for b in data.values()],
                    "X" in data,
                    len(data),
                )
            )
            with pytest.raises(KeyError, match="'Y' has no bar"):
                data["Y"]

    qn.backtest(View(), bars_from(ROWS[:2]), progress=False)
    assert seen[1] == (True, "none", ["X"], [102.0], True, 1)


def test_indicator_declared_mid_run_is_revealed_from_then_on():
    seen = []

    class Late(qn.Strategy):
        def initialize(self, ctx):
            self.s = None

        def on_data(self, ctx, data):
            if self.s is None and len(seen) == 2:
                self.s = ctx.indicator(qn.ind.sma, "close", 2)
            seen.append(self.s["X"] if self.s is not None else None)

    qn.backtest(Late(), bars_from(ROWS), progress=False)
    assert seen[:2] == [None, None]
    assert seen[2:] == [103.5, 101.0, 96.5, 97.5]  # sma(close, 2) at bars 2..5


def test_progress_bar_shows_when_asked_and_never_when_refused(capsys):
    data = qn.data.sample(["AAA"], interval="1d")
    qn.backtest(Scripted(), data, progress=True)
    assert "Scripted" in capsys.readouterr().err  # tqdm writes its bar to stderr
    qn.backtest(Scripted(), data, progress=False)
    assert capsys.readouterr().err == ""


def test_bar_of_a_symbol_before_its_first_bar_is_refused_not_the_future():
    a = flat(5, symbol="A")
    b = bars_from([(999, 999, 999, 999)] * 2, start="2024-01-05", symbol="B")
    got = []

    class Peek(qn.Strategy):
        def on_data(self, ctx, data):
            try:
                got.append(ctx.bar("B").close)
            except OrderError as exc:
                got.append(str(exc))

    qn.backtest(Peek(), {"A": a, "B": b}, progress=False)
    assert "'B' has no bar yet" in got[0] and got[3] == 999


def test_equity_seen_in_the_loop_is_the_equity_curve():
    """ctx.equity (the portfolio marked bar by bar) and the curve derived after the run from
    fills and closes are computed independently; on misaligned symbols they must agree."""
    data = qn.data.sample(["AAA", "BBB"], interval="1d", start="2021-01-01", end="2021-12-31")
    data["BBB"] = data["BBB"].iloc[30:]
    seen = []

    class Trade(qn.Strategy):
        def on_data(self, ctx, data):
            for s in data:
                ctx.order_target_percent(s, 0.4 if len(ctx.history(s, 3)) % 2 else 0.0)
            seen.append(ctx.equity)

    res = qn.backtest(Trade(), data, progress=False)
    assert len(res.fills) > 20
    np.testing.assert_allclose(seen, res.equity.equity.to_numpy(), rtol=1e-12)


def test_interval_is_inferred_or_the_error_says_to_pass_it(caplog):
    daily = qn.data.sample(["A"], "1d", start="2024-01-01", end="2024-02-01")["A"]
    hourly = qn.data.sample(["B"], "1h", start="2024-01-02", end="2024-01-05")["B"]
    with pytest.raises(qn.IntervalError, match=r"different intervals.*interval="):
        qn.backtest(Scripted(), {"A": daily, "B": hourly}, progress=False)
    one = daily.iloc[:1].copy()
    one.attrs = {}
    res = qn.backtest(Scripted(), one, progress=False)
    assert res.interval == "1d" and "pass interval=" in caplog.text


def test_margin_account_counts_working_orders_against_its_leverage():
    def three_big_buys(c):
        for _ in range(3):
            c.buy("X", 950)  # each about 95% of equity

    _, res = run({0: three_big_buys}, cash=100_000, leverage=2.0, allow_short=True)
    assert res.orders.status.tolist() == ["filled", "filled", "rejected"]
    assert "insufficient buying power" in res.rejections.reason.iloc[0]
    at_fill = res.equity.iloc[1]  # the bar both buys filled on; later moves may change it
    assert at_fill.gross_exposure <= 2.0 * at_fill.equity


def test_modify_moves_a_working_stop_and_checks_what_it_changes():
    errors = []

    def move(c):
        (stop,) = c.open_orders("X")
        assert c.modify(stop.id, stop=99.5, qty=6)
        for bad in ({"limit": 100}, {"qty": -1}, {"qty": 0.5}, {}):
            try:
                c.modify(stop, **bad)
            except OrderError as exc:
                errors.append(str(exc))

    _strat, res = run(
        {
            0: lambda c: c.buy("X", 10),
            1: lambda c: c.sell("X", 10, stop=90, tif="GTC"),
            2: move,  # bar 3's low 96 reaches the moved stop, not the old one
        }
    )
    assert list(res.fills.price) == [101, 99.5] and list(res.fills.qty) == [10, 6]
    assert errors == [
        "order 2 is a stop order: it has no limit= price to change",
        "qty=-1 must be positive",
        "qty=0.5 is not a whole number of shares: orders are in whole shares (quantnb has no "
        "fractional-share setting); round it yourself, e.g. int(qty) gives 0 and round(qty) "
        "gives 0",
        "modify('2'): give qty=, limit= or stop= to change",
    ]
