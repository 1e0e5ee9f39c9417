"""Deterministic, offline OHLCV sample data: a seeded geometric random walk per symbol.

Each symbol's series depends only on (seed, symbol, interval, start), never on which other symbols
are requested, so notebooks, tests and the gateway simulator see the same prices everywhere.
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Iterable
from datetime import date, datetime

import numpy as np
import pandas as pd

from quantnb.domain import sessions
from quantnb.domain.interval import Interval
from quantnb.errors import ConfigError
from quantnb.options import checked_options

NEW_YORK = "America/New_York"
COLUMNS = ("open", "high", "low", "close", "volume")

_NS_PER_MIN = 60 * 1_000_000_000
_SESSION_OPEN_MIN = 9 * 60 + 30  # 09:30 New York
_SESSION_CLOSE_MIN = 16 * 60  # 16:00 New York
_SESSION_MINUTES = _SESSION_CLOSE_MIN - _SESSION_OPEN_MIN
_TRADING_DAYS = 252
_GAP_SHARE = 0.2  # share of a day's variance that arrives overnight, as the opening gap
_PRE_OPEN_MIN = 4 * 60  # hours="extended": the pre-market from 04:00 New York ...
_AFTER_HOURS_END_MIN = 20 * 60  # ... and the after-hours to 20:00
_EXTENDED_SHARE = 0.1  # a minute outside regular hours: a tenth of the volume (and variance)

TimeLike = datetime | date | str | pd.Timestamp | None


def to_utc(value: datetime | date | str | pd.Timestamp, what: str = "time") -> pd.Timestamp:
    """A tz-aware UTC Timestamp with ns unit; naive values are taken as UTC."""
    try:
        ts = pd.Timestamp(value)
    except (ValueError, TypeError) as exc:
        raise ConfigError(
            f"cannot read {what} {value!r} as a date/time; use e.g. '2021-03-01'"
        ) from exc
    if ts is pd.NaT:
        raise ConfigError(f"{what} {value!r} is not a date/time; use e.g. '2021-03-01'")
    ts = ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")
    return ts.as_unit("ns")


def time_bounds(start: TimeLike, end: TimeLike) -> tuple[pd.Timestamp | None, pd.Timestamp | None]:
    """``[start, stop)`` in UTC; an ``end`` at midnight includes the whole of that day."""
    lo = None if start is None else to_utc(start, "start")
    stop = None
    if end is not None:
        hi = to_utc(end, "end")
        stop = hi + pd.Timedelta(days=1) if hi == hi.normalize() else hi + pd.Timedelta(1, "ns")
    if lo is not None and stop is not None and stop <= lo:
        raise ConfigError(f"end {end!r} is before start {start!r}; swap them")
    return lo, stop


@checked_options
def sample(
    symbols: str | Iterable[str],
    interval: Interval | str = "1d",
    start: TimeLike = "2020-01-01",
    end: TimeLike = "2023-12-31",
    seed: int = 0,
    bars: int | None = None,
    adjust: str | None = None,
    roll: str = "days",
    roll_days: int = 5,
    hours: str = "regular",
) -> dict[str, pd.DataFrame]:
    """Realistic synthetic bars for each symbol, keyed in the order given.

    Intraday bars cover the US equity session (09:30-16:00 New York, weekdays) and are stamped at
    their start in UTC; daily bars at 00:00 UTC of the date; weekly bars on Mondays. With
    ``hours="extended"`` intraday bars also cover the pre-market (from 04:00) and the
    after-hours (to 20:00), with a tenth of the volume a minute (weekdays, as the regular bars:
    no holidays or early closes). With
    ``bars=N`` each symbol gets exactly N bars from ``start`` and ``end`` is ignored.

    Instruments (``qn.future``, ``qn.continuous``, ``qn.fx``, ``qn.index``) are sampled by their
    kind and keyed by name, each frame's ``attrs["instrument"]`` naming it: a contract month
    (daily bars), a continuous future (its months too, and the series ``adjust``-ed —
    "difference", "ratio" or "none", to be chosen — at rolls by ``roll``/``roll_days``, see
    ``quantnb.data.futures``), an FX pair (Sunday 17:00 to Friday 17:00 New York when intraday).
    """
    from quantnb.data.instruments_sample import has_instruments, sample_instruments

    if isinstance(symbols, Iterable) and not isinstance(symbols, str | dict):
        symbols = list(symbols)  # looked through twice below
    if has_instruments(symbols):
        return sample_instruments(
            symbols, interval, start, end, seed, bars, adjust, roll, roll_days, sample
        )
    names = _symbols(symbols)
    iv = Interval.parse(interval)
    extended = sessions.extended(hours)
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0:
        raise ConfigError(f"seed must be a non-negative integer, got {seed!r}; e.g. seed=0")
    if bars is not None and (isinstance(bars, bool) or not isinstance(bars, int | np.integer)):
        raise ConfigError(f"bars must be a positive integer or None, got {bars!r}")
    if bars is not None and bars <= 0:
        raise ConfigError(f"bars must be positive, got {bars!r}; e.g. bars=1000")
    times, body_days, first_of_session = _timestamps(
        iv, start, None if bars else end, bars, extended
    )
    index = pd.DatetimeIndex(times.view("datetime64[ns]")).tz_localize("UTC").rename("time")
    return {name: _frame(name, int(seed), iv, index, body_days, first_of_session) for name in names}


def _symbols(symbols: str | Iterable[str]) -> list[str]:
    if not isinstance(symbols, str | Iterable):
        raise ConfigError(
            f"symbols={symbols!r} ({type(symbols).__name__}): give a ticker such as 'AAPL' or a "
            "list of them"
        )
    items = [symbols] if isinstance(symbols, str) else list(symbols)
    if not items:
        raise ConfigError("sample() needs at least one symbol, e.g. sample('AAPL')")
    for item in items:
        if not isinstance(item, str) or not item.strip():
            raise ConfigError(f"symbol must be a non-empty string, got {item!r}")
    return list(dict.fromkeys(s.strip() for s in items))


def _timestamps(
    iv: Interval, start: TimeLike, end: TimeLike, bars: int | None, extended: bool = False
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Bar start times (int64 ns UTC), each bar's length in trading days, session-start flags."""
    lo, stop = time_bounds(start, end)
    if lo is None:
        raise ConfigError("sample() needs a start date, e.g. start='2020-01-01'")
    first_day = lo.tz_localize(None).normalize()
    last_day = None if stop is None else (stop - pd.Timedelta(1, "ns")).tz_localize(None)
    if not iv.is_intraday:
        freq = "W-MON" if iv.name == "1w" else "B"
        if bars is not None:
            days = pd.date_range(first_day, periods=bars, freq=freq)
        else:
            days = pd.date_range(first_day, last_day.normalize(), freq=freq)
        times = days.as_unit("ns").asi8
        length = 5.0 if iv.name == "1w" else 1.0
        return times, np.full(len(times), length), np.ones(len(times), dtype=bool)

    minutes = _session_minutes(iv)
    lengths = np.diff(np.append(minutes, _SESSION_CLOSE_MIN)) / _SESSION_MINUTES
    if extended:
        minutes, lengths = _extended_minutes(iv, minutes, lengths)
    if bars is not None:
        # one spare day in case ``start`` falls inside a session
        days = pd.bdate_range(first_day, periods=math.ceil(bars / len(minutes)) + 1)
    else:
        days = pd.bdate_range(first_day, last_day.normalize())
    first_min = int(minutes[0])
    opens = (days + pd.Timedelta(minutes=first_min)).tz_localize(NEW_YORK)
    opens_ns = opens.tz_convert("UTC").as_unit("ns").asi8
    offsets = (minutes - first_min).astype(np.int64) * _NS_PER_MIN
    times = (opens_ns[:, None] + offsets[None, :]).ravel()
    body = np.tile(lengths, len(days))
    first = np.tile(np.arange(len(minutes)) == 0, len(days))
    keep = times >= lo.value
    if stop is not None:
        keep &= times < stop.value
    times, body, first = times[keep], body[keep], first[keep]
    if bars is not None:
        times, body, first = times[:bars], body[:bars], first[:bars]
    return times, body, first


def _session_minutes(iv: Interval) -> np.ndarray:
    """Bar starts in minutes after midnight: 09:30, then clock-aligned (10:00, 11:00... for 1h)."""
    step = iv.seconds // 60
    following = range(-(-(_SESSION_OPEN_MIN + 1) // step) * step, _SESSION_CLOSE_MIN, step)
    return np.array([_SESSION_OPEN_MIN, *following], dtype=np.int64)


def _extended_minutes(
    iv: Interval, regular: np.ndarray, lengths: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """The regular bar starts and lengths with the pre-market's before and the after-hours'
    after: clock-aligned starts, each extended minute weighing ``_EXTENDED_SHARE`` of one."""
    step = iv.seconds // 60
    pre = np.arange(_PRE_OPEN_MIN, _SESSION_OPEN_MIN, step, dtype=np.int64)
    post = np.arange(_SESSION_CLOSE_MIN, _AFTER_HOURS_END_MIN, step, dtype=np.int64)
    share = _EXTENDED_SHARE / _SESSION_MINUTES
    pre_len = np.diff(np.append(pre, _SESSION_OPEN_MIN)) * share
    post_len = np.diff(np.append(post, _AFTER_HOURS_END_MIN)) * share
    return np.concatenate([pre, regular, post]), np.concatenate([pre_len, lengths, post_len])


def _frame(
    symbol: str,
    seed: int,
    iv: Interval,
    index: pd.DatetimeIndex,
    body_days: np.ndarray,
    first_of_session: np.ndarray,
) -> pd.DataFrame:
    rng = np.random.default_rng([zlib.crc32(symbol.encode("utf-8")), seed])
    vol, drift, price0, daily_volume = _character(rng)
    return walk(symbol, iv, index, body_days, first_of_session, rng, vol, drift, price0,
                daily_volume)  # fmt: skip


def _character(rng: np.random.Generator) -> tuple[float, float, float, float]:
    """A symbol's annual volatility, annual drift, first price and daily volume."""
    vol = rng.uniform(0.15, 0.45)
    drift = rng.uniform(-0.05, 0.20)
    price0 = math.exp(rng.uniform(math.log(20.0), math.log(500.0)))
    daily_volume = math.exp(rng.uniform(math.log(2e5), math.log(2e7)))
    return vol, drift, price0, daily_volume


def character(symbol: str, seed: int = 0) -> tuple[float, float, float, float]:
    """``(vol, drift, first price, daily volume)`` that ``sample`` gives ``symbol`` at ``seed``:
    the gateway simulator continues its walk with the same statistics."""
    return _character(np.random.default_rng([zlib.crc32(symbol.encode("utf-8")), seed]))


def daily_walk(symbol: str, seed: int, start: TimeLike, end: TimeLike, stream: int) -> pd.DataFrame:
    """Daily bars from ``start`` to ``end`` of another walk with ``symbol``'s statistics at
    ``seed`` (its first bar opens a gap away from the first price of ``character``); ``stream``
    (a positive integer) picks the path, so the walk can be continued year by year."""
    iv = Interval.parse("1d")
    times, body_days, first = _timestamps(iv, start, end, None)
    index = pd.DatetimeIndex(times.view("datetime64[ns]")).tz_localize("UTC").rename("time")
    key = zlib.crc32(symbol.encode("utf-8"))
    rng = np.random.default_rng([key, seed, 1, stream])
    return walk(symbol, iv, index, body_days, first, rng, *character(symbol, seed))


def walk(
    symbol: str,
    iv: Interval,
    index: pd.DatetimeIndex,
    body_days: np.ndarray,
    first_of_session: np.ndarray,
    rng: np.random.Generator,
    vol: float,
    drift: float,
    price0: float,
    daily_volume: float,
) -> pd.DataFrame:
    """The bars of one geometric random walk at ``index`` drawn from ``rng``."""
    n = len(index)
    # In-place arithmetic throughout: a million-bar series must not need dozens of temporaries.
    dt = body_days * ((1.0 - _GAP_SHARE) / _TRADING_DAYS)
    body_sd = np.sqrt(dt)
    body_sd *= vol
    body = rng.standard_normal(n)
    body *= body_sd
    dt *= drift - 0.5 * vol * vol
    body += dt
    del dt
    gap = rng.standard_normal(n)
    gap *= np.where(first_of_session, vol * math.sqrt(_GAP_SHARE / _TRADING_DAYS), 0.05 * body_sd)
    gap += body
    log_close = np.cumsum(gap, out=gap)
    log_close += math.log(price0)
    log_open = log_close - body
    del body

    def price(log_values: np.ndarray) -> np.ndarray:
        out = np.exp(log_values, out=log_values)
        np.round(out, 2, out=out)
        return np.maximum(out, 0.01, out=out)

    top = np.maximum(log_open, log_close)
    extra = np.abs(rng.standard_normal(n))
    extra *= 0.6
    extra *= body_sd
    top += extra
    high = price(top)
    bottom = np.minimum(log_open, log_close, out=extra)
    extra = np.abs(rng.standard_normal(n))
    extra *= 0.6
    extra *= body_sd
    bottom -= extra
    low = price(bottom)
    del extra, body_sd
    volume = rng.lognormal(-0.125, 0.5, n)
    volume *= body_days
    volume *= daily_volume
    np.round(volume, out=volume)
    np.maximum(volume, 1.0, out=volume)

    frame = pd.DataFrame(
        {
            "open": price(log_open),
            "high": high,
            "low": low,
            "close": price(log_close),
            "volume": volume,
        },
        index=index,
        copy=False,
    )
    frame.attrs["symbol"] = symbol
    frame.attrs["interval"] = iv.name
    return frame
