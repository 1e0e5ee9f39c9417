"""Auction orders and the time-bound ones: market/limit-on-close, market/limit-on-open, GTD,
IOC and FOK. One rule each, used by the backtest broker and the gateway simulator.

- MOC/LOC trade at the session's closing price (its last regular bar's close); a LOC only when
  that close is at or better than its limit, else it expires with the session.
- MOO/LOO (time in force OPG) trade at the opening price (the first regular bar's open); a LOO
  only at or better than its limit, else it is cancelled: IB keeps no OPG order past the open.
- Auction fills pay no slippage: an auction prints one price for every order in it.
- Cut-offs as IB's for NYSE stocks: MOC/LOC are refused from 10 minutes before the close
  (15:50 New York, 12:50 on an early close) until the close; MOO/LOO from 2 minutes before the
  open (09:28) until the close. Placed after the close, they are for the next session.
- GTD trades only in bars that end by its ``good_till``; IOC/FOK trade only at the first price
  after they are placed (the next bar's open in a backtest) and are cancelled otherwise.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass

import numpy as np
import pandas as pd

from quantnb.domain import calendar
from quantnb.domain.matching import match
from quantnb.domain.model import Order, OrderStatus, OrderType, Side, TimeInForce
from quantnb.errors import OrderError

OPEN, CLOSE = "open", "close"
CLOSE_CUTOFF = pd.Timedelta(minutes=10)  # MOC/LOC: 15:50 New York on a full day
OPEN_CUTOFF = pd.Timedelta(minutes=2)  # MOO/LOO: 09:28 New York
AUCTION_TYPES = frozenset({OrderType.MARKET_ON_CLOSE, OrderType.LIMIT_ON_CLOSE})
PLAIN_TIFS = frozenset({TimeInForce.DAY, TimeInForce.GTC})
IMMEDIATE = frozenset({TimeInForce.IOC, TimeInForce.FOK})


def is_special(order: Order) -> bool:
    """Whether ``order`` needs the rules of this module (an auction or a time-bound order)."""
    return order.tif not in PLAIN_TIFS or order.type in AUCTION_TYPES


def auction_of(order: Order) -> str | None:
    """Which auction ``order`` trades in: OPEN, CLOSE or None."""
    if order.type in AUCTION_TYPES:
        return CLOSE
    return OPEN if order.tif is TimeInForce.OPG else None


def auction_price(order: Order, price: float) -> float | None:
    """The fill price of an auction order when the auction prints ``price``, or None when its
    limit (LOC/LOO) is not met."""
    if order.limit is None:
        return price
    ok = price <= order.limit if order.side is Side.BUY else price >= order.limit
    return price if ok else None


def check_combination(order: Order) -> None:
    """Raise ``OrderError`` for the combinations IB refuses; the same rule live and in tests."""
    kind, tif = order.type, order.tif
    if kind in AUCTION_TYPES and tif is not TimeInForce.DAY:
        raise OrderError(
            f"a {kind.value} order trades in the closing auction of its day: its time in force "
            f"is DAY (IB refuses tif={tif.value!r} with error 113); leave tif= out"
        )
    plain = (OrderType.MARKET, OrderType.LIMIT)
    if tif is TimeInForce.OPG and kind not in plain:
        raise OrderError(
            f"the opening auction (tif='OPG', at='open') takes market or limit orders, "
            f"not {kind.name.lower()} orders (IB refuses them with error 111)"
        )
    if tif in IMMEDIATE and kind not in plain:
        raise OrderError(
            f"tif={tif.value!r} is for market and limit orders (IB refuses it on "
            f"{kind.name.lower()} orders with error 111)"
        )
    if tif is TimeInForce.GTD and order.good_till is None:
        raise OrderError("tif='GTD' needs good_till= (a time; naive times are New York's)")
    if order.good_till is not None and tif is not TimeInForce.GTD:
        raise OrderError(f"good_till= needs tif='GTD' (this order's tif is {tif.value!r})")
    if order.algo and kind not in plain:
        raise OrderError(
            f"IB's {order.algo} algo takes market and limit orders, not {kind.name.lower()} ones"
        )
    if order.algo and tif not in PLAIN_TIFS:
        raise OrderError(f"IB's {order.algo} algo works DAY or GTC orders, not tif={tif.value!r}")


def good_till(value: object) -> pd.Timestamp:
    """A GTD expiry as a UTC timestamp; a naive time is New York's (the exchange's zone). A date
    alone ('2024-01-05', a ``datetime.date``) is that day's close, as IB reads a GTD date: "until
    the close of the market on the date specified" (13:00 on an early close)."""
    try:
        ts = pd.Timestamp(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise OrderError(
            f"good_till={value!r} is not a time: give e.g. '2024-01-05 15:30' (New York)"
        ) from None
    if ts is pd.NaT:
        raise OrderError(f"good_till={value!r} is not a time")
    if _date_only(value):
        return _close_of(ts)
    if ts.tzinfo is None:
        ts = ts.tz_localize(calendar.EXCHANGE_TZ)
    return ts.tz_convert("UTC")


def _date_only(value: object) -> bool:
    if isinstance(value, datetime.datetime):
        return False
    if isinstance(value, datetime.date):
        return True
    return isinstance(value, str) and ":" not in value and "T" not in value.upper()


def _close_of(day: pd.Timestamp) -> pd.Timestamp:
    """The regular close of the session on ``day`` (its date); 16:00 New York when the
    exchange does not trade that day."""
    date = (day.tz_localize(None) if day.tzinfo is not None else day).normalize()
    s = calendar.sessions(date - pd.Timedelta(days=3), date + pd.Timedelta(days=3))
    k = s.find(date.value // calendar.DAY_NS)
    if k >= 0:
        return pd.Timestamp(int(s.close[k]), tz="UTC")
    local = (date + pd.Timedelta(hours=16)).tz_localize(calendar.EXCHANGE_TZ)
    return local.tz_convert("UTC")


def ib_good_till(ts: pd.Timestamp) -> str:
    """IB's goodTillDate text: 'YYYYMMDD HH:MM:SS America/New_York'."""
    local = pd.Timestamp(ts).tz_convert(calendar.EXCHANGE_TZ)
    return f"{local:%Y%m%d %H:%M:%S} {calendar.EXCHANGE_TZ}"


def parse_ib_good_till(text: str) -> pd.Timestamp | None:
    """IB's goodTillDate ('YYYYMMDD HH:MM:SS [zone]') as UTC; None when empty or unreadable."""
    parts = text.strip().replace("-", " ").split()
    if len(parts) < 2:
        return None
    try:
        ts = pd.Timestamp(f"{parts[0]} {parts[1]}")
        zone = parts[2] if len(parts) > 2 else calendar.EXCHANGE_TZ
        zone = {"EST": calendar.EXCHANGE_TZ, "US/Eastern": calendar.EXCHANGE_TZ}.get(zone, zone)
        return ts.tz_localize(zone).tz_convert("UTC")
    except (ValueError, TypeError, KeyError):
        return None


def refusal(order: Order, t: int) -> str:
    """Why IB refuses ``order`` placed at ``t`` (ns UTC): a GTD time already past, or its
    auction's cut-off; '' when it is accepted."""
    if order.good_till is not None and order.good_till.value <= t:
        now = pd.Timestamp(t, tz="UTC").tz_convert(calendar.EXCHANGE_TZ)
        return (
            f"good_till={order.good_till.tz_convert(calendar.EXCHANGE_TZ)} is not after the "
            f"time the order is placed ({now:%Y-%m-%d %H:%M:%S} New York)"
        )
    which = auction_of(order)
    if which is None:
        return ""
    day = pd.Timestamp(t, tz="UTC")
    s = calendar.sessions(day - pd.Timedelta(days=1), day + pd.Timedelta(days=1))
    j = int(np.searchsorted(s.open, t, side="right")) - 1
    # the session whose cut-off window may hold t: today's, or the next one before its open
    for k in (j, j + 1):
        if not 0 <= k < len(s):
            continue
        opens, closes = int(s.open[k]), int(s.close[k])
        start = closes - CLOSE_CUTOFF.value if which == CLOSE else opens - OPEN_CUTOFF.value
        if start <= t < closes:
            local = pd.Timestamp(start, tz="UTC").tz_convert(calendar.EXCHANGE_TZ)
            name = "market/limit-on-close" if which == CLOSE else "market/limit-on-open"
            after = "" if which == CLOSE else " for today's open"
            return (
                f"{name} orders are not accepted{after} after {local:%H:%M} New York: place it "
                "earlier, or after the close for the next session"
            )
    return ""


@dataclass(frozen=True, slots=True)
class SessionBars:
    """Which bars of a clock open and close their regular session, and when each bar ends.

    Daily bars are whole sessions: each opens and closes one. Intraday, the opening bar is the
    first regular-hours bar of its day and the closing bar the last one (from the exchange
    calendar, so pre-market and after-hours bars are neither).
    """

    opening: np.ndarray
    closing: np.ndarray
    ends: np.ndarray  # ns UTC: when each bar's trading is over
    daily: bool

    @classmethod
    def of(cls, clock: np.ndarray, interval_ns: int, daily: bool) -> SessionBars:
        n = len(clock)
        if n == 0:
            empty = np.zeros(0, dtype=bool)
            return cls(empty, empty, np.zeros(0, dtype=np.int64), daily)
        first = pd.Timestamp(int(clock[0]), tz="UTC") - pd.Timedelta(days=3)
        last = pd.Timestamp(int(clock[-1]), tz="UTC") + pd.Timedelta(days=3)
        s = calendar.sessions(first, last)
        if daily:
            ones = np.ones(n, dtype=bool)
            # a daily bar (stamped at its date) trades until its session's close
            days = clock // calendar.DAY_NS
            j = np.clip(np.searchsorted(s.days, days), 0, max(len(s) - 1, 0))
            known = (len(s) > 0) & (s.days[j] == days) if len(s) else np.zeros(n, dtype=bool)
            fallback = clock + 21 * 3600 * calendar.NS  # 16:00 New York in winter
            ends = np.where(known, s.close[j] if len(s) else fallback, fallback)
            return cls(ones, ones, ends.astype(np.int64), True)
        j = np.searchsorted(s.open, clock, side="right") - 1
        ok = j >= 0
        jj = np.maximum(j, 0)
        regular = ok & (clock >= s.open[jj]) & (clock < s.close[jj])
        key = np.where(regular, jj, -1)
        idx = np.flatnonzero(regular)
        opening = np.zeros(n, dtype=bool)
        closing = np.zeros(n, dtype=bool)
        if len(idx):
            k = key[idx]
            opening[idx[np.r_[True, k[1:] != k[:-1]]]] = True
            closing[idx[np.r_[k[1:] != k[:-1], True]]] = True
            # the data's last bar closes its session only if it ends at the close
            tail = idx[-1]
            if clock[tail] + interval_ns < s.close[key[tail]]:
                closing[tail] = False
        return cls(opening, closing, clock + interval_ns, False)

    def decision_ns(self, t: int) -> int:
        """When a decision made on bar ``t`` is sent: at the end of that bar."""
        return int(self.ends[t])


Ends = tuple[OrderStatus, str] | None  # how an order ends unfilled now, and why


def gtd_expired(good_till: pd.Timestamp) -> str:
    """Why a GTD order ended unfilled: the same words in a backtest and live."""
    local = good_till.tz_convert(calendar.EXCHANGE_TZ)
    return f"GTD order expired at {local:%Y-%m-%d %H:%M} New York"


def special_match(
    order: Order, o: float, h: float, lo: float, c: float, bars: SessionBars, t: int
) -> tuple[tuple[float, bool] | None, Ends]:
    """Match an auction or time-bound order in bar ``t``: ``(hit, ends)``.

    ``hit`` is ``(price, slips)`` or None; ``ends`` (status, reason) says the order ends
    unfilled now: expired (GTD, LOC) or cancelled (IOC, FOK, an unfilled LOO).
    """
    if order.good_till is not None and bars.ends[t] > order.good_till.value:
        return None, (OrderStatus.EXPIRED, gtd_expired(order.good_till))
    if order.tif in IMMEDIATE:
        hit = match(order, o, o, o, o)  # only the first price after it was placed
        if hit is None:
            why = f"{order.tif.value} order not filled at once (open {o:g}): cancelled"
            return None, (OrderStatus.CANCELLED, why)
        return hit, None
    which = auction_of(order)
    if which == OPEN:
        if not bars.opening[t]:
            return None, None
        p = auction_price(order, o)
        if p is None:
            why = f"limit-on-open not filled: the open {o:g} is beyond the limit"
            return None, (OrderStatus.CANCELLED, why)
        return (p, False), None
    if which == CLOSE:
        if not bars.closing[t]:
            return None, None
        p = auction_price(order, c)
        if p is None:
            why = f"limit-on-close not filled: the close {c:g} is beyond the limit"
            return None, (OrderStatus.EXPIRED, why)
        return (p, False), None
    return match(order, o, h, lo, c), None
