"""What the result views (HTML, plot) read from a backtest result; they import this, not it."""

from __future__ import annotations

from typing import Any, Protocol

import pandas as pd


class ResultData(Protocol):
    """The read-only face of a ``BacktestResult`` that the HTML view and the plot need."""

    equity: pd.DataFrame
    prices: dict[str, pd.DataFrame]
    initial_cash: float
    interval: str
    strategy: str
    params: dict[str, Any]

    @property
    def trades(self) -> pd.DataFrame: ...

    @property
    def open_positions(self) -> pd.DataFrame: ...

    @property
    def stats(self) -> pd.Series: ...

    @property
    def meta(self) -> dict[str, Any]: ...


def title(result: ResultData) -> str:
    """``Strategy(a=1, b=2)``, or the bare strategy name without parameters."""
    params = ", ".join(f"{k}={v!r}" for k, v in result.params.items())
    return f"{result.strategy}({params})" if params else str(result.strategy)
