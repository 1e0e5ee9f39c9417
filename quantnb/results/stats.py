"""Performance statistics of a backtest: one pure function from results to a pandas Series.

Conventions (README "Statistics"): per-bar returns are the equity curve's percent changes;
"bars per year" annualises them (``bars_per_year``); the risk-free rate is 0 unless given, as an
annual rate compounded per bar; standard deviations are sample ones (ddof=1).
"""

from __future__ import annotations

import logging
import math

import numpy as np
import pandas as pd

from quantnb.domain.interval import Interval
from quantnb.errors import ConfigError
from quantnb.results.frames import _text_dtype

log = logging.getLogger(__name__)

STATS_DOC: dict[str, str] = {
    "Start": "Time of the first bar of the equity curve (UTC).",
    "End": "Time of the last bar of the equity curve (UTC).",
    "Duration": "Time between the first and the last bar.",
    "Initial equity": "Cash the backtest started with.",
    "Final equity": "Cash plus market value of all positions at the last bar.",
    "Equity peak": "Highest equity at any bar's close.",
    "Total return [%]": "Final equity over initial equity, minus one.",
    "Buy & hold return [%]": "Equal-weight return of holding each symbol from first to last close.",
    "CAGR [%]": "Compound annual growth rate; years are (bars − 1) / bars per year.",
    "Annual volatility [%]": "Sample standard deviation of per-bar returns × √(bars per year).",
    "Sharpe ratio": "Mean over sample standard deviation of per-bar excess returns, "
    "× √(bars per year).",
    "Sortino ratio": "Mean per-bar excess return over downside deviation (target: risk-free), "
    "× √(bars per year).",
    "Alpha [%]": "Annualised Jensen's alpha against the buy & hold curve: "
    "(1 + mean(r − rf − β·(b − rf)))^(bars per year) − 1.",
    "Beta": "Covariance of per-bar returns with buy & hold's over buy & hold's variance.",
    "Max drawdown [%]": "Deepest fall of equity below its running maximum (negative).",
    "Average drawdown [%]": "Mean depth of the drawdowns (each from a peak until regained).",
    "Max drawdown duration": "Longest time from an equity peak until it was regained (or the end).",
    "Average drawdown duration": "Mean time from an equity peak until it was regained (or the "
    "end), in whole seconds.",
    "Calmar ratio": "CAGR over the absolute max drawdown.",
    "Trades": "Number of closed round trips (FIFO-matched entry and exit quantities).",
    "Win rate [%]": "Share of round trips with a positive net P&L.",
    "Profit factor": "Sum of net gains of winning trades over sum of net losses of losing trades.",
    "Expectancy": "Mean net P&L of a round trip, in account currency.",
    "SQN": "System quality number: √(trades) × mean over sample standard deviation of net P&L.",
    "Kelly criterion": "Win rate − loss share / (mean win / mean loss), from net P&L.",
    "Average trade [%]": "Arithmetic mean of the net return of round trips on entry notional.",
    "Best trade [%]": "Highest net return of a round trip on its entry notional.",
    "Worst trade [%]": "Lowest net return of a round trip on its entry notional.",
    "Max trade duration": "Longest time from a round trip's entry fill to its exit fill.",
    "Average trade duration": "Mean time from a round trip's entry fill to its exit fill, in whole "
    "seconds.",
    "Exposure [%]": "Share of bars with any open position (gross exposure above zero).",
    "Commissions": "Total commission paid over all fills.",
}
STATS_KEYS: list[str] = list(STATS_DOC)

_TRADING_DAYS = 252
_KEYS_INDEX: dict[object, pd.Index] = {}  # the statistics' names by text dtype, made once
_SESSION_SECONDS = 6.5 * 3600
_WEEK_SECONDS = 7 * 86400


def bars_per_year(interval: Interval | str) -> float:
    """Bars per year: 252 for "1d", 52 for "1w", and 252 sessions times the bars a 6.5 h session
    holds (7 hourly bars: 09:30 is a bar of its own, as IB and the sample data stamp them)."""
    seconds = Interval.parse(interval).seconds
    if seconds >= _WEEK_SECONDS:
        return 52 * _WEEK_SECONDS / seconds
    if seconds >= 86400:
        return _TRADING_DAYS * 86400 / seconds
    return _TRADING_DAYS * math.ceil(_SESSION_SECONDS / seconds)


def per_bar_rate(annual: float, periods: float) -> float:
    """An annual rate as the per-bar rate that compounds to it: (1 + annual)^(1/periods) − 1."""
    return (1.0 + annual) ** (1.0 / periods) - 1.0


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


def drawdown_episodes(dd: pd.Series) -> pd.DataFrame:
    """One row per drawdown: ``peak`` (last bar at the high), ``end`` (first bar back at it, or
    the last bar if never regained), ``duration`` (end − peak) and ``depth`` (lowest dd, < 0)."""
    columns = ["peak", "end", "duration", "depth"]
    found = _episodes(dd.to_numpy())
    if found is None:
        return pd.DataFrame({c: pd.Series(dtype=object) for c in columns})
    peak_rows, end_rows, depth = found
    peaks, ends = dd.index[peak_rows], dd.index[end_rows]
    return pd.DataFrame(
        {"peak": peaks, "end": ends, "duration": ends - peaks, "depth": depth}, columns=columns
    )


def _episodes(values: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """Each drawdown's peak row (the last bar at the high), end row (the first bar back at it,
    or the last bar) and depth, from drawdown ``values``; None when there is none."""
    under = values < 0
    if not under.any():
        return None
    edges = np.diff(np.concatenate([[False], under, [False]]).astype(np.int8))
    starts = np.flatnonzero(edges == 1)  # first bar under water; the bar before is the peak
    stops = np.flatnonzero(edges == -1)  # first bar back at a peak (may be one past the end)
    depth = np.minimum.reduceat(values, starts)
    return np.maximum(starts - 1, 0), np.minimum(stops, len(values) - 1), depth


def max_drawdown_duration(dd: pd.Series) -> pd.Timedelta:
    """Longest span from a peak to the bar that regains it, or to the last bar if never regained."""
    episodes = drawdown_episodes(dd)
    return pd.Timedelta(episodes["duration"].max()) if len(episodes) else pd.Timedelta(0)


def buy_and_hold_curve(
    prices: dict[str, pd.DataFrame], clock: pd.DatetimeIndex, initial_cash: float
) -> pd.Series:
    """Equal-weight buy-and-hold of every symbol on the equity clock, scaled to initial cash."""
    curves = []
    for frame in prices.values():
        close = frame["close"]
        if not (close.index.equals(clock) and not close.hasnans):
            close = close.reindex(clock).ffill().bfill()  # (a no-op on the clock, without gaps)
        first = close.iloc[0] if len(close) else np.nan
        if np.isfinite(first) and first > 0:
            curves.append(close / first)
    if not curves:
        return pd.Series(np.nan, index=clock)
    if len(curves) == 1:
        # the mean of one curve is that curve (x / 1), without a frame of one column
        return (curves[0] * initial_cash).rename(None)
    return pd.concat(curves, axis=1).mean(axis=1) * initial_cash


def buy_and_hold_return(prices: dict[str, pd.DataFrame], start=None, end=None) -> float:
    """Equal-weight mean over symbols of last close / first close − 1 within [start, end]."""
    rets = []
    for frame in prices.values():
        close = frame["close"].loc[start:end].dropna()
        if len(close) and close.iloc[0] > 0:
            rets.append(close.iloc[-1] / close.iloc[0] - 1.0)
    return float(np.mean(rets)) if rets else math.nan


def _check_conventions(risk_free: float, periods: float) -> None:
    if not (isinstance(periods, int | float) and math.isfinite(periods) and periods > 0):
        raise ConfigError(
            f"periods_per_year={periods!r}: give the number of bars in a year, e.g. 252 for "
            "daily stock bars or 365 for daily crypto bars"
        )
    if not (isinstance(risk_free, int | float) and math.isfinite(risk_free) and risk_free > -1):
        raise ConfigError(
            f"risk_free={risk_free!r}: give an annual rate as a fraction, e.g. 0.02 for 2%"
        )


def compute_stats(
    equity: pd.DataFrame,
    trades: pd.DataFrame,
    fills: pd.DataFrame,
    prices: dict[str, pd.DataFrame],
    initial_cash: float,
    interval: Interval | str,
    *,
    risk_free: float = 0.0,
    periods_per_year: float | None = None,
) -> pd.Series:
    """The ``STATS_KEYS`` statistics of one backtest (see ``STATS_DOC``); inputs are not changed.

    ``risk_free``: annual rate (0.02 is 2%); ``periods_per_year``: bars per year, by default
    ``bars_per_year(interval)``. Both are kept in the Series' ``attrs``.
    """
    ppy = bars_per_year(interval) if periods_per_year is None else periods_per_year
    _check_conventions(risk_free, ppy)
    rf = per_bar_rate(float(risk_free), float(ppy))
    eq = equity["equity"].astype(float)
    n = len(eq)
    out: dict[str, object] = dict.fromkeys(STATS_KEYS, math.nan)
    out["Initial equity"] = float(initial_cash)
    out["Trades"] = len(trades)
    out["Commissions"] = _sum(fills["commission"]) if len(fills) else 0.0
    _trade_stats(out, trades)
    if n == 0:
        for key in ("Start", "End", "Duration", "Max drawdown duration"):
            out[key] = pd.NaT
        out["Average drawdown duration"] = pd.NaT
        return _series(out, risk_free, ppy)

    values = eq.to_numpy()
    index = eq.index
    start, end = index[0], index[-1]
    final = float(values[-1])
    growth = _ratio(final, float(initial_cash))
    years = (n - 1) / ppy
    cagr = growth ** (1 / years) - 1 if years > 0 and growth > 0 else math.nan

    pct = _returns(values)  # eq.pct_change()[1:], without pandas' overhead
    finite = np.isfinite(pct)
    rets = pct if finite.all() else pct[finite]
    del finite
    excess = rets - rf
    mean = float(excess.mean()) if len(rets) else math.nan
    std = float(pd.Series(rets, copy=False).std(ddof=1)) if len(rets) > 1 else math.nan
    np.minimum(excess, 0.0, out=excess)  # in place: a million bars' temporary is 8 MB
    downside = float(np.sqrt(np.mean(np.square(excess, out=excess)))) if len(rets) else 0
    n_rets = len(rets)
    del rets, excess
    root = math.sqrt(ppy)

    dd = equity["drawdown"] if "drawdown" in equity else drawdown(eq)
    max_dd = _min(dd)
    avg_dd, max_dur, avg_dur = _drawdown_figures(dd)

    # the benchmark's returns only: its curve is dropped as soon as they are taken
    bench, hold_return = _buy_and_hold(prices, index, float(initial_cash))
    alpha, beta = _alpha_beta(pct, bench, rf, ppy)
    del pct, bench

    out.update(
        {
            "Start": start,
            "End": end,
            "Duration": end - start,
            "Final equity": final,
            "Equity peak": _max(eq),
            "Total return [%]": (growth - 1) * 100,
            "Buy & hold return [%]": hold_return * 100,
            "CAGR [%]": cagr * 100,
            "Annual volatility [%]": std * root * 100,
            "Sharpe ratio": _ratio(mean, std) * root if n_rets > 1 else math.nan,
            "Sortino ratio": _ratio(mean, downside) * root if n_rets else math.nan,
            "Alpha [%]": alpha * 100,
            "Beta": beta,
            "Max drawdown [%]": max_dd * 100,
            "Average drawdown [%]": float(avg_dd),
            "Max drawdown duration": pd.Timedelta(max_dur),
            "Average drawdown duration": pd.Timedelta(avg_dur).round("s"),
            "Calmar ratio": _ratio(cagr, abs(max_dd)),
        }
    )
    if "gross_exposure" in equity:
        exposed = equity["gross_exposure"].to_numpy() > 0
        out["Exposure [%]"] = float(exposed.mean() * 100)
    return _series(out, risk_free, ppy)


# Reductions of float columns on their arrays, the same figures as pandas' (which skip NaN):
# numpy's when there is no NaN (a NaN result says there was one), else pandas'.
def _reduced(column: pd.Series, how: str) -> float:
    if column.dtype == np.float64:
        value = float(getattr(column.to_numpy(), how)())
        if value == value:
            return value
    return float(getattr(column, how)())


def _sum(column: pd.Series) -> float:
    return _reduced(column, "sum")


def _max(column: pd.Series) -> float:
    return _reduced(column, "max")


def _min(column: pd.Series) -> float:
    return _reduced(column, "min")


def _drawdown_figures(dd: pd.Series) -> tuple[float, pd.Timedelta, pd.Timedelta]:
    """The drawdowns' mean depth [%], longest and mean duration, as ``drawdown_episodes``
    gives them, from arrays rather than its table."""
    times = dd.index
    if not isinstance(times, pd.DatetimeIndex):
        episodes = drawdown_episodes(dd)
        if not len(episodes):
            return 0.0, pd.Timedelta(0), pd.Timedelta(0)
        durations = pd.to_timedelta(episodes["duration"])
        return episodes["depth"].mean() * 100, durations.max(), durations.mean()
    found = _episodes(dd.to_numpy())
    if found is None:
        return 0.0, pd.Timedelta(0), pd.Timedelta(0)
    peak_rows, end_rows, depth = found
    stamps = times.asi8
    durations = stamps[end_rows] - stamps[peak_rows]
    mean_depth = depth.mean()
    if mean_depth != mean_depth:
        mean_depth = pd.Series(depth).mean()
    spans = pd.array(durations.view(f"m8[{times.unit}]"))
    return mean_depth * 100, spans.max(), spans.mean()


def _buy_and_hold(
    prices: dict[str, pd.DataFrame], clock: pd.DatetimeIndex, initial_cash: float
) -> tuple[np.ndarray, float]:
    """Buy and hold's per-bar returns and its return from the first to the last bar: one
    symbol whose bars are the clock's, without gaps, from its closes directly."""
    if len(prices) == 1:
        close = next(iter(prices.values()))["close"]
        values = close.to_numpy()
        if values.dtype == np.float64 and close.index.equals(clock) and not np.isnan(values).any():
            first = values[0]
            if np.isfinite(first) and first > 0:
                curve = values / first
                curve *= initial_cash
                return _returns(curve), float(values[-1] / first - 1.0)
    curve = buy_and_hold_curve(prices, clock, initial_cash).to_numpy()
    return _returns(curve), buy_and_hold_return(prices, clock[0], clock[-1])


def _series(out: dict[str, object], risk_free: float, ppy: float) -> pd.Series:
    text = _text_dtype()
    keys = _KEYS_INDEX.get(text)
    if keys is None:
        keys = _KEYS_INDEX[text] = pd.Index(STATS_KEYS)
    # values in key order and a copy of the keys' index: what a dict would give, a third
    # of its cost (the copy: a name set on one result's index is not set on another's)
    values = [out[key] for key in STATS_KEYS]
    stats = pd.Series(values, index=keys.copy(), dtype=object)
    stats.attrs = {"risk_free": float(risk_free), "periods_per_year": float(ppy)}
    return stats


def _returns(values: np.ndarray) -> np.ndarray:
    """Per-bar percent changes from the second value on: ``pct_change()[1:]``, in one array."""
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.divide(values[1:], values[:-1])
    out -= 1.0
    return out


def _alpha_beta(r: np.ndarray, b: np.ndarray, rf: float, ppy: float) -> tuple[float, float]:
    """Annualised Jensen's alpha and beta of per-bar returns ``r`` against the benchmark's
    ``b`` (both from the second bar on). Temporaries are reused: each is 8 bytes a bar."""
    ok = np.isfinite(r)
    ok &= np.isfinite(b)
    if not ok.all():
        r, b = r[ok], b[ok]
    del ok
    if len(r) < 2:
        return math.nan, math.nan
    work = b - b.mean()  # the benchmark's residuals
    spare = np.square(work)  # a fresh 8 MB a million bars: reused below for the excess
    var = float(np.mean(spare))
    if var < 1e-30:  # a flat benchmark explains nothing
        return math.nan, math.nan
    np.multiply(work, r, out=work)
    beta = float(np.mean(work)) / var
    np.subtract(b, rf, out=work)
    work *= beta
    excess = np.subtract(r, rf, out=spare)
    excess -= work
    alpha = (1.0 + float(np.mean(excess))) ** ppy - 1.0
    return alpha, beta


def _trade_stats(out: dict[str, object], trades: pd.DataFrame) -> None:
    """Fill in the per-trade statistics; they stay NaN (NaT) when there are no trades."""
    if len(trades) == 0:
        out["Max trade duration"] = out["Average trade duration"] = pd.NaT
        return
    pnl = trades["pnl"].to_numpy(dtype=float)
    ret = trades["return"].to_numpy(dtype=float)
    durations = trades["duration"].array
    if np.isnan(pnl).any() or np.isnan(ret).any() or durations.dtype != "m8[ns]":
        # pandas' NaN-skipping reductions
        pnl, ret = trades["pnl"].astype(float), trades["return"].astype(float)
        durations = pd.to_timedelta(trades["duration"])
    _trade_figures(out, pnl, ret, durations)


def _trade_figures(out: dict[str, object], pnl, ret, durations) -> None:
    """The per-trade statistics from the round trips' P&L, returns and durations: numpy arrays
    without NaN, or Series whose reductions skip NaN."""
    won = pnl > 0
    wins, losses = pnl[won], pnl[pnl < 0]
    win_rate = float(won.mean())
    out["Win rate [%]"] = win_rate * 100
    out["Profit factor"] = _ratio(float(wins.sum()), float(-losses.sum()))
    out["Expectancy"] = float(pnl.mean())
    if len(pnl) > 1:
        std = float(pd.Series(pnl, copy=False).std(ddof=1))
        out["SQN"] = math.sqrt(len(pnl)) * _ratio(float(pnl.mean()), std)
    if len(wins) and len(losses):
        out["Kelly criterion"] = win_rate - (1 - win_rate) / (wins.mean() / -losses.mean())
    out["Average trade [%]"] = float(ret.mean() * 100)
    out["Best trade [%]"] = float(ret.max() * 100)
    out["Worst trade [%]"] = float(ret.min() * 100)
    out["Max trade duration"] = pd.Timedelta(durations.max())
    out["Average trade duration"] = pd.Timedelta(durations.mean()).round("s")
