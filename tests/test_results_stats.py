"""compute_stats: hand-checked numbers and edge cases, with warnings treated as errors."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pandas as pd
import pytest

from quantnb.errors import IntervalError
from quantnb.results import STATS_DOC, STATS_KEYS, compute_stats, round_trips
from quantnb.results.stats import bars_per_year, max_drawdown_duration

T0 = pd.Timestamp("2024-01-01", tz="UTC")


def equity_frame(values, exposure=None, freq="D") -> pd.DataFrame:
    idx = pd.date_range(T0, periods=len(values), freq=freq)
    values = np.asarray(values, dtype=float)
    exposure = np.zeros(len(values)) if exposure is None else np.asarray(exposure, float)
    return pd.DataFrame({"equity": values, "cash": values, "gross_exposure": exposure}, index=idx)


def fills_frame(rows) -> pd.DataFrame:
    """rows: (day, symbol, side, qty, price, commission)."""
    return pd.DataFrame(
        {
            "time": pd.DatetimeIndex([T0 + pd.Timedelta(days=r[0]) for r in rows], tz="UTC"),
            "order_id": [f"o{i}" for i in range(len(rows))],
            "symbol": [r[1] for r in rows],
            "side": [r[2] for r in rows],
            "qty": [float(r[3]) for r in rows],
            "price": [float(r[4]) for r in rows],
            "commission": [float(r[5]) for r in rows],
            "slippage": 0.0,
            "exec_id": [f"e{i}" for i in range(len(rows))],
        }
    )


def prices_for(closes, freq="D") -> pd.DataFrame:
    idx = pd.date_range(T0, periods=len(closes), freq=freq)
    c = np.asarray(closes, dtype=float)
    return pd.DataFrame({"open": c, "high": c, "low": c, "close": c, "volume": 1.0}, index=idx)


def stats_of(
    equity, fills=None, prices=None, cash=1000.0, interval="1d", **conventions
) -> pd.Series:
    fills = fills_frame([]) if fills is None else fills
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        return compute_stats(
            equity, round_trips(fills), fills, prices or {}, cash, interval, **conventions
        )


def test_keys_in_order_and_documented():
    assert STATS_KEYS[0] == "Start" and STATS_KEYS[-1] == "Commissions"
    assert len(STATS_KEYS) == 32
    assert all(doc and "\n" not in doc for doc in STATS_DOC.values())
    s = stats_of(equity_frame([1000, 1010]))
    assert list(s.index) == STATS_KEYS


def test_two_trades_win_rate_profit_factor_and_commissions():
    fills = fills_frame(
        [
            (0, "A", "BUY", 10, 100, 1),
            (1, "A", "SELL", 10, 110, 1),  # +100 gross, +98 net
            (2, "A", "BUY", 10, 110, 1),
            (3, "A", "SELL", 10, 105, 1),  # -50 gross, -52 net
        ]
    )
    eq = equity_frame([1000, 1098, 1097, 1046], exposure=[1000, 0, 1100, 0])
    s = stats_of(eq, fills, {"A": prices_for([100, 110, 110, 105])})
    assert s["Trades"] == 2
    assert s["Win rate [%]"] == pytest.approx(50.0)
    assert s["Profit factor"] == pytest.approx(98 / 52)
    assert s["Average trade [%]"] == pytest.approx((9.8 + -52 / 1100 * 100) / 2)
    assert s["Best trade [%]"] == pytest.approx(9.8)
    assert s["Worst trade [%]"] == pytest.approx(-52 / 1100 * 100)
    assert s["Commissions"] == pytest.approx(4.0)
    assert s["Exposure [%]"] == pytest.approx(50.0)
    assert s["Total return [%]"] == pytest.approx(4.6)
    assert s["Buy & hold return [%]"] == pytest.approx(5.0)
    assert s["Final equity"] == 1046
    assert s["Initial equity"] == 1000


def test_max_drawdown_and_its_duration():
    eq = equity_frame([100, 120, 90, 60, 110, 130, 117])
    s = stats_of(eq, cash=100)
    assert s["Max drawdown [%]"] == pytest.approx(-50.0)
    # peak on day 1, regained on day 5; the final dip (day 5 → 6) is shorter
    assert s["Max drawdown duration"] == pd.Timedelta(days=4)
    assert s["Start"] == T0 and s["End"] == T0 + pd.Timedelta(days=6)
    assert s["Duration"] == pd.Timedelta(days=6)


def test_unrecovered_drawdown_lasts_to_the_end():
    dd = equity_frame([100, 90, 95, 80])["equity"]
    dd = dd / dd.cummax() - 1
    assert max_drawdown_duration(dd) == pd.Timedelta(days=3)


def test_cagr_of_doubling_in_two_years_of_daily_bars():
    eq = equity_frame(np.geomspace(1000, 2000, 2 * 252 + 1), freq="B")
    s = stats_of(eq)
    assert s["CAGR [%]"] == pytest.approx((math.sqrt(2) - 1) * 100)
    assert s["CAGR [%]"] == pytest.approx(41.42, abs=0.01)
    assert s["Total return [%]"] == pytest.approx(100.0)
    assert s["Max drawdown [%]"] == 0
    assert s["Calmar ratio"] == math.inf


def test_sharpe_sortino_volatility_by_hand():
    eq = equity_frame([100, 110, 99, 108.9, 119.79])  # returns +10%, -10%, +10%, +10%
    s = stats_of(eq, cash=100)
    r = np.array([0.1, -0.1, 0.1, 0.1])
    root = math.sqrt(252)
    assert s["Annual volatility [%]"] == pytest.approx(r.std(ddof=1) * root * 100)
    assert s["Sharpe ratio"] == pytest.approx(r.mean() / r.std(ddof=1) * root)
    assert s["Sortino ratio"] == pytest.approx(r.mean() / math.sqrt(0.01 / 4) * root)
    assert s["Calmar ratio"] == pytest.approx(s["CAGR [%]"] / 10.0)


def test_flat_equity_and_no_trades_give_nan_not_warnings():
    s = stats_of(equity_frame([1000] * 10))
    assert s["Annual volatility [%]"] == 0
    for key in ["Sharpe ratio", "Sortino ratio", "Calmar ratio", "Win rate [%]", "Profit factor"]:
        assert math.isnan(s[key]), key
    assert s["Trades"] == 0 and s["Commissions"] == 0
    assert s["Max drawdown duration"] == pd.Timedelta(0)
    assert s["Exposure [%]"] == 0
    assert math.isnan(s["Buy & hold return [%]"])


def test_single_bar():
    s = stats_of(equity_frame([1005]))
    assert s["Duration"] == pd.Timedelta(0)
    assert s["Total return [%]"] == pytest.approx(0.5)
    for key in ["CAGR [%]", "Annual volatility [%]", "Sharpe ratio", "Sortino ratio"]:
        assert math.isnan(s[key]), key


def test_empty_equity():
    s = stats_of(equity_frame([]))
    assert s["Start"] is pd.NaT and s["Trades"] == 0


def test_only_winners_profit_factor_is_infinite():
    fills = fills_frame([(0, "A", "BUY", 1, 10, 0), (1, "A", "SELL", 1, 12, 0)])
    s = stats_of(equity_frame([1000, 1002]), fills)
    assert s["Profit factor"] == math.inf
    assert s["Win rate [%]"] == 100


def test_buy_and_hold_equal_weight_within_span():
    prices = {"A": prices_for([10, 20, 30]), "B": prices_for([10, 10, 5, 1])}
    s = stats_of(equity_frame([1000, 1000, 1000]), prices=prices)
    assert s["Buy & hold return [%]"] == pytest.approx((200 + -50) / 2)


def test_inputs_are_not_changed():
    eq = equity_frame([100, 90, 120])
    before = eq.copy()
    stats_of(eq, cash=100)
    pd.testing.assert_frame_equal(eq, before)


@pytest.mark.parametrize(("interval", "ppy"), [("1d", 252), ("1w", 52)])
def test_bars_per_year(interval, ppy):
    assert bars_per_year(interval) == pytest.approx(ppy)


@pytest.mark.parametrize("interval", ["1m", "5m", "15m", "30m", "1h"])
def test_intraday_periods_are_the_bars_a_session_holds(interval):
    from quantnb.data import sample

    day = sample("X", interval, start="2024-03-04", end="2024-03-04")["X"]
    assert bars_per_year(interval) == 252 * len(day)  # 7 hourly bars: 09:30 is its own


@pytest.mark.parametrize("bad", ["", "d", "0d", "5x", "1 fortnight"])
def test_unknown_interval_raises(bad):
    with pytest.raises(IntervalError, match="interval"):
        bars_per_year(bad)
