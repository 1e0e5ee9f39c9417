"""When futures settle: IB marks futures to market once a day, at the exchange's daily settlement
(the close of the day session, 15:00 Chicago for CME's ES and NQ, or an early close), paying the
day's P&L into cash as variation margin."""

from __future__ import annotations

import numpy as np
import pandas as pd

from quantnb.sim.venue_hours import _bounds, _span


def last_settlement(calendar: str, t: int) -> int | None:
    """The latest daily settlement of ``calendar`` (a futures calendar, e.g. "CMES") at or
    before ``t`` (ns UTC), or None."""
    times = np.array([t], dtype=np.int64)
    _, _, closes = _bounds(calendar, *_span(times), True)  # liquid hours: the day session
    j = int(np.searchsorted(closes, t, side="right")) - 1
    return int(closes[j]) if j >= 0 else None


def settlement_text(t: int) -> str:
    return pd.Timestamp(t, tz="UTC").tz_convert("America/Chicago").strftime("%Y-%m-%d %H:%M")
