"""BacktestResult: derived frames, repr, the matplotlib figure and the HTML view."""

from __future__ import annotations

import html

import matplotlib
import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure

from quantnb.errors import ConfigError
from quantnb.results import STATS_KEYS, BacktestResult, plot_result

T0 = pd.Timestamp("2024-01-01", tz="UTC")


def make_result(n: int = 20, strategy: str = "SmaCross", params=None) -> BacktestResult:
    idx = pd.date_range(T0, periods=n, freq="D")
    close = 100 + np.arange(n, dtype=float)
    prices = {
        "AAPL": pd.DataFrame(
            {"open": close, "high": close, "low": close, "close": close, "volume": 1.0}, index=idx
        ),
        "MSFT": pd.DataFrame(
            {"open": 2 * close, "high": 2 * close, "low": 2 * close, "close": 2 * close},
            index=idx,
        ),
    }
    fills = pd.DataFrame(
        {
            "time": idx[[1, 4, 6, 9, 12]],
            "order_id": ["a", "b", "c", "d", "e"],
            "symbol": ["AAPL", "AAPL", "AAPL", "AAPL", "AAPL"],
            "side": ["BUY", "SELL", "BUY", "SELL", "BUY"],
            "qty": [10.0, 10.0, 5.0, 5.0, 3.0],
            "price": close[[1, 4, 6, 9, 12]],
            "commission": [1.0] * 5,
            "slippage": 0.0,
            "exec_id": ["1", "2", "3", "4", "5"],
        }
    )
    equity = np.linspace(10_000, 10_500, n)
    equity[5] = 9_800  # one dip, so the drawdown panel has something to show
    eq = pd.DataFrame(
        {"equity": equity, "cash": equity, "gross_exposure": (np.arange(n) % 3 == 0) * 100.0},
        index=idx,
    )
    return BacktestResult(
        equity=eq,
        fills=fills,
        orders=pd.DataFrame({"order_id": list("abcde")}),
        prices=prices,
        initial_cash=10_000.0,
        interval="1d",
        strategy=strategy,
        params={"fast": 10, "slow": 30} if params is None else params,
    )


def test_derived_frames_and_drawdown():
    res = make_result()
    assert "drawdown" in res.equity.columns
    assert res.equity["drawdown"].max() == 0
    assert res.equity["drawdown"].min() == pytest.approx(9_800 / res.equity["equity"].iloc[4] - 1)
    assert len(res.trades) == 2
    assert res.trades is res.trades  # cached
    assert list(res.stats.index) == STATS_KEYS
    assert res.stats["Trades"] == 2
    assert res.open_positions["qty"].tolist() == [3.0]
    assert res.rejections.empty and list(res.rejections.columns) == [
        "time",
        "order_id",
        "symbol",
        "reason",
    ]
    assert res.elapsed == 0.0


def test_engine_frame_is_not_modified():
    res = make_result()
    eq = res.equity.drop(columns="drawdown")
    BacktestResult(eq, res.fills, res.orders, res.prices, 10_000.0, "1d", "S", {})
    assert "drawdown" not in eq.columns


def test_repr_is_one_short_line():
    text = repr(make_result())
    assert text.startswith("<BacktestResult SmaCross 2024-01-01 .. 2024-01-20 (1d)")
    for part in ["return 5.00%", "Sharpe", "max drawdown", "trades 2"]:
        assert part in text
    assert "\n" not in text


def test_plot_has_a_panel_per_symbol_and_trade_markers():
    assert matplotlib.get_backend()  # importing the package did not force a backend
    fig = make_result().plot()
    assert isinstance(fig, Figure)
    axes = fig.get_axes()
    assert len(axes) == 4  # equity, drawdown, AAPL, MSFT
    eq_ax, dd_ax, aapl_ax, msft_ax = axes
    assert len(eq_ax.get_lines()) == 2  # strategy and buy & hold
    assert dd_ax.collections  # filled drawdown area
    assert [aapl_ax.get_ylabel(), msft_ax.get_ylabel()] == ["AAPL", "MSFT"]
    markers = {c.get_label(): len(c.get_offsets()) for c in aapl_ax.collections}
    assert markers == {"Entry": 2, "Exit": 2, "Open": 1}
    assert not msft_ax.collections  # no trades in MSFT
    assert "SmaCross" in fig._suptitle.get_text() and "fast=10" in fig._suptitle.get_text()
    fig.canvas.draw()  # renders with Agg, not a GUI


def test_plot_chosen_symbols_and_long_series():
    res = make_result(n=5_000)
    fig = plot_result(res, symbols="MSFT", figsize=(8, 6))
    assert len(fig.get_axes()) == 3
    px_ax = fig.get_axes()[2]
    assert px_ax.get_ylabel() == "MSFT"
    assert tuple(fig.get_size_inches()) == (8, 6)
    assert [a.get_ylabel() for a in res.plot(["MSFT", "AAPL"]).get_axes()[2:]] == ["MSFT", "AAPL"]
    with pytest.raises(ConfigError, match="IBM"):
        res.plot("IBM")
    with pytest.raises(ConfigError, match="IBM"):
        res.plot(symbols=["AAPL", "IBM"])


def test_html_has_every_key_tooltips_trades_and_escapes():
    res = make_result(strategy="<script>alert(1)</script>", params={"note": "a&b"})
    text = res._repr_html_()
    assert "<script>" not in text
    assert html.escape("<script>alert(1)</script>") in text
    assert "a&amp;b" in text
    for key in STATS_KEYS:
        assert f">{html.escape(key)}</th>" in text, key
    assert 'title="Share of round trips with a positive net P&amp;L."' in text
    assert "10,000.00" in text  # money with separators
    assert "5.00%" in text
    assert "Last 2 of 2 trades" in text
    assert "<script" not in text.replace("&lt;script", "")


def test_html_without_trades():
    res = make_result()
    res.fills = res.fills.iloc[:0]
    assert "No closed trades." in res._repr_html_()
    assert ">—<" in res._repr_html_()  # NaN win rate shown as a dash
