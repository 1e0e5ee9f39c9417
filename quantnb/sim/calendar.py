"""US equity sessions for the simulator: the exchange calendar (``quantnb.domain.calendar``, read
by the live engine too) plus IB's ``tradingHours`` / ``liquidHours`` text of contract details.
"""

from __future__ import annotations

import pandas as pd

from quantnb.domain.calendar import (  # noqa: F401  (the simulator's modules import them here)
    AFTER_HOURS,
    CLOSED,
    DAY_NS,
    EXCHANGE,
    EXCHANGE_TZ,
    NS,
    POST,
    PRE,
    PRE_OPEN,
    REGULAR,
    Sessions,
    phase_at,
    sessions,
)

IB_TIME_ZONE = "US/Eastern"  # contract details' timeZoneId


def ib_hours(s: Sessions, day_key: int, days: int = 7, liquid: bool = False) -> str:
    """IB's ``tradingHours`` (``liquid=False``: extended session) or ``liquidHours`` (regular)
    for ``days`` calendar days from ``day_key``: ``20240102:0400-20240102:2000;20240106:CLOSED``."""
    parts = []
    for key in range(day_key, day_key + days):
        date = pd.Timestamp(key * DAY_NS).strftime("%Y%m%d")
        j = s.find(key)
        if j < 0:
            parts.append(f"{date}:CLOSED")
            continue
        lo, hi = (s.open[j], s.close[j]) if liquid else (s.pre[j], s.post[j])
        parts.append(f"{_local(lo)}-{_local(hi)}")
    return ";".join(parts)


def _local(t: int) -> str:
    return pd.Timestamp(int(t), tz="UTC").tz_convert(EXCHANGE_TZ).strftime("%Y%m%d:%H%M")
