"""Which session a run trades: regular hours only, or the extended session too (IB's outsideRth).

One rule for the backtest broker, the live broker and (in its own words) the gateway simulator:
outside regular hours only limit and stop-limit orders trade, and only when the session is
extended; other orders wait for the regular open. The US stock sessions come from
``quantnb.domain.calendar``; a day the calendar does not know (synthetic data on a holiday) is
taken to have the usual hours, 04:00-09:30-16:00-20:00 New York.
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Mapping

import numpy as np
import pandas as pd

from quantnb.domain import calendar
from quantnb.domain.calendar import CLOSED, POST, PRE, REGULAR
from quantnb.domain.model import Order, OrderType, TimeInForce
from quantnb.errors import ConfigError

HOURS = ("regular", "extended")
EXTENDED_TYPES = frozenset({OrderType.LIMIT, OrderType.STOP_LIMIT})  # IB: LMT and STP LMT only
# IB: "not available for IOC, OPG (MOO and LOO), FOK, MOC or LOC orders"
REGULAR_ONLY_TIFS = frozenset({TimeInForce.IOC, TimeInForce.FOK, TimeInForce.OPG})
logger = logging.getLogger(__name__)
_USUAL = tuple(pd.Timedelta(t) for t in ("4h", "9h30min", "16h", "20h"))

__all__ = ["CLOSED", "HOURS", "POST", "PRE", "REGULAR", "bar_phases", "extended", "may_trade"]


def extended(hours: str) -> bool:
    """True for ``hours="extended"``, False for ``"regular"``; anything else is a ConfigError."""
    if hours not in HOURS:
        raise ConfigError(
            f"hours={hours!r}: use 'regular' (regular trading hours only) or 'extended' "
            "(the pre-market and after-hours sessions too)"
        )
    return hours == "extended"


def outside_rth(order_type: OrderType, extended_session: bool) -> bool:
    """IB's outsideRth flag for an order of ``order_type``: set on limit and stop-limit orders
    of an extended session (IB ignores it on other types, with warning 2109)."""
    return extended_session and order_type in EXTENDED_TYPES


def order_outside_rth(order: Order, extended_session: bool) -> bool:
    """IB's outsideRth flag for ``order``: ``outside_rth`` of its type, and never on IOC, FOK
    or OPG orders, which IB keeps to regular hours (it ignores the flag, warning 2109)."""
    return outside_rth(order.type, extended_session) and order.tif not in REGULAR_ONLY_TIFS


def may_trade(order: Order, extended_session: bool, phase: int) -> bool:
    """Whether ``order`` may trade in a bar of ``phase`` (PRE, REGULAR, POST or CLOSED): none
    trades while the market is closed."""
    if phase == REGULAR:
        return True
    return phase != CLOSED and order_outside_rth(order, extended_session)


def bar_phases(times: pd.DatetimeIndex) -> np.ndarray:
    """The phase of each bar start in ``times`` (tz-aware): PRE, REGULAR, POST or CLOSED, by the
    exchange calendar (early closes included)."""
    if len(times) == 0:
        return np.empty(0, dtype=np.int8)
    utc = times.tz_convert("UTC").as_unit("ns")
    t = utc.asi8
    day = utc.tz_convert(calendar.EXCHANGE_TZ).tz_localize(None).normalize()
    bounds = [
        (day + off).tz_localize(calendar.EXCHANGE_TZ, ambiguous="NaT", nonexistent="shift_forward")
        .tz_convert("UTC").as_unit("ns").asi8
        for off in _USUAL
    ]  # fmt: skip
    week = pd.Timedelta(days=7)
    try:
        s = calendar.sessions(utc[0] - week, utc[-1] + week)
    except ConfigError:  # dates the calendar library does not cover: the usual hours
        s = None
    keys = day.as_unit("ns").asi8 // calendar.DAY_NS
    if s is not None and len(s):
        j = np.minimum(np.searchsorted(s.days, keys), len(s) - 1)
        known = s.days[j] == keys
        for b, a in zip(bounds, (s.pre, s.open, s.close, s.post), strict=True):
            b[known] = a[j[known]]
    pre, opens, close, post = bounds
    out = np.full(len(t), CLOSED, dtype=np.int8)
    out[(t >= pre) & (t < opens)] = PRE
    out[(t >= opens) & (t < close)] = REGULAR
    out[(t >= close) & (t < post)] = POST
    return out


def has_extended_bars(index: pd.DatetimeIndex) -> bool:
    """Whether any bar starts outside 09:30-16:00 New York: data of the extended session."""
    if len(index) == 0:
        return False
    # New York wall-clock nanoseconds, converted once (``.hour`` and ``.minute`` would each
    # convert again): a million bars cost a few milliseconds, not tens
    local = index.tz_convert(calendar.EXCHANGE_TZ).tz_localize(None).as_unit("ns").asi8
    of_day = local % calendar.DAY_NS
    minute = 60_000_000_000
    return bool(((of_day < (9 * 60 + 30) * minute) | (of_day >= 16 * 60 * minute)).any())


def regular_only(
    frames: Mapping[str, pd.DataFrame], skip: Collection[str] = ()
) -> dict[str, pd.DataFrame]:
    """``frames`` with the stock bars outside regular hours left out (the symbols in ``skip``,
    futures and FX, keep theirs). A frame without extended bars is returned as it is, and so is
    one with no bar in regular hours at all: its times are not New York trading hours."""
    out = {}
    for name, df in frames.items():
        out[name] = df
        if name in skip or not has_extended_bars(df.index):
            continue
        regular = bar_phases(df.index) == REGULAR
        if regular.any():
            out[name] = df[regular]
        else:
            logger.warning(
                "%s: no bar in New York regular hours (09:30-16:00); all its bars are kept. "
                "Are its times UTC? hours='regular' leaves out bars outside regular hours",
                name,
            )
    return out
