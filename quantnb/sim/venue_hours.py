"""Trading hours of futures, FX and indices: when their bars trade, and IB's hours text.

CME futures ("CMES", from exchange_calendars): 17:00 Chicago the evening before to 16:00, a daily
halt 16:00-17:00 and the weekend closed, the library's holidays and early closes (12:00);
regular ("liquid") hours 08:30-15:00 Chicago, or to an early close. FX
("FX"): Sunday 17:00 to Friday 17:00 New York, one session per weekday from 17:00 the evening
before. An index ("XNYS"): the NYSE's regular hours.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import pandas as pd

from quantnb.domain.calendar import NS, trade_dates
from quantnb.domain.market_hours import trading_sessions

_DAY_NS = 86_400 * NS
_CHICAGO = "America/Chicago"
_NEW_YORK = "America/New_York"
ZONES = {"CMES": _CHICAGO, "FX": _NEW_YORK, "XNYS": _NEW_YORK}


@lru_cache(maxsize=32)
def _bounds(calendar: str, first: str, last: str, liquid: bool) -> tuple[np.ndarray, ...]:
    """(days, opens, closes) of the sessions whose dates are ``first`` .. ``last``: a future's
    whole Globex session or its liquid hours, an FX pair's or the NYSE's session (the domain's
    ``market_hours``, which the live engine keeps its clock by)."""
    s = trading_sessions(calendar, pd.Timestamp(first), pd.Timestamp(last))
    if calendar == "CMES" and not liquid:
        return s.days, s.pre, s.post
    return s.days, s.open, s.close


def _span(times: np.ndarray) -> tuple[str, str]:
    lo = pd.Timestamp(int(times.min()), tz="UTC") - pd.Timedelta(days=3)
    hi = pd.Timestamp(int(times.max()), tz="UTC") + pd.Timedelta(days=3)
    return f"{lo.year}-01-01", f"{hi.year}-12-31"


def bounds(calendar: str, first: str, last: str) -> tuple[np.ndarray, ...]:
    """(days, opens, closes) of ``calendar``'s trading sessions dated ``first`` .. ``last``."""
    return _bounds(calendar, f"{first[:4]}-01-01", f"{last[:4]}-12-31", False)


def _inside(calendar: str, times: np.ndarray, liquid: bool) -> np.ndarray:
    times = np.asarray(times, dtype=np.int64)
    if len(times) == 0:
        return np.zeros(0, dtype=bool)
    _, opens, closes = _bounds(calendar, *_span(times), liquid)
    j = np.searchsorted(opens, times, side="right") - 1
    inside = j >= 0
    inside[inside] &= times[inside] < closes[j[inside]]
    return inside


def liquid_mask(calendar: str, times: np.ndarray) -> np.ndarray:
    """Which of the bar start ``times`` fall in ``calendar``'s liquid (regular) hours, what
    IB's useRTH=1 keeps: 08:30-15:00 Chicago for CME futures, the whole session for FX."""
    return _inside(calendar, times, calendar != "FX")


def order_trade_date(calendar: str, t: int) -> int:
    """The trade date a DAY order placed at ``t`` (ns UTC) is for: that of the session open at
    ``t``, or of the next one to open (the domain's ``trade_dates``)."""
    _, opens, closes = _bounds(calendar, *_span(np.array([t], dtype=np.int64)), False)
    j = int(np.searchsorted(closes, t, side="right"))
    start = max(t, int(opens[j])) if j < len(opens) else t
    return int(trade_dates(calendar, np.array([start], dtype=np.int64))[0])


def open_mask(calendar: str, times: np.ndarray) -> np.ndarray:
    """Which of the bar start ``times`` (ns UTC) fall in a session of ``calendar``."""
    return _inside(calendar, times, False)


def ib_hours(calendar: str, now: pd.Timestamp, days: int = 7, liquid: bool = False) -> str:
    """IB's ``tradingHours`` (``liquid=False``) or ``liquidHours`` for ``days`` dates from
    ``now``'s date, in the calendar's time zone: ``20240102:1700-20240103:1600;20240106:CLOSED``."""
    tz = ZONES.get(calendar, _NEW_YORK)
    today = pd.Timestamp(now).tz_convert(tz).tz_localize(None).normalize()
    sdays, opens, closes = _bounds(calendar, f"{today.year}-01-01", f"{today.year + 1}-12-31",
                                   liquid and calendar != "FX")  # fmt: skip
    parts = []
    for k in range(days):
        date = today + pd.Timedelta(days=k)
        key = date.value // _DAY_NS
        j = int(np.searchsorted(sdays, key))
        if j < len(sdays) and sdays[j] == key:
            parts.append(f"{_local(opens[j], tz)}-{_local(closes[j], tz)}")
        elif not (j < len(sdays) and _local(opens[j], tz)[:8] == date.strftime("%Y%m%d")):
            parts.append(f"{date.strftime('%Y%m%d')}:CLOSED")
    return ";".join(parts)


def _local(t: int, tz: str) -> str:
    return pd.Timestamp(int(t), tz="UTC").tz_convert(tz).strftime("%Y%m%d:%H%M")
