"""Result plot options: P&L marks, candles, volume, money axes, a gapless intraday axis, and
downsampling of long series."""

from __future__ import annotations

import time

import numpy as np
import pandas as pd
import pytest
from matplotlib.colors import to_hex

from quantnb.results import BacktestResult
from quantnb.results.plot_axes import MAX_CANDLES, MAX_LINE_POINTS, Timeline, envelope
from tests.test_results_result import make_result


def _texts(ax) -> list[str]:
    return [t.get_text() for t in ax.texts]


def test_exits_are_labelled_and_coloured_by_pnl():
    res = make_result()
    ax = res.plot("AAPL").get_axes()[2]
    pnl = res.trades["pnl"].tolist()
    assert pnl == pytest.approx([28.0, 13.0])  # (104-101)*10 - 2 commissions; (109-106)*5 - 2
    assert _texts(ax) == ["+28", "+13"]
    exits = next(c for c in ax.collections if c.get_label() == "Exit")
    assert [to_hex(rgba) for rgba in exits.get_facecolors()] == [to_hex("tab:green")] * 2


def test_losing_trade_is_red_and_signed():
    res = make_result()
    res.fills = res.fills.assign(price=res.fills["price"][::-1].to_numpy())  # buy high, sell low
    ax = res.plot("AAPL").get_axes()[2]
    assert all(t.startswith("-") for t in _texts(ax))
    exits = next(c for c in ax.collections if c.get_label() == "Exit")
    assert {to_hex(rgba) for rgba in exits.get_facecolors()} == {to_hex("tab:red")}


def test_candles_and_volume_panels():
    res = make_result()
    res.prices["AAPL"] = res.prices["AAPL"].assign(
        open=res.prices["AAPL"]["close"] - 1, high=lambda f: f["close"] + 2, volume=1_500_000.0
    )
    fig = res.plot(["AAPL"], candles=True, volume=True)
    eq_ax, dd_ax, px_ax, vol_ax = fig.get_axes()
    assert len(px_ax.patches) == 20 and not px_ax.get_lines()  # a candle body per bar
    heights = {round(p.get_height(), 6) for p in px_ax.patches}
    assert heights == {1.0}  # close - open
    assert vol_ax.get_ylabel() == "Volume" and len(vol_ax.patches) == 20
    fig.canvas.draw()
    assert {"1M", "2M"} <= {t.get_text() for t in vol_ax.get_yticklabels()}
    assert any("," in t.get_text() for t in eq_ax.get_yticklabels())  # 10,000
    assert all(t.get_text().endswith("%") for t in dd_ax.get_yticklabels() if t.get_text())


def test_intraday_axis_counts_bars_and_labels_exchange_time():
    # two sessions of 5-minute bars, 09:30-09:45 New York, over a weekend
    days = ["2024-01-05 14:30", "2024-01-08 14:30"]
    idx = pd.DatetimeIndex(
        [t for d in days for t in pd.date_range(d, periods=4, freq="5min", tz="UTC")]
    )
    base = make_result(n=20)
    prices = {s: f.iloc[:8].set_axis(idx) for s, f in base.prices.items()}
    fills = base.fills.iloc[:2].assign(time=idx[[1, 5]])
    res = BacktestResult(
        base.equity.iloc[:8].set_axis(idx), fills, base.orders, prices, 10_000.0, "5m", "S", {}
    )
    fig = res.plot("AAPL")
    px_ax = fig.get_axes()[-1]
    x, _ = px_ax.get_lines()[0].get_data()
    assert list(x) == list(range(8))  # no room for the night and the weekend
    exits = next(c for c in px_ax.collections if c.get_label() == "Exit")
    assert exits.get_offsets()[:, 0].tolist() == [5.0]
    fmt = px_ax.xaxis.get_major_formatter()
    assert fmt(4, None) == "2024-01-08\n09:30"  # New York time, not 14:30 UTC
    assert px_ax.get_xlabel() == "Exchange time (America/New_York)"
    assert Timeline.of(base.equity.index).label(0) == "2024-01-01"  # daily bars: dates


def test_envelope_keeps_extremes_of_long_lines():
    y = np.sin(np.arange(100_000) / 50.0)
    y[12_345] = 7.0
    x = np.arange(len(y), dtype=float)
    _, ey = envelope(x, y)
    assert len(ey) <= MAX_LINE_POINTS
    assert ey.max() == 7.0 and ey.min() == pytest.approx(-1.0, abs=1e-3)
    assert envelope(x[:10], y[:10])[1] is y[:10] or np.array_equal(
        envelope(x[:10], y[:10])[1], y[:10]
    )


def test_million_bars_draw_fast():
    n = 1_000_000
    idx = pd.date_range("2020-01-01", periods=n, freq="min", tz="UTC")
    close = 100 + np.cumsum(np.random.default_rng(0).normal(0, 0.01, n))
    px = pd.DataFrame(
        {"open": close, "high": close + 0.01, "low": close - 0.01, "close": close, "volume": 1.0},
        index=idx,
    )
    eq = pd.DataFrame({"equity": 1e5 + close, "cash": 1e5}, index=idx)
    fills = make_result().fills.iloc[:0]
    res = BacktestResult(eq, fills, pd.DataFrame(), {"X": px}, 1e5, "1m", "S", {})
    start = time.perf_counter()
    fig = res.plot(candles=True, volume=True)
    fig.canvas.draw()
    elapsed = time.perf_counter() - start
    eq_ax, _, px_ax, vol_ax = fig.get_axes()
    assert all(len(line.get_xdata()) <= MAX_LINE_POINTS for line in eq_ax.get_lines())
    assert len(px_ax.patches) <= MAX_CANDLES and len(vol_ax.patches) <= MAX_CANDLES
    assert elapsed < 5.0, elapsed
