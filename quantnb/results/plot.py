"""Matplotlib figure of a backtest result; reads the result and changes nothing.

Panels share one x axis counting bars (no room for nights and weekends): equity vs buy-and-hold,
drawdown, then one price panel per symbol with trades marked by their P&L, optionally as candles
and with a volume panel. Long series are downsampled for drawing.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from matplotlib.ticker import PercentFormatter

from quantnb.errors import ConfigError
from quantnb.results.figure import NotebookFigure
from quantnb.results.fmt import format_pnl
from quantnb.results.plot_axes import Candles, Timeline, compact_axis, envelope, money_axis
from quantnb.results.stats import buy_and_hold_curve
from quantnb.results.view import title

if TYPE_CHECKING:
    from quantnb.results.view import ResultData

log = logging.getLogger(__name__)

MAX_PNL_LABELS = 25  # more trades than this in a panel: colours only, no P&L text
WIN, LOSS = "tab:green", "tab:red"


def naive_utc(times) -> np.ndarray:
    """Timestamps as naive UTC datetime64, which matplotlib plots fast and without converters."""
    idx = pd.DatetimeIndex(times)
    if idx.tz is not None:
        idx = idx.tz_convert("UTC").tz_localize(None)
    return idx.to_numpy()


def plot_result(
    result: ResultData,
    symbols: str | Sequence[str] | None = None,
    *,
    candles: bool = False,
    volume: bool = False,
    figsize: tuple[float, float] | None = None,
) -> NotebookFigure:
    """Equity vs buy-and-hold, drawdown [%], and a price panel per symbol (all by default)."""
    chosen = _symbols(result, symbols)
    per_symbol = [2.0] + ([0.6] if volume else [])
    ratios = [3.0, 1.0] + per_symbol * max(len(chosen), 1)
    height = 4.0 + sum(ratios[2:]) * 2.0
    fig = NotebookFigure(figsize=figsize or (11, height), layout="constrained", label=title(result))
    axes = fig.subplots(len(ratios), 1, sharex=True, gridspec_kw={"height_ratios": ratios})
    axes = list(np.atleast_1d(axes))
    eq = result.equity
    line = Timeline.of(eq.index if len(eq) else _price_times(result, chosen))

    ax_eq, ax_dd = axes[:2]
    x = np.arange(len(eq), dtype=float)
    ax_eq.plot(
        *envelope(x, eq["equity"].to_numpy(float)), color="tab:blue", lw=1.2, label="Strategy"
    )
    hold = buy_and_hold_curve(result.prices, eq.index, result.initial_cash).to_numpy(float)
    ax_eq.plot(*envelope(x, hold), color="grey", lw=1, alpha=0.8, label="Buy & hold")
    ax_eq.set_ylabel("Equity")
    money_axis(ax_eq, decimals=0)
    ax_eq.legend(loc="upper left", framealpha=0.8)

    dd_x, dd = envelope(x, eq["drawdown"].to_numpy(float) * 100)
    ax_dd.fill_between(dd_x, dd, 0, color=LOSS, alpha=0.35, lw=0)
    ax_dd.set_ylabel("Drawdown [%]")
    ax_dd.yaxis.set_major_formatter(PercentFormatter(decimals=None))

    rest = axes[2:]
    if not chosen:
        rest[0].text(0.5, 0.5, "no prices", ha="center", va="center", transform=rest[0].transAxes)
    step = len(per_symbol)
    for i, symbol in enumerate(chosen):
        ax_px = rest[i * step]
        ax_vol = rest[i * step + 1] if volume else None
        _price_panel(ax_px, ax_vol, result, symbol, line, candles)

    fig.suptitle(title(result))
    for ax in axes:
        ax.grid(alpha=0.3)
    line.apply(axes[-1])
    axes[-1].set_xlabel(line.xlabel)
    return fig


def _symbols(result: ResultData, symbols: str | Sequence[str] | None) -> list[str]:
    if symbols is None:
        return list(result.prices)
    chosen = [symbols] if isinstance(symbols, str) else list(symbols)
    for symbol in chosen:
        if symbol not in result.prices:
            raise ConfigError(
                f"no prices for symbol {symbol!r}; have {sorted(result.prices)} "
                "(pass one of them, or symbols=None for all)"
            )
    return chosen


def _price_times(result: ResultData, symbols: list[str]) -> pd.DatetimeIndex:
    frames = [result.prices[s].index for s in symbols]
    return frames[0].append(frames[1:]).unique().sort_values() if frames else pd.DatetimeIndex([])


def _price_panel(ax, ax_vol, result: ResultData, symbol: str, line: Timeline, candles: bool):
    """Close (or candles), entries ^, exits v coloured and labelled by P&L, open lots hollow ^."""
    frame = result.prices[symbol]
    x = line.positions(frame.index)
    if candles or ax_vol is not None:
        bars = Candles.of(frame, x)
    if candles:
        colors = np.where(bars.up, WIN, LOSS)
        ax.vlines(bars.x, bars.low, bars.high, colors=colors, lw=0.7, label="_wicks")
        ax.bar(
            bars.x,
            bars.close - bars.open,
            bottom=bars.open,
            width=0.7 * bars.width,
            color=colors,
            edgecolor=colors,
            lw=0.6,  # a flat candle still shows as a tick
            label=symbol,
        )
    else:
        ax.plot(*envelope(x, frame["close"].to_numpy(float)), color="black", lw=0.9, label=symbol)
    if ax_vol is not None:
        ax_vol.bar(bars.x, bars.volume, width=0.8 * bars.width, color=np.where(bars.up, WIN, LOSS))
        ax_vol.set_ylabel("Volume")
        compact_axis(ax_vol)
    _trade_marks(ax, result, symbol, line)
    ax.set_ylabel(symbol)
    money_axis(ax)
    ax.legend(loc="upper left", framealpha=0.8)


def _trade_marks(ax, result: ResultData, symbol: str, line: Timeline) -> None:
    trades = result.trades
    trades = trades[trades["symbol"] == symbol]
    if len(trades):
        pnl = trades["pnl"].to_numpy(float)
        colors = np.where(pnl >= 0, WIN, LOSS)
        x_in, x_out = line.positions(trades["entry_time"]), line.positions(trades["exit_time"])
        y_in, y_out = trades["entry_price"].to_numpy(float), trades["exit_price"].to_numpy(float)
        ax.scatter(x_in, y_in, marker="^", color="tab:blue", s=40, zorder=3, label="Entry")
        ax.scatter(x_out, y_out, marker="v", c=colors, s=40, zorder=3, label="Exit")
        if len(trades) <= MAX_PNL_LABELS:
            for xo, yo, p, c in zip(x_out, y_out, pnl, colors, strict=True):
                ax.annotate(
                    format_pnl(p),
                    (xo, yo),
                    xytext=(0, 6),
                    textcoords="offset points",
                    ha="center",
                    fontsize=7,
                    color=c,
                )
    lots = result.open_positions
    lots = lots[lots["symbol"] == symbol]
    if len(lots):
        ax.scatter(
            line.positions(lots["entry_time"]),
            lots["entry_price"].to_numpy(float),
            marker="^",
            facecolors="none",
            edgecolors="tab:blue",
            s=40,
            zorder=3,
            label="Open",
        )
