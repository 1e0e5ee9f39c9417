"""When futures settle: IB marks futures to market once a day, at the exchange's daily settlement
(CME equity futures at 15:00 Chicago, NYMEX crude oil at 13:30, or an early close before that),
paying the day's P&L into cash as variation margin."""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import pandas as pd

from quantnb.sim.venue_hours import bounds

SETTLES = {"CME": "15:00", "NYMEX": "13:30"}  # Chicago time of the daily settlement price
_DAY_NS = 86_400 * 1_000_000_000


@lru_cache(maxsize=16)
def _settlements(calendar: str, exchange: str, year: int) -> np.ndarray:
    """ns UTC of each session's settlement in the years around ``year``."""
    days, _, closes = bounds(calendar, f"{year - 1}-01-01", f"{year + 1}-12-31")
    dates = pd.DatetimeIndex(np.asarray(days, dtype=np.int64) * _DAY_NS)
    at = dates + pd.Timedelta(SETTLES.get(exchange, "15:00") + ":00")
    at_ns = at.tz_localize("America/Chicago").tz_convert("UTC").as_unit("ns").asi8
    return np.minimum(at_ns, np.asarray(closes, dtype=np.int64))


def last_settlement(calendar: str, exchange: str, t: int) -> int | None:
    """The latest daily settlement of a future on ``calendar`` (e.g. "CMES") and ``exchange``
    ("CME", "NYMEX") at or before ``t`` (ns UTC), or None."""
    year = pd.Timestamp(t, tz="UTC").year
    times = _settlements(calendar, exchange, year)
    j = int(np.searchsorted(times, t, side="right")) - 1
    return int(times[j]) if j >= 0 else None
