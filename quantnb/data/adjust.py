"""Corporate actions: back-adjust bars for splits and dividends, and warn about unadjusted splits.

Back-adjustment keeps the last bar's prices as they are and scales every earlier bar, so that a
split or a dividend no longer reads as a loss. The choice is the caller's and is recorded in
``df.attrs["adjustment"]``: "none", "adj_close" (scaled by Adj Close / Close) or "actions" (from a
table of splits and dividends).
"""

from __future__ import annotations

import logging
import math
import warnings
from collections.abc import Mapping

import numpy as np
import pandas as pd

from quantnb.errors import ConfigError, DataError, UnadjustedSplitWarning

log = logging.getLogger(__name__)

ADJ_CLOSE_NAMES = frozenset({"adj close", "adjclose", "adjusted close", "adj. close"})
KINDS = ("none", "adj_close")

Actions = pd.DataFrame | Mapping[str, pd.DataFrame]
Adjust = str | Actions | None

_TIME_NAMES = frozenset({"time", "date", "datetime", "ex date", "exdate", "ex dividend date"})
_SYMBOL_NAMES = frozenset({"symbol", "ticker"})
_SPLIT_NAMES = frozenset({"split", "splits", "stock splits", "stock split", "split ratio"})
_DIVIDEND_NAMES = frozenset({"dividend", "dividends", "cash dividend"})
_PRICES = ["open", "high", "low", "close"]

# New shares per old share of the splits looked for; a reverse split is the inverse.
_SPLIT_RATIOS = (2.0, 3.0, 4.0, 5.0, 8.0, 10.0, 20.0)
_SPLIT_TOLERANCE = 0.1  # in log terms: the bar may also move ±10 % on its own
_MAX_LISTED = 5


def _norm(name: object) -> str:
    return " ".join(str(name).strip().lower().replace("_", " ").replace("-", " ").split())


def adjust_bars(
    bars: pd.DataFrame,
    symbol: str,
    adjust: Adjust,
    adj_close: np.ndarray | None = None,
    tz: str | None = None,
) -> pd.DataFrame:
    """``bars`` (canonical, validated) adjusted as ``adjust`` says, the choice said recorded in
    ``attrs["adjustment"]`` (absent when none was said: the prices as given).

    ``adjust``: None (only allowed when there is no Adj Close column), "none", "adj_close", or a
    table of splits and dividends (see ``corporate_actions``). ``adj_close``: the file's Adj Close
    column, if it had one, in the bars' row order.
    """
    before = bars.attrs.get("adjustment", "none")
    if adjust is None and adj_close is not None:
        raise ConfigError(
            f"{symbol}: the bars have an 'Adj Close' column; choose what to do with it: "
            "qn.data.load(..., adjust='adj_close') back-adjusts open, high, low and close by "
            "Adj Close / Close (splits and dividends), adjust='none' keeps the raw prices"
        )
    if isinstance(adjust, str) and adjust not in KINDS:
        raise ConfigError(
            f"adjust={adjust!r}: use 'none', 'adj_close' or a table of splits and dividends"
        )
    if adjust is None:
        out = bars  # nothing chosen, nothing to record: an absent record means "none"
    elif isinstance(adjust, str) and adjust == "none":
        out = bars.copy(deep=False)
        out.attrs = {**bars.attrs, "adjustment": before}
    else:
        if before != "none":
            raise ConfigError(
                f"{symbol}: the bars are already adjusted ({before!r}); adjusting them again "
                "would count each split and dividend twice: pass adjust='none'"
            )
        if isinstance(adjust, str):  # "adj_close"
            if adj_close is None:
                raise ConfigError(
                    f"{symbol}: adjust='adj_close' needs an 'Adj Close' column and the bars "
                    "have none; pass adjust='none' or a table of splits and dividends"
                )
            out, kind = back_adjust_by_adj_close(bars, adj_close, symbol), "adj_close"
        elif isinstance(adjust, pd.DataFrame | Mapping):
            actions = corporate_actions(adjust, symbol)
            out, kind = back_adjust(bars, actions, symbol, tz), "actions"
        else:
            raise ConfigError(
                f"adjust= takes 'none', 'adj_close' or a DataFrame of splits and dividends, "
                f"got {type(adjust).__name__}"
            )
        out.attrs["adjustment"] = kind
    warn_unadjusted_splits(out, symbol)
    return out


def check_actions_name_symbols(adjust: Adjust, symbols: list[str]) -> None:
    """A table without a symbol column cannot say which of several symbols it is about."""
    if not (len(symbols) > 1 and isinstance(adjust, pd.DataFrame)):
        return
    if not any(_norm(c) in _SYMBOL_NAMES for c in adjust.columns):
        raise ConfigError(
            f"the table of splits and dividends has no symbol column, and the bars hold "
            f"{len(symbols)} symbols ({', '.join(symbols[:5])}); add a 'symbol' column or "
            "pass a dict of symbol -> table"
        )


def back_adjust_by_adj_close(
    bars: pd.DataFrame, adj_close: np.ndarray, symbol: str
) -> pd.DataFrame:
    """Open, high, low and close times Adj Close / Close of their bar; volume as it is."""
    adj = np.asarray(adj_close, dtype=np.float64)
    bad = np.flatnonzero(~(np.isfinite(adj) & (adj > 0)))
    if len(bad):
        i = int(bad[0])
        raise DataError(
            f"{symbol}: Adj Close is {float(adj[i])!r} at {bars.index[i]} (row {i}) and "
            f"{len(bad) - 1} other rows; it must be a positive number to adjust by"
        )
    return _scaled(bars, adj / bars["close"].to_numpy(), None)


def corporate_actions(table: Actions, symbol: str) -> pd.DataFrame:
    """One symbol's splits and dividends: a frame indexed by ex-date (naive calendar dates),
    ascending, with float columns ``split`` (new shares per old, 1 for none) and ``dividend``
    (cash per share, 0 for none).

    ``table``: a DataFrame with the ex-dates as its index or in a time/date/ex_date column, a
    ``split`` and/or a ``dividend`` column (yfinance's "Stock Splits" and "Dividends" work too)
    and, for several symbols, a ``symbol`` column; or a dict of symbol -> such a DataFrame.
    An ex-date is the date as written: its time of day and time zone are dropped.
    """
    if isinstance(table, Mapping):
        if symbol not in table:
            return pd.DataFrame(
                {"split": [], "dividend": []}, index=pd.DatetimeIndex([], dtype="datetime64[ns]")
            )
        table = table[symbol]
    if not isinstance(table, pd.DataFrame):
        raise ConfigError(
            f"{symbol}: the splits and dividends must be a DataFrame, got {type(table).__name__}"
        )
    names = {_norm(c): c for c in table.columns}
    sym_col = next((c for n, c in names.items() if n in _SYMBOL_NAMES), None)
    if sym_col is not None:
        table = table[table[sym_col].astype(str) == symbol]
    split_col = next((c for n, c in names.items() if n in _SPLIT_NAMES), None)
    div_col = next((c for n, c in names.items() if n in _DIVIDEND_NAMES), None)
    if split_col is None and div_col is None:
        raise ConfigError(
            f"{symbol}: the table of corporate actions has no 'split' or 'dividend' column; "
            f"found {list(table.columns)}"
        )
    times = _ex_dates(table, names, symbol)
    split = _amounts(table, split_col, symbol, "split", times).replace(0.0, 1.0).fillna(1.0)
    dividend = _amounts(table, div_col, symbol, "dividend", times).fillna(0.0)
    out = pd.DataFrame({"split": split, "dividend": dividend}, index=times)
    return out[(out["split"] != 1.0) | (out["dividend"] != 0.0)].sort_index(kind="mergesort")


def _ex_dates(table: pd.DataFrame, names: dict[str, object], symbol: str) -> pd.DatetimeIndex:
    col = next((c for n, c in names.items() if n in _TIME_NAMES), None)
    if col is not None:
        raw = table[col]
    elif isinstance(table.index, pd.DatetimeIndex) or _norm(table.index.name) in _TIME_NAMES:
        raw = table.index
    else:
        raise ConfigError(
            f"{symbol}: the table of corporate actions has no dates; put the ex-dates in its "
            "index or in a 'date' column"
        )
    try:
        times = pd.DatetimeIndex(pd.to_datetime(raw))
    except (ValueError, TypeError) as exc:
        raise DataError(f"{symbol}: cannot read the corporate actions' dates: {exc}") from None
    if times.tz is not None:
        times = times.tz_localize(None)  # the wall-clock date in the table's own zone
    return times.normalize().as_unit("ns")


def _amounts(
    table: pd.DataFrame, col: object, symbol: str, what: str, times: pd.DatetimeIndex
) -> pd.Series:
    if col is None:
        return pd.Series(np.nan, index=times)
    values = pd.to_numeric(table[col], errors="coerce").to_numpy(dtype=np.float64)
    bad = np.flatnonzero(
        (np.isnan(values) & table[col].notna().to_numpy()) | (values < 0) | np.isinf(values)
    )
    if len(bad):
        i = int(bad[0])
        raise DataError(
            f"{symbol}: {what} {_plain(table[col].iloc[i])!r} on {times[i].date()} is not a "
            "non-negative number; splits are new shares per old share (2 for 2-for-1), "
            "dividends cash per share"
        )
    return pd.Series(values, index=times)


def action_factors(
    bars: pd.DataFrame, actions: pd.DataFrame, symbol: str, tz: str | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Per bar, the factors its prices and its volume are multiplied by to back-adjust them.

    An action applies to the bars before the first bar dated on or after its ex-date, the bars'
    dates taken in ``tz`` (UTC if None): a split of ratio r divides their prices by r and
    multiplies their volume by r; a dividend D multiplies their prices by 1 − D / (the close of
    the bar before the ex-date). Actions on or before the first bar's date, or after the last
    bar, change nothing here.
    """
    n = len(bars)
    close = bars["close"].to_numpy()
    price_at, volume_at = np.ones(n + 1), np.ones(n + 1)
    dates = bars.index.tz_convert(tz or "UTC").tz_localize(None).normalize()
    where = dates.searchsorted(actions.index, side="left")
    for pos, when, split, dividend in zip(
        where, actions.index, actions["split"].to_numpy(), actions["dividend"].to_numpy()
    ):
        if pos == 0 or pos >= n:
            log.debug("%s: the action on %s is outside the bars; nothing to adjust", symbol, when)
            continue
        prev = close[pos - 1]
        if dividend >= prev:
            raise DataError(
                f"{symbol}: a dividend of {dividend} on {when.date()} is not below the previous "
                f"close {prev}; dividends must be in the bars' per-share units"
            )
        price_at[pos] *= (1.0 - dividend / prev) / split
        volume_at[pos] *= split
    # bar i is scaled by every action after it: a reversed cumulative product, shifted by one
    price = np.cumprod(price_at[::-1])[::-1][1:]
    volume = np.cumprod(volume_at[::-1])[::-1][1:]
    return price, volume


def back_adjust(
    bars: pd.DataFrame, actions: pd.DataFrame, symbol: str, tz: str | None = None
) -> pd.DataFrame:
    """``bars`` back-adjusted for ``actions`` (as from ``corporate_actions``; see
    ``action_factors``)."""
    price, volume = action_factors(bars, actions, symbol, tz)
    log.info(
        "%s: back-adjusted by a factor of %.6g on the first bar, for %d action(s) in the table",
        symbol,
        price[0] if len(price) else 1.0,
        len(actions),
    )
    return _scaled(bars, price, volume)


def _scaled(bars: pd.DataFrame, price: np.ndarray, volume: np.ndarray | None) -> pd.DataFrame:
    out = bars.copy()
    out[_PRICES] = bars[_PRICES].to_numpy() * price[:, None]
    if volume is not None:
        out["volume"] = bars["volume"].to_numpy() * volume
    out.attrs = dict(bars.attrs)
    return out


def unadjusted_splits(bars: pd.DataFrame) -> list[tuple[pd.Timestamp, float, float]]:
    """Bars that open and close near 2, 3, 4, 5, 8, 10 or 20 times (or a fraction as much as)
    the previous close: (time, close ratio, the split it looks like as new shares per old)."""
    close = bars["close"].to_numpy()
    if len(close) < 2:
        return []
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = close[1:] / close[:-1]
    # moves of at least the smallest split, found on ratios; logs only for those few bars
    least = math.log(min(_SPLIT_RATIOS)) - _SPLIT_TOLERANCE
    big = np.flatnonzero((ratio > math.exp(least)) | (ratio < math.exp(-least)))
    with np.errstate(divide="ignore", invalid="ignore"):
        move = np.log(ratio[big])
        gap = np.log(bars["open"].to_numpy()[1:][big] / close[:-1][big])
    candidates = np.log(np.r_[_SPLIT_RATIOS, 1 / np.asarray(_SPLIT_RATIOS)])
    nearest = candidates[np.abs(move[:, None] - candidates[None, :]).argmin(axis=1)]
    hit = (np.abs(move - nearest) < _SPLIT_TOLERANCE) & (np.abs(gap - nearest) < _SPLIT_TOLERANCE)
    return [
        (bars.index[i + 1], float(math.exp(m)), float(math.exp(-near)))
        for i, m, near in zip(big[hit], move[hit], nearest[hit])
    ]


def warn_unadjusted_splits(bars: pd.DataFrame, symbol: str) -> None:
    """Warn (``UnadjustedSplitWarning``) naming each bar that looks like an unadjusted split."""
    found = unadjusted_splits(bars)
    if not found:
        return
    listed = "; ".join(
        f"{time} close ×{ratio:.4g} of the previous ({_split_name(split)}?)"
        for time, ratio, split in found[:_MAX_LISTED]
    )
    more = f" and {len(found) - _MAX_LISTED} more" if len(found) > _MAX_LISTED else ""
    warnings.warn(
        f"{symbol}: one-bar moves that look like unadjusted stock splits, the open gapping "
        f"alike: {listed}{more}. A backtest reads them as gains or losses: load the bars with "
        "qn.data.load(..., adjust='adj_close') or adjust=<table of splits and dividends>",
        UnadjustedSplitWarning,
        stacklevel=2,
    )


def _plain(value: object) -> object:
    return value.item() if isinstance(value, np.generic) else value


def _split_name(split: float) -> str:
    if split >= 1:
        return f"{split:.0f}-for-1 split"
    return f"1-for-{1 / split:.0f} reverse split"
