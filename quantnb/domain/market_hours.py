"""When each instrument's market trades, from its exchange calendar: whether it is open at a
moment and when it opens next, for one calendar or the union of several (a session trading
stocks and futures is open while any of its markets is).

- "XNYS" (US stocks, indices): the NYSE's sessions of ``quantnb.domain.calendar``; regular hours,
  or with ``extended`` IB's pre-market and after-hours too.
- "CMES" (CME futures, from exchange_calendars): Globex from 17:00 Chicago the evening before to
  16:00 (the daily halt 16:00-17:00, i.e. 17:00-18:00 New York, and the weekend closed), the
  library's holidays and early closes (12:00 Chicago). Regular hours are the liquid hours IB's
  useRTH keeps, 08:30-15:00 Chicago (to an early close); ``extended`` is the whole Globex session.
- "FX": Sunday 17:00 to Friday 17:00 New York (``calendar.fx_sessions``), regular or extended.
- any other exchange_calendars name: the library's sessions, with no extended hours.

Every calendar gives the one ``Sessions`` shape (``pre``/``post`` bound the extended session,
``open``/``close`` the regular one), so code that walks the NYSE's sessions walks any of them.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable, Mapping
from functools import lru_cache

import exchange_calendars
import numpy as np
import pandas as pd

from quantnb.domain import calendar
from quantnb.domain.calendar import DAY_NS, Sessions
from quantnb.domain.instrument import Instrument
from quantnb.errors import ConfigError

STOCKS, CME, FX = "XNYS", "CMES", calendar.FX_CALENDAR
_CHICAGO = "America/Chicago"
_HALT = pd.Timedelta(hours=1)  # Globex closes at 16:00 Chicago, the library's sessions at 17:00
_LIQUID = (pd.Timedelta(hours=8, minutes=30), pd.Timedelta(hours=15))  # Chicago

__all__ = [
    "calendar_of",
    "calendars_of",
    "is_open",
    "next_open",
    "open_since",
    "session_at",
    "spans",
    "trading_sessions",
    "windows",
]


def calendar_of(item: Instrument | str) -> str:
    """The calendar name of an instrument; a string is taken as a calendar name already."""
    return item.calendar if isinstance(item, Instrument) else item


def calendars_of(symbols: Iterable[str], instruments: Mapping[str, Instrument]) -> dict[str, str]:
    """Each symbol's calendar: its instrument's, or the NYSE's for a plain US stock."""
    return {s: instruments[s].calendar if s in instruments else STOCKS for s in symbols}


def trading_sessions(name: str, first: pd.Timestamp, last: pd.Timestamp) -> Sessions:
    """The sessions of calendar ``name`` on the dates from ``first`` to ``last`` (New York
    dates, both included)."""
    if name == STOCKS:
        return calendar.sessions(first, last)
    if name == FX:
        return calendar.fx_sessions(first, last)
    return _library(name, calendar._date(first), calendar._date(last))


@lru_cache(maxsize=32)
def _library(name: str, first: str, last: str) -> Sessions:
    try:
        with warnings.catch_warnings():
            # the library's own use of a pandas API pandas 3.1 deprecates; not ours to change
            warnings.filterwarnings("ignore", message="Series.values returning an ndarray")
            cal = exchange_calendars.get_calendar(name, start=first, end=last)
    except Exception as exc:
        raise ConfigError(
            f"no trading calendar {name!r} for {first} to {last} ({exc}); use an "
            "exchange_calendars name such as 'XNYS' or 'CMES', or 'FX'"
        ) from exc
    dates = pd.DatetimeIndex(cal.sessions).tz_localize(None).normalize()
    opens = pd.DatetimeIndex(cal.opens).tz_convert("UTC").as_unit("ns").asi8.copy()
    closes = pd.DatetimeIndex(cal.closes).tz_convert("UTC").as_unit("ns").asi8.copy()
    pre, post = opens, closes
    if name == CME:
        post = np.minimum(closes, _at(dates, pd.Timedelta(hours=17)) - _HALT.value)
        opens = _at(dates, _LIQUID[0])
        closes = np.minimum(post, _at(dates, _LIQUID[1]))
    days = dates.as_unit("ns").asi8 // DAY_NS
    arrays = [np.ascontiguousarray(a, dtype=np.int64) for a in (days, pre, opens, closes, post)]
    for a in arrays:
        a.setflags(write=False)
    return Sessions(*arrays)


def _at(dates: pd.DatetimeIndex, since_midnight: pd.Timedelta) -> np.ndarray:
    return (dates + since_midnight).tz_localize(_CHICAGO).tz_convert("UTC").as_unit("ns").asi8


def windows(
    calendars: Iterable[str], t: pd.Timestamp, extended: bool = False
) -> tuple[np.ndarray, np.ndarray]:
    """(starts, ends) in ns UTC of the times at least one of ``calendars`` is open, in date
    order, merged where they overlap or touch, over a window from a week before ``t``'s week to
    three weeks after."""
    t = _utc(t)
    week = (t - pd.Timedelta(days=t.day_of_week)).normalize()  # a window that changes weekly
    return spans(calendars, week - pd.Timedelta(days=7), week + pd.Timedelta(days=21), extended)


def spans(
    calendars: Iterable[str], first: pd.Timestamp, last: pd.Timestamp, extended: bool = False
) -> tuple[np.ndarray, np.ndarray]:
    """(starts, ends) as ``windows`` gives them, of the sessions dated ``first`` to ``last``."""
    names = tuple(sorted(set(calendars)))
    return _spans(names, _utc(first).value, _utc(last).value, extended)


@lru_cache(maxsize=64)
def _spans(calendars: tuple[str, ...], first_ns: int, last_ns: int, extended: bool) -> tuple:
    first, last = _ts(first_ns), _ts(last_ns)
    lo, hi = [], []
    for name in calendars or (STOCKS,):
        s = trading_sessions(name, first, last)
        lo.append(s.pre if extended else s.open)
        hi.append(s.post if extended else s.close)
    starts, ends = np.concatenate(lo), np.concatenate(hi)
    order = np.argsort(starts, kind="stable")
    starts, ends = starts[order], ends[order]
    keep = ends > starts
    starts, ends = starts[keep], ends[keep]
    if len(starts):  # FX's days touch: one stretch from Sunday to Friday
        reach = np.maximum.accumulate(ends)
        new = np.ones(len(starts), dtype=bool)
        new[1:] = starts[1:] > reach[:-1]
        idx = np.flatnonzero(new)
        starts = starts[idx]
        ends = np.maximum.reduceat(ends, idx)
    starts, ends = starts.copy(), ends.copy()
    starts.setflags(write=False)
    ends.setflags(write=False)
    return starts, ends


def session_at(
    calendars: Iterable[str], t: pd.Timestamp, extended: bool = False
) -> tuple[pd.Timestamp, pd.Timestamp] | None:
    """(open, close) of the stretch of trading that ``t`` falls in; None while all are closed."""
    t = _utc(t)
    starts, ends = windows(calendars, t, extended)
    j = int(np.searchsorted(starts, t.value, side="right")) - 1
    if j < 0 or t.value >= ends[j]:
        return None
    return _ts(starts[j]), _ts(ends[j])


def open_since(
    item: Instrument | str | Iterable[str], t: pd.Timestamp, extended: bool = False
) -> pd.Timestamp | None:
    """When the market open at ``t`` opened (UTC); None while it is closed (nights, the daily
    futures halt, weekends, holidays, after an early close). ``item``: an instrument, a calendar
    name, or several names (open while any is)."""
    found = session_at(_names(item), t, extended)
    return None if found is None else found[0]


def is_open(
    item: Instrument | str | Iterable[str], t: pd.Timestamp, extended: bool = False
) -> bool:
    """Whether the market of ``item`` (as for ``open_since``) trades at ``t``."""
    return open_since(item, t, extended) is not None


def next_open(
    item: Instrument | str | Iterable[str], t: pd.Timestamp, extended: bool = False
) -> pd.Timestamp | None:
    """When the market of ``item``, closed at ``t``, opens next (UTC); None while it is open
    (or when no open is known within three weeks)."""
    names, t = _names(item), _utc(t)
    if session_at(names, t, extended) is not None:
        return None
    starts, _ = windows(names, t, extended)
    j = int(np.searchsorted(starts, t.value, side="right"))
    return _ts(starts[j]) if j < len(starts) else None


def _names(item: Instrument | str | Iterable[str]) -> tuple[str, ...]:
    if isinstance(item, Instrument | str):
        return (calendar_of(item),)
    return tuple(item)


def _utc(t: pd.Timestamp) -> pd.Timestamp:
    t = pd.Timestamp(t)
    return t.tz_localize("UTC") if t.tzinfo is None else t.tz_convert("UTC")


def _ts(ns: int) -> pd.Timestamp:
    return pd.Timestamp(int(ns), tz="UTC")
