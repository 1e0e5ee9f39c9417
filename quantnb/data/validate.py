"""Checks that a bar frame is usable: every problem raises a DataError naming symbol, row and value.

Checks are vectorized; each reports the first offending row and how many others share the problem.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd

from quantnb.errors import DataError

REQUIRED = ("open", "high", "low", "close", "volume")
PRICES = ("open", "high", "low", "close")


def validate(df: pd.DataFrame, symbol: str) -> pd.DataFrame:
    """Raise DataError on the first kind of bad data found; return ``df`` unchanged when clean."""
    if not isinstance(df, pd.DataFrame):
        raise DataError(f"{symbol}: expected a pandas DataFrame of bars, got {type(df).__name__}")
    missing = [c for c in REQUIRED if c not in df.columns]
    if missing:
        raise DataError(
            f"{symbol}: missing column(s) {', '.join(missing)}; found {list(df.columns)}. "
            "Bars need open, high, low, close, volume (load() renames common spellings)"
        )
    index = df.index
    if not isinstance(index, pd.DatetimeIndex):
        raise DataError(
            f"{symbol}: the index must be a DatetimeIndex of bar start times, got "
            f"{type(index).__name__}; load() or to_canonical() builds it from a time column"
        )
    if len(df) == 0:
        return df
    _check_index(index, symbol)
    cols = {c: _numbers(df[c], symbol) for c in REQUIRED}
    for name in REQUIRED:
        _fail_if(
            ~np.isfinite(cols[name]),
            index,
            symbol,
            lambda i, n=name: f"{n} is {_v(cols[n][i])} (NaN or infinite)",
            "fill or drop those rows, e.g. df.dropna()",
        )
    for name in PRICES:
        _fail_if(
            cols[name] <= 0,
            index,
            symbol,
            lambda i, n=name: f"{n} is {_v(cols[n][i])}, prices must be positive",
            "drop or correct those rows",
        )
    _fail_if(
        cols["volume"] < 0,
        index,
        symbol,
        lambda i: f"volume is {_v(cols['volume'][i])}, volume must not be negative",
        "drop or correct those rows",
    )
    o, h, lo, c = cols["open"], cols["high"], cols["low"], cols["close"]
    _fail_if(
        h < lo,
        index,
        symbol,
        lambda i: f"high < low (high={_v(h[i])}, low={_v(lo[i])})",
        "check the column order or swap the values",
    )
    _fail_if(
        h < np.maximum(o, c),
        index,
        symbol,
        lambda i: f"high {_v(h[i])} is below max(open={_v(o[i])}, close={_v(c[i])})",
        "high must be the bar's highest price; correct or drop those rows",
    )
    _fail_if(
        lo > np.minimum(o, c),
        index,
        symbol,
        lambda i: f"low {_v(lo[i])} is above min(open={_v(o[i])}, close={_v(c[i])})",
        "low must be the bar's lowest price; correct or drop those rows",
    )
    return df


def _check_index(index: pd.DatetimeIndex, symbol: str) -> None:
    values = index.asi8
    nat = np.asarray(index.isna())
    if nat.any():
        row = int(np.flatnonzero(nat)[0])
        raise DataError(
            f"{symbol}: missing timestamp (NaT) at row {row}"
            f"{_others(int(nat.sum()))}; drop those rows"
        )
    step = np.diff(values)
    back = np.flatnonzero(step < 0)
    if len(back):
        i = int(back[0]) + 1
        raise DataError(
            f"{symbol}: timestamps are not sorted: {index[i]} (row {i}) comes after "
            f"{index[i - 1]}{_others(len(back))}; sort them with df.sort_index()"
        )
    dup = np.flatnonzero(step == 0)
    if len(dup):
        i = int(dup[0]) + 1
        raise DataError(
            f"{symbol}: duplicate timestamp {index[i]} (row {i}){_others(len(dup))}; "
            "keep one bar per time, e.g. df[~df.index.duplicated(keep='last')]"
        )


def _numbers(column: pd.Series, symbol: str) -> np.ndarray:
    try:
        return column.to_numpy(dtype=np.float64, na_value=np.nan)
    except (TypeError, ValueError):
        bad = pd.to_numeric(column, errors="coerce").isna() & column.notna()
        i = int(np.flatnonzero(bad.to_numpy())[0]) if bad.any() else 0
        raise DataError(
            f"{symbol}: column {column.name} holds a non-number {column.iloc[i]!r} at "
            f"{column.index[i]} (row {i}); clean it or convert with pd.to_numeric"
        ) from None


def _fail_if(
    mask: np.ndarray, index: pd.DatetimeIndex, symbol: str, describe: Callable[[int], str], fix: str
) -> None:
    hits = np.flatnonzero(mask)
    if len(hits):
        i = int(hits[0])
        raise DataError(
            f"{symbol}: {describe(i)} at {index[i]} (row {i}){_others(len(hits))}; {fix}"
        )


def _v(value: float) -> str:
    return repr(float(value))


def _others(count: int) -> str:
    return f" and {count - 1} other row(s)" if count > 1 else ""
