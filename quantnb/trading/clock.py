"""The market clock a session trades by: the pace of the embedded simulator, when the next bar is
due and when a closed market opens. Market time is the simulator's clock on the simulator, the
wall clock on a real gateway; bars are stamped at their start, as IB stamps them.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

import numpy as np
import pandas as pd

from quantnb.domain.calendar import DAY_NS, NS, Sessions
from quantnb.domain.interval import Interval
from quantnb.domain.market_hours import (
    STOCKS,
    calendars_of,
    next_open,
    session_at,
    trading_sessions,
)

logger = logging.getLogger(__name__)

_TRADING_DAY_SECONDS = 23_400  # 09:30-16:00
_DAY_WALL_SECONDS = 2.0  # a daily bar about every two seconds


def pace(interval: Interval | str) -> float:
    """The embedded simulator's default speed for ``interval``: a completed bar about every
    second (1m: 60x, 5m: 300x, 1h: 3600x), a trading day about every two seconds."""
    seconds = Interval.parse(interval).seconds
    return float(min(seconds, _TRADING_DAY_SECONDS / _DAY_WALL_SECONDS))


def describe(config: Any) -> str:
    """``status["clock"]`` of a session on the simulator with ``config`` (a SimConfig)."""
    if config.mode == "manual":
        return "simulated market, moved by step()"
    if config.speed == 1:
        return "simulated market, real time"
    return f"simulated market, {config.speed:g}× real time"


def clock(engine: Any) -> str | None:
    """How the session's market clock runs; None on a real gateway."""
    sim = _sim(engine)
    return describe(sim.config) if sim is not None else None


def market_now(engine: Any) -> pd.Timestamp:
    """The market's time now: the embedded simulator's clock, else the gateway's (the wall clock
    moved by the offset last measured: a simulator run apart keeps its own market time), else
    the wall clock."""
    sim = _sim(engine)
    if sim is not None:
        try:
            return pd.Timestamp(sim.now)
        except Exception as exc:  # stopped or unreachable: the wall clock is the best guess
            logger.debug("no simulator time (%s)", exc)
    wall = pd.Timestamp.now(tz="UTC")
    offset = getattr(engine, "gateway_offset", None)
    return wall if offset is None else wall + offset


def next_bar_due(engine: Any) -> pd.Timestamp | None:
    """When the running session's next completed bar is expected (market time)."""
    if not engine.is_running or engine.interval is None:
        return None
    return due_after(
        engine.last_bar_time, market_now(engine), engine.interval, _extended(engine),
        calendars=session_calendars(engine),
    )  # fmt: skip


def market_closed_until(engine: Any) -> pd.Timestamp | None:
    """When the running session's markets, all closed, open next; None while one is open."""
    if not engine.is_running:
        return None
    return closed_until(market_now(engine), _extended(engine), calendars=session_calendars(engine))


def session_calendars(engine: Any) -> tuple[str, ...]:
    """The trading calendars of the session's symbols (a plain US stock trades by the NYSE's)."""
    cals = calendars_of(engine.symbols, getattr(engine, "instruments", {}) or {})
    return tuple(sorted(set(cals.values()))) or (STOCKS,)


def due_after(
    last: pd.Timestamp | None,
    now: pd.Timestamp,
    interval: Interval | str,
    extended: bool = False,
    *,
    calendars: Iterable[str] = (STOCKS,),
) -> pd.Timestamp | None:
    """When the bar after the one stamped ``last`` completes (with no ``last``: the bar in
    progress at ``now``): one interval after its start, at the latest when its session ends;
    a bar that would start while the market is closed starts at the next open. With several
    ``calendars`` the market is open while any of them is."""
    cals = tuple(calendars)
    iv = Interval.parse(interval)
    if not iv.is_intraday:
        if iv.name != "1d":
            return None
        dues = [_daily_due(last, now, extended, name) for name in cals]
        found = [d for d in dues if d is not None]
        return min(found) if found else None
    step = iv.seconds * NS
    start = _bar_end(last.value, step, extended, cals) if last is not None else None
    if start is None:
        start = now.value
        session = _session_at(start, extended, cals)
        if session is not None:
            start = max(session[0], start - start % step)
    session = _session_at(start, extended, cals)
    if session is None:  # the next bar starts at the next open
        opens = closed_until(_ts(start), extended, calendars=cals)
        if opens is None:
            return None
        start = opens.value
    end = _bar_end(start, step, extended, cals)
    return _ts(end) if end is not None else None


def closed_until(
    now: pd.Timestamp, extended: bool = False, *, calendars: Iterable[str] = (STOCKS,)
) -> pd.Timestamp | None:
    """The next open after ``now`` (the pre-market's with ``extended``) when every one of the
    ``calendars`` is closed at ``now``; None while one is open."""
    return next_open(tuple(calendars), now, extended)


def _daily_due(
    last: pd.Timestamp | None, now: pd.Timestamp, extended: bool, name: str
) -> pd.Timestamp | None:
    s = _around(now if last is None else last, name)
    bounds = s.post if extended else s.close
    if last is None:  # the day in progress, or the next
        j = int(np.searchsorted(bounds, now.value, side="right"))
    else:  # the trading day after the last bar's date
        j = int(np.searchsorted(s.days, last.value // DAY_NS + 1))
    return _ts(bounds[j]) if j < len(s) else None


def _bar_end(start: int, step: int, extended: bool, cals: tuple[str, ...]) -> int | None:
    """End (ns) of the bar starting at ``start``: the next multiple of the interval, at the
    latest the end of its session."""
    session = _session_at(start, extended, cals)
    if session is None:
        return None
    return min(start - start % step + step, session[1])


def _session_at(t: int, extended: bool, cals: tuple[str, ...]) -> tuple[int, int] | None:
    found = session_at(cals, _ts(t), extended)
    return None if found is None else (found[0].value, found[1].value)


def _around(t: pd.Timestamp, name: str = STOCKS) -> Sessions:
    week = (t - pd.Timedelta(days=t.day_of_week)).normalize()  # a window that changes weekly
    return trading_sessions(name, week - pd.Timedelta(days=7), week + pd.Timedelta(days=21))


def _ts(ns: int) -> pd.Timestamp:
    return pd.Timestamp(int(ns), tz="UTC")


def _extended(engine: Any) -> bool:
    return not getattr(engine.feed, "use_rth", True)


def _sim(engine: Any) -> Any:
    session = getattr(engine, "session", None)
    return getattr(session, "sim", None) if session is not None else None
