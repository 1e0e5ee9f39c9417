"""The simulated market's clock when it serves futures or FX: the hours of every venue served.

``VenueTimeline`` lays one-minute bars over the union of the US-stock sessions (04:00-20:00 New
York) and the sessions of the futures and FX calendars served (CME Globex from 17:00 Chicago the
evening before, IDEALPRO from Sunday 17:00 New York), so the night and Sunday-evening hours have
bars. Each trading date D owns the bars from 20:00 New York on the evening before to 20:00 on D.
Phases (pre-market, regular, after-hours) stay the US-stock ones: a night bar is CLOSED for a
stock; futures and FX trade wherever their own calendar has a bar. ``VenueWalk`` is the generated
walk of a future or pair on it; ``OnTimeline`` puts a stock's prices, generated on the US-stock
timeline as always, on this clock (NaN at night).
"""

from __future__ import annotations

from collections import OrderedDict

import numpy as np
import pandas as pd

from quantnb.data import sample
from quantnb.sim import calendar
from quantnb.sim.calendar import CLOSED, DAY_NS, EXCHANGE_TZ, POST, PRE, REGULAR, Sessions
from quantnb.sim.timeline import ChunkedBars, SessionTimeline
from quantnb.sim.venue_hours import bounds

_CHUNK_CACHE = 8
_CUT = pd.Timedelta(hours=20)  # a trading date's bars end at 20:00 New York (after-hours' end)


def _union_blocks(nyse: Sessions, calendars: tuple[str, ...], first: str, last: str) -> Sessions:
    """Per trading date, the hull of the venues' open hours from 20:00 New York the evening
    before to 20:00 on the date: (days, start, NYSE open, NYSE close, end)."""
    starts, ends = [nyse.pre], [nyse.post]
    for cal in calendars:
        _, opens, closes = bounds(cal, first, last)
        starts.append(opens)
        ends.append(closes)
    lo = np.concatenate(starts)
    hi = np.concatenate(ends)
    order = np.argsort(lo, kind="stable")
    lo, hi = lo[order], hi[order]
    # merge overlapping or touching intervals
    merged_lo, merged_hi = [int(lo[0])], [int(hi[0])]
    for a, b in zip(lo[1:], hi[1:]):
        if a <= merged_hi[-1]:
            merged_hi[-1] = max(merged_hi[-1], int(b))
        else:
            merged_lo.append(int(a))
            merged_hi.append(int(b))
    # cut at 20:00 New York of every date
    day = pd.Timedelta(days=1)
    dates = pd.date_range(pd.Timestamp(first) - day, pd.Timestamp(last) + day)
    cuts = (dates + _CUT).tz_localize(EXCHANGE_TZ).tz_convert("UTC").as_unit("ns").asi8
    cut_days = dates.as_unit("ns").asi8 // DAY_NS
    blocks: dict[int, list[int]] = {}
    for a, b in zip(merged_lo, merged_hi):
        k = int(np.searchsorted(cuts, a, side="right"))  # the first cut after a
        while a < b and k < len(cuts):
            end = min(b, int(cuts[k]))
            day = int(cut_days[k])
            if day in blocks:
                blocks[day][0] = min(blocks[day][0], a)
                blocks[day][1] = max(blocks[day][1], end)
            else:
                blocks[day] = [a, end]
            a, k = end, k + 1
    days = np.array(sorted(blocks), dtype=np.int64)
    start = np.array([blocks[d][0] for d in days], dtype=np.int64)
    end = np.array([blocks[d][1] for d in days], dtype=np.int64)
    open_ = end.copy()
    close = end.copy()
    pos = np.searchsorted(days, nyse.days)
    ok = (pos < len(days)) & (days[np.minimum(pos, len(days) - 1)] == nyse.days)
    open_[pos[ok]] = nyse.open[ok]
    close[pos[ok]] = nyse.close[ok]
    return Sessions(days, start, open_, close, end)


class VenueTimeline(SessionTimeline):
    """One-minute bars over the US-stock sessions and the ``calendars``' (``"CMES"``, ``"FX"``)."""

    def __init__(self, start: pd.Timestamp, history_days: int, calendars: tuple[str, ...]) -> None:
        self.calendars = tuple(sorted(calendars))
        super().__init__(start, history_days)

    def _load(self) -> None:
        nyse = calendar.sessions(self._from, self._to)
        self.nyse = nyse
        first, last = self._from.strftime("%Y-%m-%d"), self._to.strftime("%Y-%m-%d")
        s = _union_blocks(nyse, self.calendars, first, last)
        self.sessions = s
        counts = (s.post - s.pre) // self.interval_ns
        self.counts = counts
        self.offsets = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
        self.weeks = (s.days + 3) // 7
        self._hit = (0, int(self.offsets[0]), int(self.offsets[1]))

    def __getstate__(self) -> dict:
        return {**super().__getstate__(), "calendars": self.calendars}

    def phase(self, i: int) -> int:
        return int(self.phases(np.array([self.time_of(i)], dtype=np.int64))[0])

    def phases(self, times: np.ndarray) -> np.ndarray:
        """The US-stock phase of each of the bar start ``times`` (CLOSED at night)."""
        s = self.nyse
        times = np.asarray(times, dtype=np.int64)
        j = np.searchsorted(s.pre, times, side="right") - 1
        jc = np.maximum(j, 0)
        out = np.where(times < s.open[jc], PRE, np.where(times < s.close[jc], REGULAR, POST))
        return np.where((j < 0) | (times >= s.post[jc]), CLOSED, out)

    def _regular_session(self, i: int) -> int:
        """Position in ``nyse`` of the first regular session not over at bar ``i``'s start."""
        t = self.time_of(i)
        while t >= self.nyse.close[-1]:
            self._to += pd.Timedelta(days=400)
            self._load()
        return int(np.searchsorted(self.nyse.close, t, side="right"))

    def regular_day_from(self, i: int) -> int:
        return int(self.nyse.days[self._regular_session(i)])

    def open_at_or_after(self, i: int) -> int:
        j = self._regular_session(i)
        return max(int(self.nyse.open[j]), self.time_of(i))


class VenueWalk(ChunkedBars):
    """A seeded random walk over a ``VenueTimeline``'s bars, one calendar week per chunk, each
    chunk starting at the previous one's close (the way ``GeneratedPrices`` joins its weeks)."""

    def __init__(self, symbol: str, seed: int, timeline: VenueTimeline, anchor: int) -> None:
        self.symbol = symbol
        self.seed = seed
        self.timeline = timeline
        self.anchor = anchor
        self._scales: dict[int, float] = {0: 1.0}
        self._chunks: OrderedDict[int, np.ndarray] = OrderedDict()

    def __getstate__(self) -> dict:
        return {k: getattr(self, k) for k in ("symbol", "seed", "timeline", "anchor", "_scales")}

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self._chunks = OrderedDict()

    def _span(self, chunk: int) -> tuple[int, int]:
        tl = self.timeline
        week = self.anchor + chunk
        while tl.weeks[-1] <= week:
            tl.reach(int(tl.offsets[-1]))
        a, b = np.searchsorted(tl.weeks, [week, week + 1])
        return int(tl.offsets[a]), int(tl.offsets[b])

    def _raw(self, chunk: int) -> np.ndarray:
        lo, hi = self._span(chunk)
        if hi <= lo:
            return np.empty((5, 0))
        seed = self.seed * 1_000_003 + (self.anchor + chunk) * 3 + 50_000_000
        frame = sample(self.symbol, "1m", start="2024-01-01", bars=hi - lo, seed=seed)
        values = frame[self.symbol][["open", "high", "low", "close", "volume"]]
        return values.to_numpy(dtype=float).T.copy()

    def _scale(self, chunk: int) -> float:
        """The factor joining a chunk to its neighbour towards chunk 0 (kept; chunks are not)."""
        if chunk in self._scales:
            return self._scales[chunk]
        step = 1 if chunk > 0 else -1
        known = chunk
        while known not in self._scales:
            known -= step
        for w in range(known + step, chunk + step, step):
            raw = self._raw(w)
            near = self._raw(w - step)
            if raw.shape[1] == 0 or near.shape[1] == 0:
                self._scales[w] = self._scales[w - step]
            else:
                edge = near[3, -1] / raw[0, 0] if step > 0 else near[0, 0] / raw[3, -1]
                self._scales[w] = float(edge) * self._scales[w - step]
        return self._scales[chunk]

    def chunk(self, chunk: int) -> np.ndarray:
        values = self._chunks.get(chunk)
        if values is None:
            values = self._raw(chunk)
            values[:4] *= self._scale(chunk)
            self._chunks[chunk] = values
            while len(self._chunks) > _CHUNK_CACHE:
                self._chunks.popitem(last=False)
        else:
            self._chunks.move_to_end(chunk)
        return values

    def _chunk_of(self, i: int) -> int:
        tl = self.timeline
        return int(tl.weeks[tl.session_of(i)]) - self.anchor

    def bar(self, i: int) -> tuple[float, float, float, float, float]:
        col = self.window(i, i + 1)[:, 0]
        return float(col[0]), float(col[1]), float(col[2]), float(col[3]), float(col[4])


class OnTimeline:
    """Prices generated on the US-stock timeline ``source``, read by the bars of ``target``."""

    def __init__(self, prices: object, source: SessionTimeline, target: SessionTimeline) -> None:
        self.prices = prices
        self.source = source
        self.target = target

    def window(self, i0: int, i1: int) -> np.ndarray:
        times = self.target.times(i0, i1)
        out = np.full((5, len(times)), np.nan)
        if len(times) == 0:
            return out
        src = self.source
        src.index_at(int(times[-1]))  # loads the calendar that far
        s = src.sessions
        j = np.searchsorted(s.pre, times, side="right") - 1
        jc = np.maximum(j, 0)
        inside = (j >= 0) & (times < s.post[jc])
        if not inside.any():
            return out
        idx = src.offsets[jc] + (times - s.pre[jc]) // src.interval_ns
        lo, hi = int(idx[inside].min()), int(idx[inside].max()) + 1
        values = self.prices.window(lo, hi)  # type: ignore[attr-defined]
        out[:, inside] = values[:, idx[inside] - lo]
        return out

    def bar(self, i: int) -> tuple[float, float, float, float, float]:
        col = self.window(i, i + 1)[:, 0]
        return float(col[0]), float(col[1]), float(col[2]), float(col[3]), float(col[4])
