"""How far back to ask IB for history so a live run starts with its warm-up: bars to calendar time.

Intraday bars exist only inside the sessions of the instruments' exchanges (regular hours, or with
``extended`` the pre-market and after-hours, or the whole futures session, too; several calendars:
while any of them is open), so the span walks back through the sessions until enough
complete bars lie between its start and ``now``; daily and weekly bars count sessions and weeks.
A margin covers bars IB leaves out (halts, thin pre-market minutes).
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import numpy as np
import pandas as pd

from quantnb.domain import calendar
from quantnb.domain.interval import Interval
from quantnb.domain.market_hours import STOCKS, spans, trading_sessions

MARGIN = 0.1  # a tenth more bars than the warm-up ...
MIN_MARGIN = 2  # ... and at least this many


def bars_wanted(warmup_bars: int) -> int:
    """The bars to ask for: the warm-up (at least one bar, for the latest price) plus a margin."""
    need = max(int(warmup_bars), 1)
    return need + max(MIN_MARGIN, math.ceil(need * MARGIN))


def lookback_days(
    warmup_bars: int,
    interval: Interval | str,
    now: pd.Timestamp,
    extended: bool = False,
    calendars: Iterable[str] = (STOCKS,),
) -> float:
    """Calendar days before ``now`` that hold ``bars_wanted(warmup_bars)`` complete bars of the
    markets of ``calendars`` (exchange calendar names, "XNYS" for US stocks)."""
    cals = tuple(sorted(set(calendars))) or (STOCKS,)
    iv = Interval.parse(interval)
    need = bars_wanted(warmup_bars)
    now = pd.Timestamp(now)
    now = now.tz_localize("UTC") if now.tzinfo is None else now.tz_convert("UTC")
    if iv.is_intraday:
        start = _intraday_start(need, iv.seconds, now, extended, cals)
    elif iv.seconds >= 7 * 86400:
        start = now - pd.Timedelta(weeks=need + 1)
    else:
        start = min(_daily_start(need, now, name) for name in cals)
    # whole seconds and one more: days as a float must not cut the first bar off
    seconds = math.ceil((now - start).total_seconds()) + 1
    return max(seconds, iv.seconds) / 86400


def _intraday_start(
    need: int, seconds: int, now: pd.Timestamp, extended: bool, cals: tuple[str, ...]
) -> pd.Timestamp:
    step = seconds * calendar.NS
    days = 10 + 2 * math.ceil(need * seconds / (6.5 * 3600))
    while True:
        opens, closes = spans(cals, now - pd.Timedelta(days=days), now + pd.Timedelta(days=1),
                              extended)  # fmt: skip
        left = need
        for j in range(int(np.searchsorted(opens, now.value, side="right")) - 1, -1, -1):
            end = min(int(closes[j]), now.value)
            complete = max(0, (end - int(opens[j])) // step)
            if complete >= left:
                return pd.Timestamp(int(opens[j]) + (complete - left) * step, tz="UTC")
            left -= complete
        days *= 2  # not enough sessions in the window: look further back


def _daily_start(need: int, now: pd.Timestamp, name: str) -> pd.Timestamp:
    days = 10 + 2 * need
    while True:
        s = trading_sessions(name, now - pd.Timedelta(days=days), now + pd.Timedelta(days=1))
        done = np.flatnonzero(s.close <= now.value)  # sessions whose daily bar is complete
        if len(done) >= need:
            first = int(s.days[done[-need]]) * calendar.DAY_NS
            return pd.Timestamp(first, tz="UTC") - pd.Timedelta(days=1)
        days *= 2


__all__ = ["bars_wanted", "lookback_days"]
