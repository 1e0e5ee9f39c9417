"""US equity sessions from the NYSE exchange calendar (``exchange_calendars``' XNYS).

Holidays and early closes come from the library, never from hand-written dates. The extended
session around each regular one is IB's for US stocks: pre-market from 04:00 New York to the
open, after-hours from the close for four hours (to 20:00, or 17:00 after a 13:00 early close).
The simulator, the live engine and the backtest read market hours from here.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from functools import lru_cache

import exchange_calendars
import exchange_calendars.errors
import numpy as np
import pandas as pd

from quantnb.errors import ConfigError

EXCHANGE = "XNYS"
EXCHANGE_TZ = "America/New_York"
NS = 1_000_000_000
DAY_NS = 86_400 * NS
PRE_OPEN = pd.Timedelta(hours=4)  # after local midnight
AFTER_HOURS = pd.Timedelta(hours=4)  # after the regular close

# the phase of a bar or a moment
CLOSED, PRE, REGULAR, POST = -1, 0, 1, 2


@dataclass(frozen=True, slots=True)
class Sessions:
    """Trading sessions in date order: day keys (days since the epoch) and their bounds in ns UTC.

    ``pre`` opens the pre-market, ``open``/``close`` bound the regular session and ``post`` ends
    the after-hours session.
    """

    days: np.ndarray
    pre: np.ndarray
    open: np.ndarray
    close: np.ndarray
    post: np.ndarray

    def __len__(self) -> int:
        return len(self.days)

    def find(self, day_key: int) -> int:
        """Position of the session on ``day_key``, or -1 when the exchange is closed that day."""
        j = int(np.searchsorted(self.days, day_key))
        return j if j < len(self.days) and self.days[j] == day_key else -1


def sessions(first: pd.Timestamp, last: pd.Timestamp) -> Sessions:
    """The exchange's sessions on the dates from ``first`` to ``last`` (both included)."""
    return _sessions(_date(first), _date(last))


def _date(ts: pd.Timestamp) -> str:
    ts = pd.Timestamp(ts)
    if ts.tzinfo is not None:
        ts = ts.tz_convert(EXCHANGE_TZ).tz_localize(None)
    return ts.strftime("%Y-%m-%d")


@lru_cache(maxsize=16)
def _sessions(first: str, last: str) -> Sessions:
    try:
        with warnings.catch_warnings():
            # the library's own use of a pandas API pandas 3.1 deprecates; not ours to change
            warnings.filterwarnings("ignore", message="Series.values returning an ndarray")
            cal = exchange_calendars.get_calendar(EXCHANGE, start=first, end=last)
    except (ValueError, exchange_calendars.errors.CalendarError) as exc:
        raise ConfigError(
            f"the {EXCHANGE} calendar cannot cover {first} to {last} ({exc}); "
            "choose a later start or fewer history_days"
        ) from exc
    dates = cal.sessions
    local = dates.tz_localize(EXCHANGE_TZ)
    pre = (local + PRE_OPEN).tz_convert("UTC").as_unit("ns").asi8
    opens = pd.DatetimeIndex(cal.opens).tz_convert("UTC").as_unit("ns").asi8.copy()
    closes = pd.DatetimeIndex(cal.closes).tz_convert("UTC").as_unit("ns").asi8.copy()
    pre = pre.copy()
    days = dates.as_unit("ns").asi8 // DAY_NS
    for a in (days, pre, opens, closes):
        a.setflags(write=False)
    post = closes + AFTER_HOURS.value
    post.setflags(write=False)
    return Sessions(days, pre, opens, closes, post)


def phase_at(s: Sessions, t: int) -> int:
    """Which part of the trading day the moment ``t`` (ns UTC) is in: PRE, REGULAR, POST or
    CLOSED. A bound belongs to the part it opens."""
    j = int(np.searchsorted(s.pre, t, side="right")) - 1
    if j < 0 or t >= s.post[j]:
        return CLOSED
    if t < s.open[j]:
        return PRE
    return REGULAR if t < s.close[j] else POST


def open_since(t: pd.Timestamp, extended: bool = False) -> pd.Timestamp | None:
    """When the market open at ``t`` opened (UTC): the regular open, or with ``extended`` the
    pre-market's; None while it is closed (nights, weekends, holidays, after an early close)."""
    t = pd.Timestamp(t)
    if t.tzinfo is None:
        t = t.tz_localize("UTC")
    week = (t - pd.Timedelta(days=t.day_of_week)).normalize()  # a window that changes weekly
    s = sessions(week - pd.Timedelta(days=7), week + pd.Timedelta(days=7))
    ns = t.value
    j = int(np.searchsorted(s.pre, ns, side="right")) - 1
    if j < 0:
        return None
    start, end = (s.pre[j], s.post[j]) if extended else (s.open[j], s.close[j])
    if not start <= ns < end:
        return None
    return pd.Timestamp(int(start), tz="UTC")


@lru_cache(maxsize=32)
def business_days(calendar: str, year: int) -> pd.DatetimeIndex:
    """The dates (naive) the exchange ``calendar`` (an exchange_calendars name, e.g. "CMES")
    trades in ``year`` and the years either side; its holidays are missing."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Series.values returning an ndarray")
        cal = exchange_calendars.get_calendar(
            calendar, start=f"{year - 1}-01-01", end=f"{year + 1}-12-31"
        )
    return pd.DatetimeIndex(cal.sessions).tz_localize(None).normalize()


# ---- FX: IDEALPRO trades around the clock from Sunday 17:00 to Friday 17:00 New York ----------
FX_CALENDAR = "FX"
FX_ROLL = pd.Timedelta(hours=17)  # the FX day ends at 17:00 New York


def fx_sessions(first: pd.Timestamp, last: pd.Timestamp) -> Sessions:
    """The FX calendar's sessions from ``first`` to ``last`` (dates, both included): one per
    weekday D, from 17:00 New York the evening before to 17:00 New York on D (Monday's opens on
    Sunday at 17:00). No holidays; there is no pre- or after-hours session, so ``pre == open``
    and ``post == close``."""
    dates = pd.bdate_range(_date(first), _date(last))

    def ny(naive: pd.DatetimeIndex) -> np.ndarray:
        return naive.tz_localize(EXCHANGE_TZ).tz_convert("UTC").as_unit("ns").asi8

    close = ny(dates + FX_ROLL)
    opens = ny(dates - pd.Timedelta(days=1) + FX_ROLL)  # Monday's from Sunday 17:00
    days = dates.as_unit("ns").asi8 // DAY_NS
    return Sessions(days, opens, opens, close, close)


# ---- trade dates: the trading day a moment belongs to, per instrument calendar ---------------
# CME Globex ("CMES") and IDEALPRO ("FX") roll to the next trade date at 17:00 New York (CME's
# daily close, 16:00 Chicago; FX's roll): an evening session trades for the next date, and a DAY
# order ends with the trade date it is placed in. Other calendars (stocks) use the New York date.
TRADE_DATE_ROLL = {"CMES": FX_ROLL, "FX": FX_ROLL}
_TO_MIDNIGHT = {cal: pd.Timedelta(days=1) - roll for cal, roll in TRADE_DATE_ROLL.items()}


def trade_dates(calendar: str, times: np.ndarray) -> np.ndarray:
    """The trade date (days since the epoch) of each of ``times`` (ns UTC) on ``calendar``: the
    New York date, moved to the next date from 17:00 New York on for futures and FX."""
    times = np.asarray(times, dtype=np.int64)
    local = pd.DatetimeIndex(times).tz_localize("UTC").tz_convert(EXCHANGE_TZ).tz_localize(None)
    shift = _TO_MIDNIGHT.get(calendar)
    if shift is not None:
        local = local + shift
    return local.normalize().as_unit("ns").asi8 // DAY_NS


def trade_date_end(calendar: str, day: int) -> int:
    """When trade date ``day`` (days since the epoch) ends on ``calendar`` (ns UTC): 17:00 New
    York that day for futures and FX, the next New York midnight otherwise."""
    date = pd.Timestamp(int(day) * DAY_NS)
    end = date + TRADE_DATE_ROLL.get(calendar, pd.Timedelta(days=1))
    return int(end.tz_localize(EXCHANGE_TZ).tz_convert("UTC").value)


def fx_open(t: pd.Timestamp) -> bool:
    """Whether the FX market trades at ``t``: from Sunday 17:00 to Friday 17:00 New York."""
    t = pd.Timestamp(t)
    local = (t if t.tzinfo else t.tz_localize("UTC")).tz_convert(EXCHANGE_TZ)
    dow, after = local.day_of_week, local.hour >= 17
    closed = dow == 5 or (dow == 4 and after) or (dow == 6 and not after)
    return not closed
