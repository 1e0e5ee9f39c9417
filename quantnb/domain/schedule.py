"""Scheduled decisions: when ("open+5min", "close-10min", "15:30") on which days ("month_start").

A rule is read once and its fire times are computed from the exchange calendar (``calendar``):
holidays are skipped and early closes move ``close`` with them, so ``close-10min`` on the
13:00 half day after Thanksgiving is 12:50 New York. Times are exchange (New York) time, so a
rule keeps its local time across daylight-saving changes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
import pandas as pd

from quantnb.domain import calendar
from quantnb.errors import ConfigError

DAYS = ("every_day", "week_start", "week_end", "month_start", "month_end")
WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday")
_AT = re.compile(r"^(open|close)\s*(?:([+-])\s*(\d+)\s*(min|h)\s*)?$")
_CLOCK = re.compile(r"^(\d{1,2}):(\d{2})$")
_MARGIN = pd.Timedelta(days=10)  # sessions read either side of a window, to find its edges
_MAX_OFFSET = pd.Timedelta(hours=6)  # keeps every fire time on its session's date
_AT_HELP = "use 'open', 'close', 'open+5min', 'close-10min', 'open+1h' or a time such as '15:30'"


@dataclass(frozen=True, slots=True)
class Rule:
    """When a scheduled decision comes: ``anchor`` "open", "close" or "clock" (a time of day in
    exchange time, ``offset`` after midnight), plus ``offset``, on the sessions ``days`` picks."""

    at: str
    days: str
    anchor: str
    offset: pd.Timedelta

    def __str__(self) -> str:
        return f"at={self.at!r}, days={self.days!r}"


def parse_rule(at: str, days: str = "every_day") -> Rule:
    """Read ``at`` and ``days`` into a Rule; ConfigError naming the value that cannot work."""
    if not isinstance(at, str):
        raise ConfigError(f"at={at!r} is not a market time: {_AT_HELP}")
    text = at.strip().lower()
    m = _AT.match(text)
    if m is not None:
        anchor, sign, count, unit = m.groups()
        offset = pd.Timedelta(0)
        if sign is not None:
            offset = pd.Timedelta(int(count), unit="min" if unit == "min" else "h")
            if offset > _MAX_OFFSET:
                raise ConfigError(
                    f"at={at!r}: an offset of more than 6 hours from the {anchor} leaves the "
                    f"trading day; {_AT_HELP}"
                )
            offset = -offset if sign == "-" else offset
    else:
        c = _CLOCK.match(text)
        if c is None or int(c.group(1)) > 23 or int(c.group(2)) > 59:
            raise ConfigError(f"at={at!r} is not a market time: {_AT_HELP}")
        anchor = "clock"
        offset = pd.Timedelta(hours=int(c.group(1)), minutes=int(c.group(2)))
    if not isinstance(days, str) or _days_key(days) not in (*DAYS, *WEEKDAYS):
        raise ConfigError(
            f"days={days!r} is not known; use one of {', '.join(DAYS)} or a weekday "
            f"({', '.join(WEEKDAYS)})"
        )
    return Rule(at=at, days=_days_key(days), anchor=anchor, offset=offset)


def _days_key(days: str) -> str:
    key = days.strip().lower()
    return next((w for w in WEEKDAYS if key == w[:3]), key)


def fire_times(rule: Rule, first: pd.Timestamp, last: pd.Timestamp) -> np.ndarray:
    """The rule's fire times (ns UTC, ascending) in the sessions dated ``first`` to ``last``.

    A clock time after an early close comes at that close (15:30 is 13:00 on a half day)."""
    first, last = pd.Timestamp(first), pd.Timestamp(last)
    # whole decades: building the calendar costs the same for any span, and is cached
    lo_year = (first - _MARGIN).year // 10 * 10
    hi_year = (last + _MARGIN).year // 10 * 10 + 9
    s = calendar.sessions(pd.Timestamp(f"{lo_year}-01-01"), pd.Timestamp(f"{hi_year}-12-31"))
    day = s.days
    keep = _chosen(rule.days, day)
    lo = pd.Timestamp(calendar._date(first)).value // calendar.DAY_NS
    hi = pd.Timestamp(calendar._date(last)).value // calendar.DAY_NS
    keep &= (day >= lo) & (day <= hi)
    if rule.anchor == "open":
        times = s.open[keep] + rule.offset.value
    elif rule.anchor == "close":
        times = s.close[keep] + rule.offset.value
    else:
        dates = pd.DatetimeIndex(day[keep] * calendar.DAY_NS)
        local = (dates + rule.offset).tz_localize(calendar.EXCHANGE_TZ, nonexistent="shift_forward")
        times = np.minimum(local.tz_convert("UTC").as_unit("ns").asi8, s.close[keep])
    return np.asarray(times, dtype=np.int64)


def _chosen(days: str, day: np.ndarray) -> np.ndarray:
    """Which of the consecutive sessions ``day`` (days since the epoch) the ``days`` rule picks;
    the first and last sessions of the array have no neighbour and are never a start or end."""
    if days == "every_day":
        return np.ones(len(day), dtype=bool)
    if days in WEEKDAYS:
        return (day + 3) % 7 == WEEKDAYS.index(days)  # 1970-01-01 was a Thursday
    if days.startswith("week"):
        period = (day + 3) // 7  # Monday-based weeks
    else:
        period = day.astype("datetime64[D]").astype("datetime64[M]").astype(np.int64)
    change = np.diff(period) != 0
    if days.endswith("start"):
        return np.concatenate(([False], change))
    return np.concatenate((change, [False]))
