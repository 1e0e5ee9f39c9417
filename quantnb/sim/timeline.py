"""Where the simulated market's bars are in time: bar index ↔ start time, trading day and phase.

``SessionTimeline`` lays one-minute bars over the exchange calendar's sessions, extended hours
included (04:00-20:00 New York on a full day); ``FrameTimeline`` is the union of the times of
bars handed in. Both answer the same questions so the market does not care which it has.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from quantnb.domain import sessions
from quantnb.sim import calendar
from quantnb.sim.calendar import CLOSED, DAY_NS, EXCHANGE_TZ, NS, POST, PRE, REGULAR

_AHEAD = pd.Timedelta(days=400)  # calendar loaded past the start, extended when reached
_SPARE = pd.Timedelta(days=7)  # so that some session precedes the start


class ChunkedBars:
    """Reads of bars kept in chunks (OHLCV rows by bar), for a price source that defines
    ``chunk(c)``, ``_chunk_of(i)`` (the chunk of bar ``i``) and ``_span(c)`` (its bars)."""

    def window(self, i0: int, i1: int) -> np.ndarray:
        """Bars ``i0:i1`` as a (5, n) array, across chunks."""
        parts = []
        i = max(i0, 0)
        while i < i1:
            c = self._chunk_of(i)  # type: ignore[attr-defined]
            lo, hi = self._span(c)  # type: ignore[attr-defined]
            take = min(hi, i1) - i
            parts.append(self.chunk(c)[:, i - lo : i - lo + take])  # type: ignore[attr-defined]
            i += take
        return np.concatenate(parts, axis=1) if parts else np.empty((5, 0))


class SessionTimeline:
    """One-minute bars of every pre-market, regular and after-hours session of the exchange
    calendar, from ``history_days`` before ``start`` on; index 0 is the first bar."""

    interval_ns = 60 * NS

    def __init__(self, start: pd.Timestamp, history_days: int) -> None:
        self._from = start - pd.Timedelta(days=history_days) - _SPARE
        self._to = start + _AHEAD
        self.first = 0
        self.last: int | None = None
        self._load()

    def _load(self) -> None:
        s = calendar.sessions(self._from, self._to)
        self.sessions = s
        counts = (s.post - s.pre) // self.interval_ns
        self.counts = counts
        self.offsets = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
        self.weeks = (s.days + 3) // 7  # Monday-based week of each session
        self._hit = (0, int(self.offsets[0]), int(self.offsets[1]))

    def __getstate__(self) -> dict:
        return {"_from": self._from, "_to": self._to, "first": self.first, "last": self.last}

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self._load()

    def reach(self, i: int) -> None:
        """Load the calendar further ahead until bar ``i`` exists."""
        while i >= self.offsets[-1]:
            self._to += _AHEAD
            self._load()

    def session_of(self, i: int) -> int:
        """Position in ``sessions`` of the session bar ``i`` belongs to."""
        j, lo, hi = self._hit
        if lo <= i < hi:
            return j
        self.reach(i)
        j = int(np.searchsorted(self.offsets, i, side="right")) - 1
        self._hit = (j, int(self.offsets[j]), int(self.offsets[j + 1]))
        return j

    def time_of(self, i: int) -> int:
        j = self.session_of(i)
        return int(self.sessions.pre[j]) + (i - self._hit[1]) * self.interval_ns

    def times(self, i0: int, i1: int) -> np.ndarray:
        i0 = max(i0, 0)
        if i1 <= i0:
            return np.empty(0, dtype=np.int64)
        self.reach(i1 - 1)
        idx = np.arange(i0, i1, dtype=np.int64)
        j = np.searchsorted(self.offsets, idx, side="right") - 1
        return self.sessions.pre[j] + (idx - self.offsets[j]) * self.interval_ns

    def index_at(self, t: int) -> int:
        """Index of the last bar starting at or before ``t`` (-1 before the first)."""
        while t >= self.sessions.pre[-1]:
            self._to += _AHEAD
            self._load()
        j = int(np.searchsorted(self.sessions.pre, t, side="right")) - 1
        if j < 0:
            return -1
        k = min((t - int(self.sessions.pre[j])) // self.interval_ns, int(self.counts[j]) - 1)
        return int(self.offsets[j]) + int(k)

    def phase(self, i: int) -> int:
        j = self.session_of(i)
        t = self.time_of(i)
        s = self.sessions
        return PRE if t < s.open[j] else REGULAR if t < s.close[j] else POST

    def phases(self, times: np.ndarray) -> np.ndarray:
        """The phase of each of the bar start ``times``."""
        s = self.sessions
        j = np.searchsorted(s.pre, times, side="right") - 1
        jc = np.maximum(j, 0)
        out = np.where(times < s.open[jc], PRE, np.where(times < s.close[jc], REGULAR, POST))
        return np.where((j < 0) | (times >= s.post[jc]), CLOSED, out)

    def day_of(self, i: int) -> int:
        return int(self.sessions.days[self.session_of(i)])

    def day_start(self, i: int) -> int:
        """Index of the first bar of bar ``i``'s trading day."""
        return int(self.offsets[self.session_of(i)])

    def regular_day_from(self, i: int) -> int:
        """Trading day of the first regular-hours bar at or after bar ``i``."""
        j = self.session_of(i)
        if self.time_of(i) >= self.sessions.close[j]:
            self.reach(int(self.offsets[j + 1]))
            j += 1
        return int(self.sessions.days[j])

    def open_at_or_after(self, i: int) -> int:
        """Start (ns) of the first regular-hours minute at or after bar ``i``'s start."""
        j = self.session_of(i)
        t = self.time_of(i)
        if t >= self.sessions.close[j]:
            self.reach(int(self.offsets[j + 1]))
            j += 1
        return max(int(self.sessions.open[j]), t)


class FrameTimeline:
    """The union of the timestamps of the bars handed in.

    Bars handed in are the market: each is tradable. Intraday bars from 09:30 to 16:00 New York
    are regular hours, earlier ones pre-market and later ones after-hours; daily bars are regular.
    """

    def __init__(self, times: np.ndarray, interval_ns: int) -> None:
        self._times = times
        self.interval_ns = interval_ns
        self.first = 0
        self.last: int | None = len(times) - 1
        self._phases = self.phases(times)
        regular = np.flatnonzero(self._phases == REGULAR)
        # for each bar, the first regular bar at or after it (len(times) when none)
        self._next_regular = np.full(len(times), len(times), dtype=np.int64)
        if len(regular):
            pos = np.searchsorted(regular, np.arange(len(times)))
            ok = pos < len(regular)
            self._next_regular[ok] = regular[pos[ok]]

    def times(self, i0: int, i1: int) -> np.ndarray:
        return self._times[max(i0, 0) : max(i1, 0)]

    def time_of(self, i: int) -> int:
        return int(self._times[i])

    def index_at(self, t: int) -> int:
        return int(np.searchsorted(self._times, t, side="right")) - 1

    def phases(self, times: np.ndarray) -> np.ndarray:
        """By the exchange calendar, early closes included (a half day's 13:00-17:00 is
        after-hours); bars handed in outside 04:00-20:00 count as pre- or after-hours."""
        if self.interval_ns >= DAY_NS or len(times) == 0:
            return np.full(len(times), REGULAR)
        utc = pd.DatetimeIndex(times).tz_localize("UTC")
        out = sessions.bar_phases(utc).astype(np.int64)
        local = utc.tz_convert(EXCHANGE_TZ)
        minutes = np.asarray(local.hour * 60 + local.minute)
        by_clock = np.where(minutes < 570, PRE, POST)  # bars handed in outside the calendar
        return np.where(out == CLOSED, by_clock, out)

    def phase(self, i: int) -> int:
        return int(self._phases[i])

    def day_of(self, i: int) -> int:
        t = self.time_of(i)
        if self.interval_ns >= DAY_NS:
            return t // DAY_NS
        stamp = pd.Timestamp(t, tz="UTC").tz_convert(EXCHANGE_TZ)
        return int(stamp.tz_localize(None).normalize().value // DAY_NS)

    def day_start(self, i: int) -> int:
        return max(i - 400, 0)

    def regular_day_from(self, i: int) -> int:
        j = int(self._next_regular[i]) if 0 <= i < len(self._times) else len(self._times)
        return self.day_of(j if j < len(self._times) else max(i, 0))

    def open_at_or_after(self, i: int) -> int:
        j = int(self._next_regular[i]) if 0 <= i < len(self._times) else len(self._times)
        return self.time_of(j if j < len(self._times) else i)


Timeline = SessionTimeline | FrameTimeline
