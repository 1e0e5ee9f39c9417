"""Performance statistics of a backtest: one pure function from results to a pandas Series."""

from __future__ import annotations

import logging
import math

import numpy as np
import pandas as pd

from quantnb.domain.interval import Interval

log = logging.getLogger(__name__)

STATS_DOC: dict[str, str] = {
    "Start": "Time of the first bar of the equity curve (UTC).",
    "End": "Time of the last bar of the equity curve (UTC).",
    "Duration": "Time between the first and the last bar.",
    "Initial equity": "Cash the backtest started with.",
    "Final equity": "Cash plus market value of all positions at the last bar.",
    "Total return [%]": "Final equity over initial equity, minus one.",
    "Buy & hold return [%]": "Equal-weight return of holding each symbol from first to last close.",
    "CAGR [%]": "Compound annual growth rate, with years counted in bars of the interval.",
    "Annual volatility [%]": "Standard deviation of per-bar returns, times sqrt(bars per year).",
    "Sharpe ratio": "Mean over standard deviation of per-bar returns, annualised (risk-free 0).",
    "Sortino ratio": "Mean per-bar return over downside deviation, annualised (target 0).",
    "Max drawdown [%]": "Deepest fall of equity below its running maximum (negative).",
    "Max drawdown duration": "Longest time from an equity peak until it was regained (or the end).",
    "Calmar ratio": "CAGR over the absolute max drawdown.",
    "Trades": "Number of closed round trips (FIFO-matched entry and exit quantities).",
    "Win rate [%]": "Share of round trips with a positive net P&L.",
    "Profit factor": "Sum of net gains of winning trades over sum of net losses of losing trades.",
    "Average trade [%]": "Arithmetic mean of the net return of round trips on entry notional.",
    "Best trade [%]": "Highest net return of a round trip on its entry notional.",
    "Worst trade [%]": "Lowest net return of a round trip on its entry notional.",
    "Exposure [%]": "Share of bars with any open position (gross exposure above zero).",
    "Commissions": "Total commission paid over all fills.",
}
STATS_KEYS: list[str] = list(STATS_DOC)

_TRADING_DAYS = 252
_SESSION_SECONDS = 6.5 * 3600
_WEEK_SECONDS = 7 * 86400


def periods_per_year(interval: Interval | str) -> float:
    """Bars per year: 252 for "1d", 52 for "1w", and 252 sessions times the bars a 6.5 h session
    holds (7 hourly bars: 09:30 is a bar of its own, as IB and the sample data stamp them)."""
    seconds = Interval.parse(interval).seconds
    if seconds >= _WEEK_SECONDS:
        return 52 * _WEEK_SECONDS / seconds
    if seconds >= 86400:
        return _TRADING_DAYS * 86400 / seconds
    return _TRADING_DAYS * math.ceil(_SESSION_SECONDS / seconds)


def _ratio(num: float, den: float) -> float:
    """num/den; +inf or -inf for a zero denominator under a non-zero numerator, else NaN."""
    if not (math.isfinite(num) and math.isfinite(den)):
        return math.nan
    if den == 0:
        return math.copysign(math.inf, num) if num != 0 else math.nan
    return num / den


def drawdown(equity: pd.Series) -> pd.Series:
    """Fraction below the running maximum: equity / cummax − 1 (≤ 0)."""
    return equity / equity.cummax() - 1.0


def max_drawdown_duration(dd: pd.Series) -> pd.Timedelta:
    """Longest span from a peak to the bar that regains it, or to the last bar if never regained."""
    under = dd.to_numpy() < 0
    if not under.any():
        return pd.Timedelta(0)
    times = dd.index
    edges = np.diff(np.concatenate([[False], under, [False]]).astype(np.int8))
    starts = np.flatnonzero(edges == 1)  # first bar under water; the bar before is the peak
    stops = np.flatnonzero(edges == -1)  # first bar back at a peak (may be one past the end)
    peaks = times[np.maximum(starts - 1, 0)]
    ends = times[np.minimum(stops, len(times) - 1)]
    return pd.Timedelta((ends - peaks).max())


def buy_and_hold_return(prices: dict[str, pd.DataFrame], start=None, end=None) -> float:
    """Equal-weight mean over symbols of last close / first close − 1 within [start, end]."""
    rets = []
    for frame in prices.values():
        close = frame["close"].loc[start:end].dropna()
        if len(close) and close.iloc[0] > 0:
            rets.append(close.iloc[-1] / close.iloc[0] - 1.0)
    return float(np.mean(rets)) if rets else math.nan


def compute_stats(
    equity: pd.DataFrame,
    trades: pd.DataFrame,
    fills: pd.DataFrame,
    prices: dict[str, pd.DataFrame],
    initial_cash: float,
    interval: Interval | str,
) -> pd.Series:
    """The ``STATS_KEYS`` statistics of one backtest (see ``STATS_DOC``); inputs are not changed."""
    ppy = periods_per_year(interval)
    eq = equity["equity"].astype(float)
    n = len(eq)
    out: dict[str, object] = dict.fromkeys(STATS_KEYS, math.nan)
    out["Initial equity"] = float(initial_cash)
    out["Trades"] = len(trades)
    out["Commissions"] = float(fills["commission"].sum()) if len(fills) else 0.0
    _trade_stats(out, trades)
    if n == 0:
        out.update({"Start": pd.NaT, "End": pd.NaT, "Duration": pd.NaT})
        out["Max drawdown duration"] = pd.NaT
        return pd.Series(out, index=STATS_KEYS, dtype=object)

    start, end = eq.index[0], eq.index[-1]
    final = float(eq.iloc[-1])
    growth = _ratio(final, float(initial_cash))
    years = (n - 1) / ppy
    cagr = growth ** (1 / years) - 1 if years > 0 and growth > 0 else math.nan

    rets = eq.pct_change().iloc[1:]
    rets = rets[np.isfinite(rets)]
    mean = float(rets.mean()) if len(rets) else math.nan
    std = float(rets.std(ddof=1)) if len(rets) > 1 else math.nan
    downside = float(np.sqrt(np.mean(np.minimum(rets.to_numpy(), 0.0) ** 2))) if len(rets) else 0
    root = math.sqrt(ppy)

    dd = equity["drawdown"] if "drawdown" in equity else drawdown(eq)
    max_dd = float(dd.min())

    out.update(
        {
            "Start": start,
            "End": end,
            "Duration": end - start,
            "Final equity": final,
            "Total return [%]": (growth - 1) * 100,
            "Buy & hold return [%]": buy_and_hold_return(prices, start, end) * 100,
            "CAGR [%]": cagr * 100,
            "Annual volatility [%]": std * root * 100,
            "Sharpe ratio": _ratio(mean, std) * root if len(rets) > 1 else math.nan,
            "Sortino ratio": _ratio(mean, downside) * root if len(rets) else math.nan,
            "Max drawdown [%]": max_dd * 100,
            "Max drawdown duration": max_drawdown_duration(dd),
            "Calmar ratio": _ratio(cagr, abs(max_dd)),
        }
    )
    if "gross_exposure" in equity:
        out["Exposure [%]"] = float((equity["gross_exposure"] > 0).mean() * 100)
    return pd.Series(out, index=STATS_KEYS, dtype=object)


def _trade_stats(out: dict[str, object], trades: pd.DataFrame) -> None:
    """Fill in the per-trade statistics; they stay NaN when there are no trades."""
    if len(trades) == 0:
        return
    pnl = trades["pnl"].astype(float)
    ret = trades["return"].astype(float)
    out["Win rate [%]"] = float((pnl > 0).mean() * 100)
    out["Profit factor"] = _ratio(float(pnl[pnl > 0].sum()), float(-pnl[pnl < 0].sum()))
    out["Average trade [%]"] = float(ret.mean() * 100)
    out["Best trade [%]"] = float(ret.max() * 100)
    out["Worst trade [%]"] = float(ret.min() * 100)
