"""The statistics checked against empyrical on the same equity, and the metrics no library
computes (drawdown episodes, expectancy, SQN, Kelly, trade durations) against hand computations."""

from __future__ import annotations

import math

import empyrical as ep
import numpy as np
import pandas as pd
import pytest

import quantnb as qn
from quantnb.errors import ConfigError
from quantnb.results.stats import bars_per_year, per_bar_rate
from quantnb.strategies import SmaCross
from tests.test_results_stats import equity_frame, fills_frame, prices_for, stats_of


def _market(n: int, seed: int, freq: str = "D") -> tuple[pd.DataFrame, dict[str, pd.DataFrame]]:
    """An equity curve that starts at the initial cash and two symbols it partly follows."""
    rng = np.random.default_rng(seed)
    a = 50 * np.cumprod(1 + rng.normal(0.0005, 0.02, n))
    b = 80 * np.cumprod(1 + rng.normal(0.0002, 0.015, n))
    hold = (a / a[0] + b / b[0]) / 2
    own = np.concatenate([[0.0], rng.normal(0.0003, 0.01, n - 1)])
    equity = 10_000 * hold**0.6 * np.cumprod(1 + own)
    equity[0] = 10_000
    return equity_frame(equity, freq=freq), {
        "A": prices_for(a, freq=freq),
        "B": prices_for(b, freq=freq),
    }


@pytest.mark.parametrize(
    ("interval", "freq", "risk_free", "periods"),
    [
        ("1d", "D", 0.0, None),
        ("1d", "D", 0.03, None),
        ("1d", "D", 0.05, 365),
        ("1h", "h", 0.02, None),
        ("1w", "W", 0.0, None),
    ],
)
def test_ratios_match_empyrical(interval, freq, risk_free, periods):
    eq, prices = _market(400, seed=len(interval) + int(risk_free * 100), freq=freq)
    s = stats_of(
        eq, prices=prices, cash=10_000, interval=interval, risk_free=risk_free,
        periods_per_year=periods,
    )  # fmt: skip
    ann = periods or bars_per_year(interval)
    rf = (1 + risk_free) ** (1 / ann) - 1
    r = eq["equity"].pct_change().iloc[1:]
    hold = (prices["A"]["close"] / prices["A"]["close"].iloc[0]) + (
        prices["B"]["close"] / prices["B"]["close"].iloc[0]
    )
    b = hold.pct_change().iloc[1:]
    alpha, beta = ep.alpha_beta(r, b, risk_free=rf, annualization=ann)

    assert s.attrs == {"risk_free": risk_free, "periods_per_year": ann}
    assert s["Annual volatility [%]"] == pytest.approx(
        ep.annual_volatility(r, annualization=ann) * 100, rel=1e-12
    )
    assert s["Sharpe ratio"] == pytest.approx(
        ep.sharpe_ratio(r, risk_free=rf, annualization=ann), rel=1e-12
    )
    assert s["Sortino ratio"] == pytest.approx(
        ep.sortino_ratio(r, required_return=rf, annualization=ann), rel=1e-12
    )
    assert s["CAGR [%]"] == pytest.approx(ep.cagr(r, annualization=ann) * 100, rel=1e-12)
    assert s["Max drawdown [%]"] == pytest.approx(ep.max_drawdown(r) * 100, rel=1e-12)
    assert s["Calmar ratio"] == pytest.approx(ep.calmar_ratio(r, annualization=ann), rel=1e-12)
    assert s["Beta"] == pytest.approx(beta, rel=1e-12)
    assert s["Alpha [%]"] == pytest.approx(alpha * 100, rel=1e-10)
    assert 0.3 < s["Beta"] < 0.9  # the curve follows the basket with weight 0.6
    assert s["Equity peak"] == pytest.approx(eq["equity"].max())


def test_a_real_backtest_matches_empyrical():
    bars = qn.data.sample(["AAPL", "MSFT"], interval="1d", start="2022-01-03", end="2023-12-29")
    res = qn.backtest(SmaCross(fast=5, slow=20), bars, cash=100_000)
    s = res.stats
    r = res.equity["equity"].pct_change().iloc[1:]
    hold = sum(f["close"] / f["close"].iloc[0] for f in bars.values())
    alpha, beta = ep.alpha_beta(r, hold.pct_change().iloc[1:], annualization=252)
    assert res.equity["equity"].iloc[0] == 100_000 and s["Trades"] > 5
    assert s["Sharpe ratio"] == pytest.approx(ep.sharpe_ratio(r), rel=1e-12)
    assert s["Sortino ratio"] == pytest.approx(ep.sortino_ratio(r), rel=1e-12)
    assert s["Annual volatility [%]"] == pytest.approx(ep.annual_volatility(r) * 100, rel=1e-12)
    assert s["CAGR [%]"] == pytest.approx(ep.cagr(r) * 100, rel=1e-12)
    assert s["Max drawdown [%]"] == pytest.approx(ep.max_drawdown(r) * 100, rel=1e-12)
    assert s["Calmar ratio"] == pytest.approx(ep.calmar_ratio(r), rel=1e-12)
    assert s["Alpha [%]"] == pytest.approx(alpha * 100, rel=1e-10)
    assert s["Beta"] == pytest.approx(beta, rel=1e-12)


def test_drawdown_episodes_by_hand():
    """No library computes these; backtesting.py defines them alike (peak to recovery or end),
    except that it skips a last dip of a single bar, which counts here."""
    eq = equity_frame([100, 120, 90, 60, 110, 130, 117, 125, 130, 120])
    s = stats_of(eq, cash=100)
    # peak day 1 → regained day 5 (-50%); peak day 5 → day 8 (-10%); peak day 8 → end day 9
    depths = [60 / 120 - 1, 117 / 130 - 1, 120 / 130 - 1]
    assert s["Average drawdown [%]"] == pytest.approx(np.mean(depths) * 100)
    assert s["Max drawdown [%]"] == pytest.approx(-50.0)
    assert s["Max drawdown duration"] == pd.Timedelta(days=4)
    assert s["Average drawdown duration"] == pd.Timedelta(days=8) / 3
    assert s["Equity peak"] == 130


def test_no_drawdown_means_zero_depth_and_duration():
    s = stats_of(equity_frame([100, 101, 102]), cash=100)
    assert s["Average drawdown [%]"] == 0
    assert s["Average drawdown duration"] == pd.Timedelta(0)


def test_trade_metrics_by_hand():
    """No library computes these from round trips: expectancy, SQN (as backtesting.py and
    Van Tharp: √n · mean / sample std of P&L), Kelly (W − (1 − W) / (mean win / mean loss))."""
    fills = fills_frame(
        [
            (0, "A", "BUY", 10, 100, 1), (2, "A", "SELL", 10, 110, 1),  # +98, 2 days
            (3, "A", "BUY", 10, 110, 1), (4, "A", "SELL", 10, 105, 1),  # -52, 1 day
            (5, "A", "BUY", 10, 105, 1), (9, "A", "SELL", 10, 112, 1),  # +68, 4 days
            (10, "A", "BUY", 10, 112, 1), (11, "A", "SELL", 10, 110, 1),  # -22, 1 day
        ]
    )  # fmt: skip
    s = stats_of(equity_frame([1000] * 12), fills)
    assert s["Trades"] == 4
    assert s["Expectancy"] == pytest.approx((98 - 52 + 68 - 22) / 4)  # 23
    # deviations from 23: 75, -75, 45, -45 → sample variance (2·75² + 2·45²) / 3 = 5100
    assert s["SQN"] == pytest.approx(math.sqrt(4) * 23 / math.sqrt(5100))
    assert s["Kelly criterion"] == pytest.approx(0.5 - 0.5 / (83 / 37))
    assert s["Max trade duration"] == pd.Timedelta(days=4)
    assert s["Average trade duration"] == pd.Timedelta(days=2)
    assert s["Profit factor"] == pytest.approx(166 / 74)


def test_kelly_needs_winners_and_losers_and_sqn_two_trades():
    fills = fills_frame([(0, "A", "BUY", 1, 10, 0), (1, "A", "SELL", 1, 12, 0)])
    s = stats_of(equity_frame([1000, 1002]), fills)
    assert math.isnan(s["Kelly criterion"]) and math.isnan(s["SQN"])
    assert s["Expectancy"] == 2 and s["Max trade duration"] == pd.Timedelta(days=1)


def test_no_trades_leave_trade_metrics_empty():
    s = stats_of(equity_frame([1000, 1001]))
    for key in ["Expectancy", "SQN", "Kelly criterion"]:
        assert math.isnan(s[key]), key
    assert s["Max trade duration"] is pd.NaT and s["Average trade duration"] is pd.NaT


def test_alpha_and_beta_of_holding_and_of_twice_the_basket():
    prices = {"A": prices_for([10, 11, 10.5, 12, 12.5]), "B": prices_for([20, 19, 21, 22, 21])}
    hold = (prices["A"]["close"] / 10 + prices["B"]["close"] / 20) / 2 * 1000
    s = stats_of(equity_frame(hold.to_numpy()), prices=prices)
    assert s["Beta"] == pytest.approx(1.0) and s["Alpha [%]"] == pytest.approx(0.0, abs=1e-9)
    double = 1000 * np.cumprod(np.r_[1, 1 + 2 * hold.pct_change().to_numpy()[1:]])
    s = stats_of(equity_frame(double), prices=prices)
    assert s["Beta"] == pytest.approx(2.0) and s["Alpha [%]"] == pytest.approx(0.0, abs=1e-9)
    flat = stats_of(equity_frame([1000] * 5), prices={"A": prices_for([10] * 5)})
    assert math.isnan(flat["Beta"]) and math.isnan(flat["Alpha [%]"])


def test_risk_free_is_annual_and_compounded_per_bar():
    assert per_bar_rate(0.0, 252) == 0
    assert (1 + per_bar_rate(0.05, 252)) ** 252 == pytest.approx(1.05)
    eq = equity_frame([100, 110, 99, 108.9, 119.79])
    r = np.array([0.1, -0.1, 0.1, 0.1])
    rf = 1.04 ** (1 / 12) - 1
    s = stats_of(eq, cash=100, risk_free=0.04, periods_per_year=12)
    assert s["Sharpe ratio"] == pytest.approx((r - rf).mean() / r.std(ddof=1) * math.sqrt(12))
    downside = math.sqrt(np.mean(np.minimum(r - rf, 0) ** 2))
    assert s["Sortino ratio"] == pytest.approx((r - rf).mean() / downside * math.sqrt(12))
    years = 4 / 12
    assert s["CAGR [%]"] == pytest.approx((1.1979 ** (1 / years) - 1) * 100)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"periods_per_year": 0}, "periods_per_year=0"),
        ({"periods_per_year": math.nan}, "periods_per_year=nan"),
        ({"risk_free": -1.5}, "risk_free=-1.5"),
        ({"risk_free": "2%"}, "risk_free='2%'"),
    ],
)
def test_bad_conventions_raise(kwargs, match):
    with pytest.raises(ConfigError, match=match):
        stats_of(equity_frame([100, 101]), cash=100, **kwargs)


def test_result_compute_stats_overrides_conventions_and_keeps_the_default():
    bars = qn.data.sample("AAPL", interval="1d", start="2023-01-02", end="2023-12-29")
    res = qn.backtest(SmaCross(fast=5, slow=20), bars, cash=100_000)
    default = res.stats
    crypto = res.compute_stats(periods_per_year=365)
    assert crypto["Sharpe ratio"] == pytest.approx(default["Sharpe ratio"] * math.sqrt(365 / 252))
    assert crypto.attrs["periods_per_year"] == 365 and default.attrs["periods_per_year"] == 252
    assert res.stats is default and crypto.name == default.name == "SmaCross"
    with_rf = res.compute_stats(risk_free=0.05)
    assert with_rf["Sharpe ratio"] < default["Sharpe ratio"]
    assert with_rf["Total return [%]"] == default["Total return [%]"]


def test_average_durations_are_whole_seconds():
    rows = []
    for i, hold in enumerate([1, 1, 1, 1, 1, 1, 2]):  # a mean of 8/7 days, 98742.857 s
        rows += [(3 * i, "A", "BUY", 1, 10, 0), (3 * i + hold, "A", "SELL", 1, 10, 0)]
    s = stats_of(equity_frame([1000] * 22), fills_frame(rows))
    assert s["Average trade duration"] == pd.Timedelta(seconds=98743)
    assert s["Max trade duration"] == pd.Timedelta(days=2)
    dd = stats_of(equity_frame([3, 2, 3, 2, 2, 3, 2, 2, 2, 3]), cash=3)  # 2, 3 and 4 days down
    assert dd["Average drawdown duration"] == pd.Timedelta(days=3)
    dd = stats_of(equity_frame([3, 2, 3, 2, 2, 3, 3]), cash=3)  # 2 and 3 days
    assert dd["Average drawdown duration"] == pd.Timedelta(days=2.5)
