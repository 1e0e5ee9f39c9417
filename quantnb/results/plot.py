"""Matplotlib figure of a backtest result; reads the result and changes nothing."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from quantnb.errors import ConfigError
from quantnb.results.stats import buy_and_hold_curve

if TYPE_CHECKING:
    from quantnb.results.result import BacktestResult

log = logging.getLogger(__name__)


def naive_utc(times) -> np.ndarray:
    """Timestamps as naive UTC datetime64, which matplotlib plots fast and without converters."""
    idx = pd.DatetimeIndex(times)
    if idx.tz is not None:
        idx = idx.tz_convert("UTC").tz_localize(None)
    return idx.to_numpy()


def plot_result(
    result: BacktestResult,
    symbol: str | None = None,
    figsize: tuple[float, float] | None = None,
) -> Figure:
    """Three stacked panels sharing x: equity vs buy-and-hold, drawdown [%], price with trades."""
    if symbol is None:
        symbol = next(iter(result.prices), None)
    elif symbol not in result.prices:
        raise ConfigError(f"no prices for symbol {symbol!r}; have {sorted(result.prices)}")

    fig = Figure(figsize=figsize or (11, 8), layout="constrained")
    ax_eq, ax_dd, ax_px = fig.subplots(3, 1, sharex=True, gridspec_kw={"height_ratios": [3, 1, 2]})
    eq = result.equity
    x = naive_utc(eq.index)

    ax_eq.plot(x, eq["equity"].to_numpy(), color="tab:blue", lw=1.2, label="Strategy")
    hold = buy_and_hold_curve(result.prices, eq.index, result.initial_cash)
    ax_eq.plot(x, hold.to_numpy(), color="grey", lw=1, alpha=0.8, label="Buy & hold")
    ax_eq.set_ylabel("Equity")
    ax_eq.legend(loc="upper left", framealpha=0.8)

    dd = eq["drawdown"].to_numpy() * 100
    ax_dd.fill_between(x, dd, 0, color="tab:red", alpha=0.35, lw=0)
    ax_dd.set_ylabel("Drawdown [%]")

    _price_panel(ax_px, result, symbol)
    ax_px.set_xlabel("Time (UTC)")

    params = ", ".join(f"{k}={v!r}" for k, v in result.params.items())
    fig.suptitle(f"{result.strategy}({params})" if params else result.strategy)
    for ax in (ax_eq, ax_dd, ax_px):
        ax.grid(alpha=0.3)
    return fig


def _price_panel(ax, result: BacktestResult, symbol: str | None) -> None:
    """Close as a line, entries as green ^ and exits as red v; open lots as hollow ^."""
    if symbol is None:
        ax.text(0.5, 0.5, "no prices", ha="center", va="center", transform=ax.transAxes)
        return
    close = result.prices[symbol]["close"]
    ax.plot(naive_utc(close.index), close.to_numpy(), color="black", lw=0.9, label=symbol)
    trades = result.trades
    trades = trades[trades["symbol"] == symbol]
    if len(trades):
        ax.scatter(
            naive_utc(trades["entry_time"]),
            trades["entry_price"],
            marker="^",
            color="green",
            s=40,
            zorder=3,
            label="Entry",
        )
        ax.scatter(
            naive_utc(trades["exit_time"]),
            trades["exit_price"],
            marker="v",
            color="red",
            s=40,
            zorder=3,
            label="Exit",
        )
    lots = result.open_positions
    lots = lots[lots["symbol"] == symbol]
    if len(lots):
        ax.scatter(
            naive_utc(lots["entry_time"]),
            lots["entry_price"],
            marker="^",
            facecolors="none",
            edgecolors="green",
            s=40,
            zorder=3,
            label="Open",
        )
    ax.set_ylabel(symbol)
    ax.legend(loc="upper left", framealpha=0.8)
