"""Backtest results: round trips, statistics, plots and the notebook view."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from quantnb.results.result import BacktestResult
from quantnb.results.stats import STATS_DOC, STATS_KEYS, compute_stats
from quantnb.results.trades import open_lots, round_trips

if TYPE_CHECKING:
    from quantnb.results.plot import plot_result

__all__ = [
    "STATS_DOC",
    "STATS_KEYS",
    "BacktestResult",
    "compute_stats",
    "open_lots",
    "plot_result",
    "round_trips",
]


def __getattr__(name: str) -> Any:
    # matplotlib is imported on first use, not by ``import quantnb``.
    if name == "plot_result":
        from quantnb.results.plot import plot_result

        return plot_result
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
