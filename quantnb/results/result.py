"""The result of one backtest: the raw frames, plus trades, stats, a plot and a notebook view."""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any

import pandas as pd

from quantnb.results.fmt import format_time
from quantnb.results.frames import rejections_frame
from quantnb.results.stats import compute_stats, drawdown
from quantnb.results.trades import open_lots, round_trips

if TYPE_CHECKING:
    from matplotlib.figure import Figure

log = logging.getLogger(__name__)


@dataclass(eq=False, repr=False)
class BacktestResult:
    """Everything a backtest produced; ``trades`` and ``stats`` are derived on first use."""

    equity: pd.DataFrame
    fills: pd.DataFrame
    orders: pd.DataFrame
    prices: dict[str, pd.DataFrame]
    initial_cash: float
    interval: str
    strategy: str
    params: dict[str, Any]
    rejections: pd.DataFrame = field(default_factory=lambda: rejections_frame(()))
    elapsed: float = 0.0
    # with futures or FX: cash in each currency per bar, the margin calls, the instruments
    cash_by_currency: pd.DataFrame | None = None
    margin_calls: pd.DataFrame | None = None
    instruments: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if "drawdown" not in self.equity.columns:
            # A copy, so the engine's frame is not changed behind its back.
            self.equity = self.equity.assign(drawdown=drawdown(self.equity["equity"]))

    @cached_property
    def trades(self) -> pd.DataFrame:
        """Closed round trips (see ``round_trips``); futures and FX P&L in the account's
        currency."""
        if self.instruments:
            from quantnb.results.instrument_trades import in_account_currency

            return in_account_currency(round_trips(self.fills), self.instruments)
        return round_trips(self.fills)

    @cached_property
    def open_positions(self) -> pd.DataFrame:
        """Lots still open at the end of the backtest (see ``open_lots``)."""
        return open_lots(self.fills)

    @cached_property
    def stats(self) -> pd.Series:
        """Performance statistics (keys ``STATS_KEYS``, meanings ``STATS_DOC``) with the default
        conventions: risk-free 0 and the interval's bars per year (see ``compute_stats``)."""
        return self.compute_stats()

    def compute_stats(
        self, *, risk_free: float = 0.0, periods_per_year: float | None = None
    ) -> pd.Series:
        """The statistics under other conventions: ``risk_free`` an annual rate (0.02 is 2%),
        ``periods_per_year`` the bars in a year (e.g. 365 for daily crypto bars)."""
        stats = compute_stats(
            self.equity,
            self.trades,
            self.fills,
            self.prices,
            self.initial_cash,
            self.interval,
            risk_free=risk_free,
            periods_per_year=periods_per_year,
        )
        stats.name = self.strategy
        return stats

    @cached_property
    def meta(self) -> dict[str, Any]:
        """How the run's prices were prepared: ``meta["adjustment"]`` maps each symbol to
        "none", "adj_close" or "actions" (see ``qn.data.load(adjust=...)``)."""
        return {
            "adjustment": {
                symbol: frame.attrs.get("adjustment", "none")
                for symbol, frame in self.prices.items()
            }
        }

    def plot(
        self,
        symbols: str | Sequence[str] | None = None,
        *,
        candles: bool = False,
        volume: bool = False,
        figsize: tuple[float, float] | None = None,
    ) -> Figure:
        """Equity vs buy-and-hold, drawdown, and a price panel per symbol (all, or ``symbols``)
        with entries and exits marked by P&L; ``candles``/``volume`` draw OHLC and volume.
        In a notebook the figure shows once as an image; scripts call ``.savefig(path)``."""
        from quantnb.results.plot import plot_result

        return plot_result(self, symbols, candles=candles, volume=volume, figsize=figsize)

    def _repr_html_(self) -> str:
        from quantnb.results.html import result_html

        return result_html(self)

    def __repr__(self) -> str:
        s = self.stats
        span = "empty"
        if len(self.equity):
            span = f"{format_time(s['Start'])} .. {format_time(s['End'])}"
        return (
            f"<BacktestResult {self.strategy} {span} ({self.interval}): "
            f"return {_num(s['Total return [%]'])}%, Sharpe {_num(s['Sharpe ratio'])}, "
            f"max drawdown {_num(s['Max drawdown [%]'])}%, trades {s['Trades']}>"
        )


def _num(value: float) -> str:
    return f"{value:.2f}" if isinstance(value, float) and math.isfinite(value) else str(value)
