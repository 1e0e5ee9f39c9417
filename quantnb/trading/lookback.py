"""How far back to ask IB for history so a live run starts with its warm-up: bars to calendar time.

Intraday bars exist only inside the exchange's sessions (regular hours, or with ``extended`` the
pre-market and after-hours too), so the span walks back through the sessions until enough
complete bars lie between its start and ``now``; daily and weekly bars count sessions and weeks.
A margin covers bars IB leaves out (halts, thin pre-market minutes).
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from quantnb.domain import calendar
from quantnb.domain.interval import Interval

MARGIN = 0.1  # a tenth more bars than the warm-up ...
MIN_MARGIN = 2  # ... and at least this many


def bars_wanted(warmup_bars: int) -> int:
    """The bars to ask for: the warm-up (at least one bar, for the latest price) plus a margin."""
    need = max(int(warmup_bars), 1)
    return need + max(MIN_MARGIN, math.ceil(need * MARGIN))


def lookback_days(
    warmup_bars: int, interval: Interval | str, now: pd.Timestamp, extended: bool = False
) -> float:
    """Calendar days before ``now`` that hold ``bars_wanted(warmup_bars)`` complete bars."""
    iv = Interval.parse(interval)
    need = bars_wanted(warmup_bars)
    now = pd.Timestamp(now)
    now = now.tz_localize("UTC") if now.tzinfo is None else now.tz_convert("UTC")
    if iv.is_intraday:
        start = _intraday_start(need, iv.seconds, now, extended)
    elif iv.seconds >= 7 * 86400:
        start = now - pd.Timedelta(weeks=need + 1)
    else:
        start = _daily_start(need, now)
    # whole seconds and one more: days as a float must not cut the first bar off
    seconds = math.ceil((now - start).total_seconds()) + 1
    return max(seconds, iv.seconds) / 86400


def _window(now: pd.Timestamp, days: int) -> calendar.Sessions:
    return calendar.sessions(now - pd.Timedelta(days=days), now + pd.Timedelta(days=1))


def _intraday_start(need: int, seconds: int, now: pd.Timestamp, extended: bool) -> pd.Timestamp:
    step = seconds * calendar.NS
    days = 10 + 2 * math.ceil(need * seconds / (6.5 * 3600))
    while True:
        s = _window(now, days)
        opens, closes = (s.pre, s.post) if extended else (s.open, s.close)
        left = need
        for j in range(int(np.searchsorted(opens, now.value, side="right")) - 1, -1, -1):
            end = min(int(closes[j]), now.value)
            complete = max(0, (end - int(opens[j])) // step)
            if complete >= left:
                return pd.Timestamp(int(opens[j]) + (complete - left) * step, tz="UTC")
            left -= complete
        days *= 2  # not enough sessions in the window: look further back


def _daily_start(need: int, now: pd.Timestamp) -> pd.Timestamp:
    days = 10 + 2 * need
    while True:
        s = _window(now, days)
        done = np.flatnonzero(s.close <= now.value)  # sessions whose daily bar is complete
        if len(done) >= need:
            first = int(s.days[done[-need]]) * calendar.DAY_NS
            return pd.Timestamp(first, tz="UTC") - pd.Timedelta(days=1)
        days *= 2


__all__ = ["bars_wanted", "lookback_days"]
