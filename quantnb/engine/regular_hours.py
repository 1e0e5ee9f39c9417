"""Which bar frames surely hold regular-hours bars only, told from their UTC times of day, so
that only the few bars whose New York time depends on daylight saving are converted."""

from __future__ import annotations

from collections.abc import Collection, Mapping

import pandas as pd

from quantnb.domain import sessions
from quantnb.domain.calendar import DAY_NS

_MINUTE = 60_000_000_000
# 09:30-16:00 New York is 13:30-20:00 UTC under daylight saving (UTC-4), 14:30-21:00 without
# (UTC-5): a bar in 14:30-20:00 UTC is in regular hours either way, one outside 13:30-21:00 in
# neither; only those in between need New York's offset on their day.
_EARLIEST, _SURE_FROM = (13 * 60 + 30) * _MINUTE, (14 * 60 + 30) * _MINUTE
_SURE_UNTIL, _LATEST = 20 * 60 * _MINUTE, 21 * 60 * _MINUTE
_OFFSETS_SINCE = pd.Timestamp("1900-01-01", tz="UTC").value  # New York: UTC-4 or UTC-5 since


def surely_regular(index: pd.DatetimeIndex) -> bool:
    """True when no bar of ``index`` starts outside 09:30-16:00 New York (what
    ``sessions.has_extended_bars`` says, in less time); False when some may."""
    if not isinstance(index, pd.DatetimeIndex) or index.tz is None or index.unit != "ns":
        return False
    if len(index) == 0:
        return True
    ns = index.asi8  # UTC nanoseconds
    if ns.min() < _OFFSETS_SINCE:
        return False
    of_day = ns % DAY_NS
    if ((of_day < _EARLIEST) | (of_day >= _LATEST)).any():
        return False
    unsure = (of_day < _SURE_FROM) | (of_day >= _SURE_UNTIL)
    return not (unsure.any() and sessions.has_extended_bars(index[unsure]))


def regular_only(
    frames: Mapping[str, pd.DataFrame], skip: Collection[str] = ()
) -> dict[str, pd.DataFrame]:
    """``sessions.regular_only``, frames surely in regular hours passed through unasked."""
    check = {n: df for n, df in frames.items() if n not in skip and not surely_regular(df.index)}
    kept = sessions.regular_only(check, skip) if check else {}
    return {n: kept.get(n, df) for n, df in frames.items()}
