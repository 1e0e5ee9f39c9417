"""Which scheduled decisions a bar reaches: one rule for the backtest and the live engine.

A bar counts at the moment it is complete (its start plus the interval), which is when a live
run receives it; a scheduled decision runs at the first bar complete at or after its fire time,
right after that bar's ``on_data``, once per fire time (a bar that reaches several fire times of
one decision, after a gap in the data, runs it once). Daily and weekly bars reach every fire
time of the sessions they cover (a daily bar is its UTC date's session, as bars are stamped),
so ``close-1min`` on daily bars runs on that session's bar.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pandas as pd

from quantnb.domain.calendar import DAY_NS, EXCHANGE_TZ, NS
from quantnb.domain.interval import Interval
from quantnb.domain.schedule import Rule, fire_times
from quantnb.engine.context import fn_name

logger = logging.getLogger(__name__)

_WINDOW = pd.Timedelta(days=400)  # sessions read from the calendar at a time

Callback = Callable[[Any], Any]


class Scheduler:
    """The fire times of ``entries`` (rule, callback) after the moment ``after`` (ns UTC), handed
    out bar by bar through ``due``."""

    def __init__(
        self, entries: Sequence[tuple[Rule, Callback]], interval: Interval, after: int
    ) -> None:
        self._entries = list(entries)
        self._daily = not interval.is_intraday
        self._span = interval.seconds * NS
        self._span_days = max(interval.seconds * NS // DAY_NS, 1)
        self._after = int(after)
        self._keys = np.empty(0, dtype=np.int64)
        self._which = np.empty(0, dtype=np.int64)
        self._pos = 0
        self._from = _local_date(self._after) - pd.Timedelta(days=1)
        self._until = self._from  # sessions dated before this are loaded
        self._load()

    def _load(self) -> None:
        """Read the next window of sessions from the calendar."""
        start, end = self._until, self._until + _WINDOW
        times, which = [], []
        for k, (rule, _) in enumerate(self._entries):
            t = fire_times(rule, start, end - pd.Timedelta(days=1))
            times.append(t[t > self._after])
            which.append(np.full(len(times[-1]), k, dtype=np.int64))
        t = np.concatenate(times)
        w = np.concatenate(which)
        order = np.lexsort((w, t))  # by time, then in the order they were asked for
        keys = self._fire_keys(t[order])
        self._keys = np.concatenate((self._keys[self._pos :], keys))
        self._which = np.concatenate((self._which[self._pos :], w[order]))
        self._pos = 0
        self._until = end
        self._next = int(self._keys[0]) if len(self._keys) else self._horizon()

    def _fire_keys(self, t: np.ndarray) -> np.ndarray:
        """Fire times as the keys bars are compared with: the time, or for daily bars the
        session's date (days since the epoch)."""
        if not self._daily:
            return t
        local = pd.DatetimeIndex(t).tz_localize("UTC").tz_convert(EXCHANGE_TZ).tz_localize(None)
        return local.as_unit("ns").asi8 // DAY_NS

    def _horizon(self) -> int:
        """The first key not loaded yet."""
        end = pd.Timestamp(self._until)
        if self._daily:
            return end.value // DAY_NS
        return end.tz_localize(EXCHANGE_TZ).tz_convert("UTC").value

    def due(self, start: int) -> list[Callback]:
        """The callbacks the bar starting at ``start`` (ns UTC) reaches, each once, in fire-time
        order; they are not handed out again. A bar's key is when it is complete, or for daily
        and weekly bars the last date it covers."""
        key = start // DAY_NS + self._span_days - 1 if self._daily else start + self._span
        if key < self._next:
            return []
        while key >= self._horizon():
            self._load()
        n = int(np.searchsorted(self._keys, key, side="right"))
        picked = dict.fromkeys(int(k) for k in self._which[self._pos : n])
        self._pos = max(n, self._pos)
        self._next = int(self._keys[self._pos]) if self._pos < len(self._keys) else self._horizon()
        return [self._entries[k][1] for k in picked]


def _local_date(t: int) -> pd.Timestamp:
    return pd.Timestamp(int(t), tz="UTC").tz_convert(EXCHANGE_TZ).tz_localize(None).normalize()


def scheduler_for(ctx: Any, interval: Interval, after: int) -> Scheduler | None:
    """The Scheduler of the decisions ``ctx.schedule`` collected (None when there are none);
    ``ctx.schedule`` refuses new ones from here on."""
    entries = ctx._take_schedules()
    if not entries:
        return None
    logger.info("scheduled: %s", "; ".join(f"{fn_name(fn)} {rule}" for rule, fn in entries))
    return Scheduler(entries, interval, after)


def with_schedule(
    on_data: Callable[..., Any], ctx: Any, clock: np.ndarray, interval: Interval
) -> Callable[..., Any]:
    """``on_data`` followed by the scheduled decisions each bar of ``clock`` (a backtest's bar
    starts, ns UTC) reaches; ``on_data`` itself when nothing is scheduled."""
    scheduler = scheduler_for(ctx, interval, int(clock[0]) - 1 if len(clock) else 0)
    if scheduler is None:
        return on_data
    due = scheduler.due

    def on_data_then_scheduled(c: Any, data: Any) -> None:
        on_data(c, data)
        for fn in due(int(clock[ctx._t])):
            fn(c)

    return on_data_then_scheduled
