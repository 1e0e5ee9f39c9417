"""Turn bars from files and frames of many shapes into canonical, validated frames.

Canonical: a tz-aware UTC ``DatetimeIndex`` (ns) named "time" holding bar start times, ascending,
and float64 columns exactly ``open high low close volume``; ``df.attrs["symbol"]`` names the symbol
and, once ``load(adjust=...)`` chose it, ``df.attrs["adjustment"]`` how the prices were adjusted.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path

import numpy as np
import pandas as pd

from quantnb.data.adjust import (
    _SYMBOL_NAMES,
    ADJ_CLOSE_NAMES,
    Adjust,
    _norm,
    adjust_bars,
    check_actions_name_symbols,
)
from quantnb.data.validate import REQUIRED, validate
from quantnb.errors import ConfigError, DataError
from quantnb.options import checked_options

log = logging.getLogger(__name__)

_TIME_NAMES = frozenset({"time", "date", "datetime", "date time", "timestamp", "ts", "bar time"})
_FIELD_NAMES = {
    "open": "open",
    "high": "high",
    "low": "low",
    "close": "close",
    "volume": "volume",
    "vol": "volume",
}
_CSV = (".csv", ".txt", ".csv.gz", ".csv.zip", ".csv.bz2")
_PARQUET = (".parquet", ".pq")

UNNAMED = "ASSET"  # the symbol of a frame that names none

Source = str | Path | pd.DataFrame | dict[str, pd.DataFrame]


@checked_options
def load(
    src: Source, symbol: str | None = None, tz: str | None = None, *, adjust: Adjust = None
) -> pd.DataFrame | dict[str, pd.DataFrame]:
    """Load bars from a CSV/Parquet path, a DataFrame or a dict of DataFrames.

    One symbol gives one canonical frame; several give a dict keyed by symbol in order of first
    appearance (``symbol=`` picks one of them). Naive times are UTC unless ``tz`` names their zone.
    A lone frame with no symbol anywhere is called "ASSET".

    ``adjust``: "none" keeps the prices as given, "adj_close" back-adjusts them by an Adj Close
    column, a table of splits and dividends back-adjusts them by it (``adjust.corporate_actions``).
    Bars with an Adj Close column need the choice said; without one the default is "none".
    """
    if isinstance(src, dict):
        check_actions_name_symbols(adjust, [str(k) for k in src])
        frames = {str(k): to_canonical(v, str(k), tz, adjust) for k, v in src.items()}
        _no_bars(frames, "the dict")
        return _pick(frames, symbol, "the dict") if symbol is not None else frames
    default = symbol
    where = "the DataFrame"
    if isinstance(src, str | Path):
        path = Path(src)
        src = _read(path)
        default = symbol or path.name.split(".")[0].upper()
        where = str(path)
    if not isinstance(src, pd.DataFrame):
        raise ConfigError(
            f"load() takes a CSV/Parquet path, a DataFrame or a dict of DataFrames, "
            f"got {type(src).__name__}"
        )
    frames = _split(src)
    if frames is None:
        name = default or src.attrs.get("symbol")
        if not name:
            name = UNNAMED
            log.info("bars have no symbol; calling them %r (pass symbol= to name them)", name)
        out = to_canonical(src, str(name), tz, adjust)
        _no_bars({str(name): out}, where)
        return out
    check_actions_name_symbols(adjust, list(frames))
    frames = {k: to_canonical(v, k, tz, adjust) for k, v in frames.items()}
    _no_bars(frames, where)
    if symbol is not None:
        return _pick(frames, symbol, where)
    if len(frames) == 1:
        return next(iter(frames.values()))
    return frames


def to_canonical(
    df: pd.DataFrame, symbol: str, tz: str | None = None, adjust: Adjust = None
) -> pd.DataFrame:
    """One symbol's bars in canonical form (see the module docstring), validated and adjusted as
    ``adjust`` says (see ``load``)."""
    if not isinstance(df, pd.DataFrame):
        raise DataError(f"{symbol}: expected a DataFrame of bars, got {type(df).__name__}")
    if _is_canonical(df):
        # already canonical (e.g. from sample()): share the data, only check it
        out = df.copy(deep=False)
        out.attrs = {**df.attrs, "symbol": symbol}
        return adjust_bars(validate(out, symbol), symbol, adjust, None, tz)
    fields: dict[str, object] = {}
    time_col = adj_col = None
    for col in df.columns:
        key = _norm(col)
        if key in _FIELD_NAMES:
            field = _FIELD_NAMES[key]
            if field in fields:
                raise DataError(
                    f"{symbol}: columns {fields[field]!r} and {col!r} both mean {field!r}; "
                    "drop one of them"
                )
            fields[field] = col
        elif key in _TIME_NAMES and time_col is None:
            time_col = col
        elif key in _SYMBOL_NAMES:
            _check_one_symbol(df[col], symbol)
        elif key in ADJ_CLOSE_NAMES and adj_col is None:
            adj_col = col
        else:
            log.debug("%s: ignoring column %r", symbol, col)
    missing = [f for f in REQUIRED[:4] if f not in fields]
    if missing:
        raise DataError(
            f"{symbol}: missing column(s) {', '.join(missing)}; found {list(df.columns)}. "
            "Name them open, high, low, close (any case)"
        )
    index = _times(df, time_col, symbol, tz)
    data = {f: _floats(df[fields[f]], symbol, f, index) for f in REQUIRED[:4]}
    if "volume" in fields:
        data["volume"] = _floats(df[fields["volume"]], symbol, "volume", index)
    else:
        data["volume"] = np.zeros(len(df))
    adj = None if adj_col is None else _floats(df[adj_col], symbol, "adj close", index)
    out = pd.DataFrame(data, index=index, columns=list(REQUIRED))
    if len(out) > 1 and out.index.is_monotonic_decreasing and out.index.is_unique:
        out = out.iloc[::-1]  # newest-first files are common and unambiguous
        adj = None if adj is None else adj[::-1]
    out.attrs = {"symbol": symbol}
    if "interval" in df.attrs:
        out.attrs["interval"] = df.attrs["interval"]
    return adjust_bars(validate(out, symbol), symbol, adjust, adj, tz)


def _is_canonical(df: pd.DataFrame) -> bool:
    index = df.index
    return (
        list(df.columns) == list(REQUIRED)
        and isinstance(index, pd.DatetimeIndex)
        and str(index.dtype) == "datetime64[ns, UTC]"
        and all(dtype == np.float64 for dtype in df.dtypes)
    )


def load_frames(src: object, tz: str | None = None) -> dict[str, pd.DataFrame]:
    """``load(src)`` as a dict of symbol -> canonical frame, whatever the source holds."""
    loaded = load(src, tz=tz)  # type: ignore[arg-type]
    if isinstance(loaded, pd.DataFrame):
        return {loaded.attrs["symbol"]: loaded}
    return dict(loaded)


def _read(path: Path) -> pd.DataFrame:
    if not path.exists():
        raise DataError(f"no such file: {path}; check the path or the working directory")
    name = path.name.lower()
    try:
        if name.endswith(_CSV):
            return _checked_csv(pd.read_csv(path), path)
        if name.endswith(_PARQUET):
            return pd.read_parquet(path)
    except (OSError, ValueError) as exc:
        if isinstance(exc, DataError):
            raise
        raise DataError(f"cannot read {path}: {exc}; is it a CSV of bars?") from exc
    raise ConfigError(
        f"unknown file type {path.suffix!r} for {path}; use {', '.join(_CSV + _PARQUET)}"
    )


def _checked_csv(df: pd.DataFrame, path: Path) -> pd.DataFrame:
    """A CSV whose rows are longer than its header comes back with the extra fields as an index
    (a MultiIndex of them, often): not bars, so say what is wrong with the file instead."""
    if not isinstance(df.index, pd.RangeIndex):
        raise DataError(
            f"{path}: rows have more fields than the header {list(df.columns)}; is it a CSV "
            "of bars with one header line (time, open, high, low, close, volume) and the same "
            "number of fields on every row?"
        )
    return df


def _no_bars(frames: dict[str, pd.DataFrame], where: str) -> None:
    """A source without a single bar backtests to NaN: refuse it here instead."""
    for symbol, df in frames.items():
        if not len(df):
            raise DataError(
                f"{symbol}: no bars in {where} (it has the columns {list(df.columns)} but no "
                "rows); check the file or the filter that built the frame"
            )


def _split(df: pd.DataFrame) -> dict[str, pd.DataFrame] | None:
    """Per-symbol frames for a many-symbol layout, or None for a single-symbol frame."""
    if isinstance(df.index, pd.MultiIndex):
        if df.index.nlevels != 2:
            raise DataError(
                f"a MultiIndex of bars needs 2 levels (symbol, time), got {df.index.names}"
            )
        time_level = _time_level(df.index)
        sym_level = 1 - time_level
        syms = pd.unique(df.index.get_level_values(sym_level))
        return {str(s): df.xs(s, level=sym_level).rename_axis("time") for s in syms}
    if isinstance(df.columns, pd.MultiIndex):
        if df.columns.nlevels != 2:
            raise DataError(
                f"MultiIndex columns need 2 levels (symbol, field), got {df.columns.names}"
            )
        field_level = next(
            (lv for lv in (1, 0) if "close" in {_norm(v) for v in df.columns.get_level_values(lv)}),
            None,
        )
        if field_level is None:
            raise DataError(
                f"MultiIndex columns {list(df.columns)[:6]} have no 'close' field; "
                "use (symbol, field) pairs such as ('AAPL', 'close')"
            )
        sym_level = 1 - field_level
        syms = pd.unique(df.columns.get_level_values(sym_level))
        return {str(s): df.xs(s, axis=1, level=sym_level) for s in syms}
    sym_col = next((c for c in df.columns if _norm(c) in _SYMBOL_NAMES), None)
    if sym_col is None:
        return None
    groups = df.groupby(sym_col, sort=False)
    if groups.ngroups <= 1:
        return {str(df[sym_col].iloc[0]): df} if len(df) else None
    return {str(k): g for k, g in groups}


def _time_level(index: pd.MultiIndex) -> int:
    for lv in range(2):
        values = index.get_level_values(lv)
        if isinstance(values, pd.DatetimeIndex) or _norm(index.names[lv]) in _TIME_NAMES:
            return lv
    for lv in range(2):
        try:
            pd.to_datetime(index.get_level_values(lv)[:5])
            return lv
        except (ValueError, TypeError):
            continue
    raise DataError(
        f"cannot tell which MultiIndex level holds times (levels {index.names}); "
        "name it 'time' or use datetime values"
    )


def _check_one_symbol(column: pd.Series, symbol: str) -> None:
    values = pd.unique(column.dropna())
    if len(values) > 1:
        raise DataError(
            f"{symbol}: the symbol column holds several symbols {list(values[:5])}; "
            "use load(), which splits them into a dict"
        )


def _times(df: pd.DataFrame, time_col: object, symbol: str, tz: str | None) -> pd.DatetimeIndex:
    if time_col is not None:
        raw = df[time_col]
    elif isinstance(df.index, pd.DatetimeIndex) or _norm(df.index.name) in _TIME_NAMES:
        raw = df.index
    else:
        raise DataError(
            f"{symbol}: no time column; found columns {list(df.columns)} and a "
            f"{type(df.index).__name__} index. Name the times 'time' or 'date', or set a "
            "DatetimeIndex"
        )
    if pd.api.types.is_numeric_dtype(raw) and not pd.api.types.is_bool_dtype(raw):
        raise DataError(
            f"{symbol}: times are numbers ({pd.Series(raw).iloc[0]!r}...); convert them "
            "first, e.g. pd.to_datetime(x, unit='s')"
        )
    try:
        index = _parse_times(raw)
    except (ValueError, TypeError):
        # only to find the first unreadable row: UTC lets naive and offset times mix here
        parsed = pd.to_datetime(pd.Series(raw), errors="coerce", utc=True)
        bad = np.flatnonzero((parsed.isna() & pd.Series(raw).notna()).to_numpy())
        value = pd.Series(raw).iloc[int(bad[0])] if len(bad) else raw
        row = int(bad[0]) if len(bad) else "?"
        raise DataError(
            f"{symbol}: cannot read time {value!r} at row {row}; use ISO times such as "
            "'2021-03-01 09:30:00'"
        ) from None
    if index.tz is None:
        try:
            index = index.tz_localize(tz or "UTC")
        except Exception as exc:  # nonexistent/ambiguous local times around DST changes
            raise DataError(
                f"{symbol}: cannot place naive times in time zone {tz!r}: {exc}; "
                "pass times with an explicit UTC offset"
            ) from exc
    try:
        return index.tz_convert("UTC").as_unit("ns").rename("time")
    except pd.errors.OutOfBoundsDatetime:
        raise _out_of_range(index, symbol) from None


def _out_of_range(index: pd.DatetimeIndex, symbol: str) -> DataError:
    """The DataError for times pandas cannot hold in nanoseconds (before 1677 or after 2262)."""
    lo, hi = pd.Timestamp.min, pd.Timestamp.max
    lo_, hi_ = lo.tz_localize(index.tz), hi.tz_localize(index.tz)
    bad = np.flatnonzero(np.asarray((index < lo_) | (index > hi_)))
    row = int(bad[0]) if len(bad) else 0
    return DataError(
        f"{symbol}: time {index[row]} at row {row} is outside the range pandas can hold "
        f"({lo.date()} to {hi.date()}; {len(bad)} row(s) outside); drop those rows or fix "
        "their year"
    )


def _parse_times(raw: pd.Series | pd.Index) -> pd.DatetimeIndex:
    try:
        return pd.DatetimeIndex(pd.to_datetime(raw))
    except (ValueError, TypeError):
        # mixed UTC offsets (a file spanning a DST change) only parse straight to UTC
        return pd.DatetimeIndex(pd.to_datetime(raw, utc=True))


def _floats(column: pd.Series, symbol: str, field: str, index: pd.DatetimeIndex) -> np.ndarray:
    values = pd.to_numeric(column, errors="coerce")
    bad = np.flatnonzero((values.isna() & column.notna()).to_numpy())
    if len(bad):
        i = int(bad[0])
        raise DataError(
            f"{symbol}: {field} is not a number ({column.iloc[i]!r}) at {index[i]} (row {i}); "
            "clean the column or convert it with pd.to_numeric"
        )
    return values.to_numpy(dtype=np.float64, na_value=np.nan)


def _pick(frames: dict[str, pd.DataFrame], symbol: str, where: str) -> pd.DataFrame:
    if symbol in frames:
        return frames[symbol]
    raise DataError(f"symbol {symbol!r} is not in {where}; it holds {', '.join(list(frames)[:20])}")


_MONTH_IN_NAME = re.compile(r"(\d{4})-?(\d{2})")


def load_months(
    src: object, root: str, month_column: str = "contract", tz: str | None = None
) -> dict[str, pd.DataFrame]:
    """Contract months of futures ``root`` from files or frames, keyed "ROOT YYYY-MM" in
    expiry order, each with ``attrs["instrument"]`` (``qn.future``): what
    ``qn.data.continuous`` splices.

    ``src``: a dict of month -> path or frame (months as "2024-03" or "202403"), a list of
    paths or a directory of files with the month in their names ("ES_2024-03.csv"), or one
    path or frame with a ``month_column`` naming each row's month.
    """
    from quantnb.domain.instrument import contract_month, future

    parts: dict[str, object] = {}
    if isinstance(src, dict):
        parts = {str(k).split(" ")[-1]: v for k, v in src.items()}
    elif isinstance(src, str | Path) and Path(src).is_dir():
        src = sorted(p for p in Path(src).iterdir() if p.name.lower().endswith(_CSV + _PARQUET))
    if isinstance(src, list | tuple):
        for p in src:
            m = _MONTH_IN_NAME.search(Path(p).name)
            if m is None:
                raise DataError(
                    f"{p}: no contract month in the file name; name it e.g. ES_2024-03.csv"
                )
            parts[f"{m.group(1)}-{m.group(2)}"] = p
    elif not parts:
        df = _read(Path(src)) if isinstance(src, str | Path) else src
        if not isinstance(df, pd.DataFrame) or month_column not in df.columns:
            raise DataError(
                f"contract months need a column {month_column!r} naming each row's month, a "
                "file per month, or a dict of month -> bars"
            )
        for month, rows in df.groupby(df[month_column].astype(str), sort=False):
            parts[month] = rows.drop(columns=[month_column])
    out: dict[str, pd.DataFrame] = {}
    for month, part in parts.items():
        inst = future(root, contract_month(month))
        frame = part if isinstance(part, pd.DataFrame) else _read(Path(part))  # type: ignore[arg-type]
        canon = to_canonical(frame, inst.name, tz)
        canon.attrs["instrument"] = inst
        out[inst.name] = canon
    return dict(sorted(out.items(), key=lambda kv: kv[1].attrs["instrument"].expiry))
