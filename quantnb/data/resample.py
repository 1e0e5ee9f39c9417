"""Aggregate canonical bars to a coarser interval (first/max/min/last/sum), never to a finer one.

Intraday bins are left-closed and labelled by their start; daily bins are New York trading dates
labelled 00:00 UTC of that date; weekly bins are labelled by the Monday of the week.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from quantnb.data.sample import NEW_YORK
from quantnb.domain.interval import VALID_INTERVALS, Interval
from quantnb.errors import DataError, IntervalError

_NS = 1_000_000_000
_NS_PER_DAY = 86_400 * _NS
_EPOCH_WEEKDAY = 3  # 1970-01-01 was a Thursday


def infer_interval(df: pd.DataFrame) -> Interval | None:
    """The interval a frame holds: ``attrs["interval"]``, else the most common bar spacing.

    Returns None when it cannot tell (fewer than two bars, or spacing finer than one minute).
    """
    name = df.attrs.get("interval")
    if isinstance(name, str | Interval) and str(name) in VALID_INTERVALS:
        return Interval.parse(name)
    if len(df.index) < 2:
        return None
    steps = np.diff(df.index.asi8)
    steps = steps[steps > 0]
    if len(steps) == 0:
        return None
    values, counts = np.unique(steps, return_counts=True)
    typical = int(values[np.argmax(counts)]) // _NS
    fitting = [iv for iv in map(Interval.parse, VALID_INTERVALS) if iv.seconds <= typical]
    return max(fitting) if fitting else None


def session_days(index: pd.DatetimeIndex, intraday: bool) -> np.ndarray:
    """Each bar's trading day as days since 1970: the New York date for intraday bars, the UTC
    date (how daily bars are stamped) otherwise."""
    if intraday:
        local = index.tz_convert(NEW_YORK).tz_localize(None).as_unit("ns").asi8
        return local // _NS_PER_DAY
    return index.as_unit("ns").asi8 // _NS_PER_DAY


def resample(
    data: pd.DataFrame | dict[str, pd.DataFrame], interval: Interval | str
) -> pd.DataFrame | dict[str, pd.DataFrame]:
    """Bars of ``data`` (a frame or a dict of frames) aggregated to the coarser ``interval``."""
    if isinstance(data, dict):
        return {sym: resample(df, interval) for sym, df in data.items()}
    target = Interval.parse(interval)
    symbol = data.attrs.get("symbol", "bars")
    source = infer_interval(data)
    if source is not None and target < source:
        raise IntervalError(
            f"{symbol}: cannot resample {source} bars to the finer interval {target}; "
            f"ask for {source} or a coarser interval, or load finer data"
        )
    if source == target or len(data) == 0:
        out = data.copy(deep=False)
    else:
        out = _aggregate(data, _bin_keys(data.index, target, source), symbol)
    out.attrs = {**data.attrs, "interval": target.name}
    return out


def _bin_keys(index: pd.DatetimeIndex, target: Interval, source: Interval | None) -> np.ndarray:
    """Each bar's bin label as int64 ns UTC; non-decreasing when the index is sorted."""
    ns = index.as_unit("ns").asi8
    if target.is_intraday:
        step = target.seconds * _NS
        return ns // step * step
    if source is not None:
        from_intraday = source.is_intraday
    else:
        from_intraday = bool((ns % _NS_PER_DAY).any())
    days = session_days(index, from_intraday)
    if target.name == "1w":
        days = days - (days + _EPOCH_WEEKDAY) % 7
    return days * _NS_PER_DAY


def _aggregate(df: pd.DataFrame, keys: np.ndarray, symbol: str) -> pd.DataFrame:
    if len(keys) > 1 and (np.diff(keys) < 0).any():
        raise DataError(
            f"{symbol}: timestamps are not sorted, so bars cannot be resampled; "
            "sort them with df.sort_index()"
        )
    starts = np.flatnonzero(np.r_[True, keys[1:] != keys[:-1]])
    ends = np.r_[starts[1:], len(keys)] - 1
    col = {c: df[c].to_numpy(dtype=np.float64) for c in ("open", "high", "low", "close", "volume")}
    index = pd.DatetimeIndex(keys[starts].view("datetime64[ns]")).tz_localize("UTC")
    return pd.DataFrame(
        {
            "open": col["open"][starts],
            "high": np.maximum.reduceat(col["high"], starts),
            "low": np.minimum.reduceat(col["low"], starts),
            "close": col["close"][ends],
            "volume": np.add.reduceat(col["volume"], starts),
        },
        index=index.rename("time"),
    )
