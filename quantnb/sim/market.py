"""The simulated market: bar series per symbol, a clock that walks through them slice by slice.

Each bar is played as ``slices`` sub-steps (5 s each for 1-minute bars) along a deterministic
open → extreme → extreme → close path; every slice is a small bar that drives ticks, 5-second
real-time bars and order matching. The generated market trades the exchange calendar's sessions,
pre-market and after-hours included; holidays and nights have no bars. The clock moves over
bars: the realtime clock of the server lets closed hours pass (``wait_until``) unless told to
skip them. State here knows nothing of sockets and survives any restart.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from dataclasses import dataclass

import numpy as np
import pandas as pd

from quantnb.data import align, sample, validate
from quantnb.data.resample import infer_interval
from quantnb.domain.calendar import open_since, trade_date_end
from quantnb.domain.interval import VALID_INTERVALS, Interval
from quantnb.errors import ConfigError, DataError
from quantnb.sim import calendar, instruments, venue_hours
from quantnb.sim.calendar import CLOSED, EXCHANGE_TZ, NS, POST, PRE, REGULAR
from quantnb.sim.config import SimConfig
from quantnb.sim.contracts import SimContract, make_universe
from quantnb.sim.instrument_prices import InstrumentPrices
from quantnb.sim.quotes import bid_ask, on_grid
from quantnb.sim.sample_prices import DailyPath, bridge
from quantnb.sim.timeline import ChunkedBars, FrameTimeline, SessionTimeline, Timeline
from quantnb.sim.venue_timeline import OnTimeline, VenueTimeline, VenueWalk

__all__ = ["CLOSED", "EXCHANGE_TZ", "NS", "POST", "PRE", "REGULAR", "Market", "Slice"]

SLICE_SECONDS = 5
MAX_SLICES = 12
_DAY_NS = 86_400 * NS
_SESSION_BARS = 390
_SAMPLE_MONDAY = "2024-01-01"  # sample walks are laid on this week; only their values are used
_EXTENDED_VOLUME = 0.05
_EXTENDED_SPREAD = 5.0  # the quoted spread outside regular hours, as a multiple of the regular
_CHUNK_CACHE = 64
DEFAULT_START = "2024-01-03 15:00"  # a Wednesday, 10:00 in New York


@dataclass(slots=True)
class Slice:
    """One sub-step of one symbol's bar: the small bar that just happened."""

    symbol: str
    time: int  # ns, slice start
    open: float
    high: float
    low: float
    close: float
    volume: float
    index: int  # bar index
    new_day: bool = False
    phase: int = REGULAR  # PRE, REGULAR or POST: the part of the trading day of its bar


@dataclass(slots=True)
class _BarState:
    """The bar in progress for one symbol: its path and what has happened so far."""

    slices: list[tuple[float, float, float, float, float]]
    open: float = math.nan
    high: float = math.nan
    low: float = math.nan
    close: float = math.nan
    volume: float = 0.0


@dataclass(slots=True)
class DayStats:
    open: float = math.nan
    high: float = math.nan
    low: float = math.nan
    volume: float = 0.0
    prev_close: float = math.nan
    key: int = -1


# --- prices -------------------------------------------------------------------------------------


class GeneratedPrices(ChunkedBars):
    """A seeded random walk over the timeline's sessions, one calendar week per chunk.

    A chunk's regular hours are ``quantnb.data.sample`` one-minute bars; its pre-market and
    after-hours bars are two more sample walks, damped (half the log-moves), joined to the
    regular open and close and with a twentieth of the volume. Chunk 0 (the start's week) is as
    generated; each later (earlier) chunk is scaled so it opens at the previous chunk's close
    (closes at the next chunk's open). Generated on demand.
    """

    def __init__(self, symbol: str, seed: int, timeline: SessionTimeline, anchor: int) -> None:
        self.symbol = symbol
        self.seed = seed
        self.timeline = timeline
        self.anchor = anchor  # week number (Monday-based, since the epoch) of chunk 0
        self._scales: dict[int, float] = {0: 1.0}
        self._chunks: OrderedDict[int, np.ndarray] = OrderedDict()

    def __getstate__(self) -> dict:
        return {
            "symbol": self.symbol, "seed": self.seed, "timeline": self.timeline,
            "anchor": self.anchor,
        }  # fmt: skip

    def __setstate__(self, state: dict) -> None:
        self.__init__(state["symbol"], state["seed"], state["timeline"], state["anchor"])  # type: ignore[misc]

    def _sessions(self, chunk: int) -> tuple[int, int]:
        """Positions ``[a, b)`` of the chunk's sessions in the timeline."""
        tl = self.timeline
        week = self.anchor + chunk
        while tl.weeks[-1] <= week:
            tl.reach(int(tl.offsets[-1]))
        a, b = np.searchsorted(tl.weeks, [week, week + 1])
        return int(a), int(b)

    def _raw(self, chunk: int) -> np.ndarray:
        tl = self.timeline
        a, b = self._sessions(chunk)
        s = tl.sessions
        if b <= a:
            return np.empty((5, 0))
        pre_n = (s.open[a:b] - s.pre[a:b]) // tl.interval_ns
        reg_n = (s.close[a:b] - s.open[a:b]) // tl.interval_ns
        post_n = (s.post[a:b] - s.close[a:b]) // tl.interval_ns
        width = int(max(_SESSION_BARS, pre_n.max(), reg_n.max(), post_n.max()))
        base = self.seed * 1_000_003 + (self.anchor + chunk) * 3 + 30_000_000
        walks = [
            sample(self.symbol, "1m", start=_SAMPLE_MONDAY, bars=5 * width, seed=base + k)[
                self.symbol
            ][["open", "high", "low", "close", "volume"]]
            .to_numpy(dtype=float)
            .T
            for k in range(3)
        ]
        # extended-hours volume: a twentieth of the regular walk's, whatever the walks' scales
        thin = [_EXTENDED_VOLUME * walks[0][4].mean() / w[4].mean() for w in walks]
        parts = []
        for q, j in enumerate(range(a, b)):
            slot = int((s.days[j] + 3) % 7) * width  # the session's weekday picks its piece
            reg, more = self._regular(walks[0][:, slot : slot + int(reg_n[q])], int(s.days[j]))
            pre_walk, post_walk = (w[:, slot : slot + int(n[q])] for w, n in
                                   ((walks[1], pre_n), (walks[2], post_n)))  # fmt: skip
            pre = _extended(pre_walk, reg[0, 0], thin[1] * more, True)
            post = _extended(post_walk, reg[3, -1], thin[2] * more, False)
            parts += [pre, reg, post]
        return np.concatenate(parts, axis=1)

    def _regular(self, walk: np.ndarray, day: int) -> tuple[np.ndarray, float]:
        """A session's regular-hours bars from a piece of walk, and by how much their volume
        grew (the extended hours trade in proportion)."""
        return walk, 1.0

    def _span(self, chunk: int) -> tuple[int, int]:
        a, b = self._sessions(chunk)
        return int(self.timeline.offsets[a]), int(self.timeline.offsets[b])

    def _chunk_of(self, i: int) -> int:
        tl = self.timeline
        return int(tl.weeks[tl.session_of(i)]) - self.anchor

    def _scale(self, chunk: int) -> float:
        scale = self._scales.get(chunk)
        if scale is not None:
            return scale
        step = 1 if chunk > 0 else -1
        known = chunk
        while known not in self._scales:
            known -= step
        for w in range(known + step, chunk + step, step):
            raw = self._raw(w)
            neighbour = self.chunk(w - step)
            if raw.shape[1] == 0 or neighbour.shape[1] == 0:
                scale = self._scales[w - step]
            elif step > 0:
                scale = neighbour[3, -1] / raw[0, 0]
            else:
                scale = neighbour[0, 0] / raw[3, -1]
            self._scales[w] = float(scale)
            self._store(w, _scaled(raw, float(scale)))
        return self._scales[chunk]

    def _store(self, chunk: int, values: np.ndarray) -> None:
        self._chunks[chunk] = values
        self._chunks.move_to_end(chunk)
        while len(self._chunks) > _CHUNK_CACHE:
            self._chunks.popitem(last=False)

    def chunk(self, chunk: int) -> np.ndarray:
        values = self._chunks.get(chunk)
        if values is None:
            scale = self._scale(chunk)
            values = self._chunks.get(chunk)
            if values is None:
                values = _scaled(self._raw(chunk), scale)
                self._store(chunk, values)
        else:
            self._chunks.move_to_end(chunk)
        return values

    def bar(self, i: int) -> tuple[float, float, float, float, float]:
        c = self._chunk_of(i)
        lo, _ = self._span(c)
        col = self.chunk(c)[:, i - lo]
        return float(col[0]), float(col[1]), float(col[2]), float(col[3]), float(col[4])


class SamplePrices(GeneratedPrices):
    """Generated prices whose regular hours are ``qn.data.sample``'s daily bars (and their
    continuation, see ``sample_prices``), laid along the walk's minute shape; the extended
    hours join them as in ``GeneratedPrices``. No chunk is scaled: the days fix the prices."""

    def __init__(self, symbol: str, seed: int, timeline: SessionTimeline, anchor: int) -> None:
        super().__init__(symbol, seed, timeline, anchor)
        self.days = DailyPath(symbol, seed)

    def _scale(self, chunk: int) -> float:
        return 1.0

    def _regular(self, walk: np.ndarray, day: int) -> tuple[np.ndarray, float]:
        bar = self.days.day(day)
        if bar is None or walk.shape[1] == 0:  # no weekday bar: cannot happen on a session
            return walk, 1.0
        out = bridge(walk, *bar)
        return out, float(out[4].sum() / max(walk[4].sum(), 1.0))


def _extended(raw: np.ndarray, join: float, volume: float, last: bool) -> np.ndarray:
    """Extended-hours bars from a sample walk: damped to half its log-moves, scaled so that they
    end (``last``) or start at ``join``, with ``volume`` times its volume."""
    out = raw.copy()
    if out.shape[1] == 0:
        return out
    ref = raw[3, -1] if last else raw[0, 0]
    out[:4] = np.maximum(np.round(join * np.sqrt(raw[:4] / ref), 2), 0.01)
    out[4] = np.maximum(np.round(raw[4] * volume), 1.0)
    return out


def _scaled(raw: np.ndarray, scale: float) -> np.ndarray:
    out = raw.copy()
    if scale != 1.0:
        out[:4] = np.maximum(np.round(raw[:4] * scale, 2), 0.01)
    return out


class FramePrices:
    """Bars handed in, aligned to the union timeline (NaN where a symbol has no bar)."""

    def __init__(self, values: np.ndarray) -> None:
        self.values = values

    def window(self, i0: int, i1: int) -> np.ndarray:
        return self.values[:, max(i0, 0) : max(i1, 0)]

    def bar(self, i: int) -> tuple[float, float, float, float, float]:
        col = self.values[:, i]
        return float(col[0]), float(col[1]), float(col[2]), float(col[3]), float(col[4])


Prices = GeneratedPrices | FramePrices | InstrumentPrices | OnTimeline


# --- the market ---------------------------------------------------------------------------------


class Market:
    """Symbols, their bars, the clock, current prices and price overrides."""

    def __init__(self, config: SimConfig, bars: dict[str, pd.DataFrame] | None = None) -> None:
        self.config = config
        start = config.start_time
        self.prices: dict[str, Prices] = {}
        if bars:
            self.timeline: Timeline = self._from_frames(bars)
            self.index = 0 if start is None else max(self.timeline.index_at(start.value), 0)
        else:
            if start is None:
                start = pd.Timestamp(DEFAULT_START, tz="UTC")
            stocks = SessionTimeline(start, config.history_days)
            venues = instruments.calendars(config.futures, config.fx)
            timeline = VenueTimeline(start, config.history_days, venues) if venues else stocks
            self.timeline = timeline
            anchor = int(stocks.weeks[stocks.session_of(stocks.index_at(start.value))])
            kind = SamplePrices if config.follow_sample else GeneratedPrices
            for symbol in config.symbols:
                walk = kind(symbol, config.seed, stocks, anchor)
                on = walk if timeline is stocks else OnTimeline(walk, stocks, timeline)
                self.prices[symbol] = on
            self.index = timeline.index_at(start.value)
        self.contracts: dict[str, SimContract] = make_universe(list(self.prices))
        if bars is None or not bars:
            self._add_instruments(start)
        self.symbols: list[str] = list(self.prices)
        # minimum tick of each future, FX pair and index (stocks: cents, as before)
        self.tick_of: dict[str, float] = {
            k: c.min_tick for k, c in self.contracts.items() if not c.is_stock
        }
        self.interval_ns = self.timeline.interval_ns
        self.slices = max(1, min(MAX_SLICES, self.interval_ns // (SLICE_SECONDS * NS)))
        self.slice_ns = self.interval_ns // self.slices
        self.daily = self.interval_ns >= _DAY_NS
        self.elapsed = self.slices  # slices of bar ``index`` that have happened
        self.idle_ns = 0  # closed time that has passed since bar ``index`` ended
        self.bar_ns = self.timeline.time_of(self.index) if self.index >= 0 else 0
        self.bar_phase = self.timeline.phase(self.index) if self.index >= 0 else CLOSED
        # (index from which it applies, cumulative factor) per symbol, from set_price
        self.factors: dict[str, list[tuple[int, float]]] = {s: [] for s in self.symbols}
        self.last: dict[str, float] = {}
        self.bar_state: dict[str, _BarState] = {}
        self.days: dict[str, DayStats] = {s: DayStats() for s in self.symbols}
        self.done = False
        self._new_day_flags: dict[str, bool] = {}
        self._prime()
        if start is not None:
            self.wait_until(start.value)

    def _add_instruments(self, start: pd.Timestamp | None) -> None:
        """The futures months, FX pairs and indices the settings ask for, with their prices."""
        cfg = self.config
        if not (cfg.futures or cfg.fx or cfg.indices):
            return
        assert isinstance(self.timeline, SessionTimeline) and start is not None
        timeline = self.timeline
        anchor = int(timeline.weeks[timeline.session_of(timeline.index_at(start.value))])
        at = max(self.index, timeline.first)
        contracts = instruments.universe(start, cfg.futures, cfg.fx, cfg.indices)
        fronts: dict[str, str] = {}
        for c in contracts:
            inst = c.instrument
            assert inst is not None
            if c.sec_type == "FUT" and inst.expiry is not None:
                fronts.setdefault(c.ib_symbol, inst.expiry)
            key = inst.symbol if c.sec_type == "FUT" else inst.name
            walk: object = (
                VenueWalk(key, cfg.seed, timeline, anchor)
                if isinstance(timeline, VenueTimeline)
                else GeneratedPrices(key, cfg.seed, timeline, anchor)
            )
            level = instruments.level(c) * (1 + instruments.carry(c, fronts.get(c.ib_symbol, "")))
            self.prices[c.symbol] = InstrumentPrices(
                walk, level, c.min_tick, timeline, inst.calendar, at
            )
            self.contracts[c.symbol] = c

    def _from_frames(self, bars: dict[str, pd.DataFrame]) -> FrameTimeline:
        """Validate the bars handed in, put them on one clock and learn their interval."""
        frames: dict[str, pd.DataFrame] = {}
        intervals: dict[str, Interval] = {}
        for symbol, df in bars.items():
            name = str(symbol).strip().upper()
            if isinstance(df, pd.DataFrame) and isinstance(df.index, pd.DatetimeIndex):
                if df.index.tz is None:
                    df = df.tz_localize("UTC")  # naive times are read as UTC
                df = df.set_axis(df.index.tz_convert("UTC").as_unit("ns"))
            validate(df, name)
            if len(df) == 0:
                raise DataError(f"{name}: no bars; hand in at least one bar per symbol")
            frames[name] = df
            interval = infer_interval(df)
            if interval is not None:
                intervals[name] = interval
        kinds = set(intervals.values())
        if not kinds:
            raise DataError(
                f"cannot tell the bar interval of {', '.join(frames)}: the bars are closer than "
                f"one minute or too few; resample them to one of {', '.join(VALID_INTERVALS)} "
                "(quantnb.data.resample) or set df.attrs['interval']"
            )
        if len(kinds) > 1:
            found = ", ".join(f"{s} {iv}" for s, iv in intervals.items())
            raise DataError(
                f"the bars handed in have different intervals ({found}); resample them to one "
                "interval with quantnb.data.resample"
            )
        aligned = align(frames)
        union = aligned.index.asi8
        for j, (name, frame) in enumerate(frames.items()):
            rows = aligned.rows[:, j]
            present = rows >= 0
            values = np.full((5, len(union)), np.nan)
            for row, col in enumerate(("open", "high", "low", "close", "volume")):
                values[row, present] = frame[col].to_numpy(dtype=float)[rows[present]]
            self.prices[name] = FramePrices(values)
        return FrameTimeline(union, kinds.pop().seconds * NS)

    def _prime(self) -> None:
        """Set prices, the bar in progress and day statistics at the starting position."""
        for symbol in self.symbols:
            window = self._scaled_window(
                symbol, max(self.index - 400, self.timeline.first), self.index + 1
            )
            closes = window[3][~np.isnan(window[3])]
            self.last[symbol] = float(closes[-1]) if len(closes) else math.nan
            o, h, lo, c, v = self._bar(symbol, self.index)
            self.bar_state[symbol] = _BarState([], o, h, lo, c, 0.0 if math.isnan(v) else v)
            self.days[symbol] = self._day_so_far(symbol)

    def _day_so_far(self, symbol: str) -> DayStats:
        key = self.day_key(self.timeline.time_of(self.index)) if self.index >= 0 else -1
        lo = max(self.timeline.day_start(max(self.index, 0)) - 1, self.timeline.first)
        times = self.timeline.times(lo, self.index + 1)
        window = self._scaled_window(symbol, lo, self.index + 1)
        keys = self.day_keys(times)
        today = (keys == key) & ~np.isnan(window[3])
        before = (keys < key) & ~np.isnan(window[3])
        stats = DayStats(key=key)
        if today.any():
            stats.open = float(window[0][today][0])
            stats.high = float(np.max(window[1][today]))
            stats.low = float(np.min(window[2][today]))
            stats.volume = float(np.nansum(window[4][today]))
        if before.any():
            stats.prev_close = float(window[3][before][-1])
        return stats

    # --- time ---

    def day_key(self, t: int, symbol: str | None = None) -> int:
        """Trading date of a bar as days since the epoch (exchange dates intraday, UTC daily;
        of ``symbol``: a future's or FX pair's, see ``day_keys``)."""
        if self.daily:
            return t // _DAY_NS
        if self._venue(symbol) is not None:
            return int(self.day_keys(np.array([t], dtype=np.int64), symbol)[0])
        stamp = pd.Timestamp(t, tz="UTC").tz_convert(EXCHANGE_TZ)
        return int(stamp.tz_localize(None).normalize().value // _DAY_NS)

    def day_keys(self, times: np.ndarray, symbol: str | None = None) -> np.ndarray:
        """Trading dates of bars; a future's or FX pair's evening session trades for the next
        date, as IB dates their daily bars."""
        if self.daily or len(times) == 0:
            return times // _DAY_NS
        venue = self._venue(symbol)
        if venue is not None:
            return venue_hours.trade_dates(venue, times)
        local = pd.DatetimeIndex(times).tz_localize("UTC").tz_convert(EXCHANGE_TZ)
        return local.tz_localize(None).normalize().asi8 // _DAY_NS

    def now_ns(self) -> int:
        """Market time: the start of the current bar plus the slices that have happened, plus
        the closed time that has passed since it ended."""
        return self.bar_ns + self.elapsed * self.slice_ns + self.idle_ns

    def _next_index(self) -> int:
        """The bar the next price belongs to."""
        last = self.timeline.last
        if self.elapsed >= self.slices and (last is None or self.index < last):
            return self.index + 1
        return self.index

    def session_of_next_trade(self, regular_only: bool = False) -> int:
        """Day key of the session an order placed now is for (a DAY order lives until its end):
        for a regular-hours order placed after the close, the next day's."""
        i = self._next_index()
        if regular_only:
            return self.timeline.regular_day_from(i)
        return self.day_key(self.timeline.time_of(i))

    def day_order_end(self, symbol: str) -> int | None:
        """When a DAY order on ``symbol`` placed now ends (ns UTC), for a future or FX pair: at
        the end of its trade date (the session trading now, or the next to open; see
        ``quantnb.domain.calendar.trade_dates``). None for stocks, indices and daily bars."""
        venue = self._venue(symbol)
        if venue is None or self.daily:
            return None
        day = venue_hours.order_trade_date(venue, self.now_ns())
        return trade_date_end(venue, day)

    def phase_now(self) -> int:
        """The part of the trading day the market is in now: PRE, REGULAR, POST or CLOSED."""
        if self.elapsed < self.slices:
            return self.bar_phase
        if self.daily:
            return self.bar_phase  # daily bars carry no hours
        start = self.next_bar_ns()
        if start is None or start != self.now_ns():
            return CLOSED
        return self.timeline.phase(self.index + 1)

    def trading_now(self, extended: bool) -> bool:
        """Whether an order may trade at the price now: regular hours only, or (``extended``)
        the pre-market and after-hours sessions too. A session's first trade opens it."""
        if self.index < 0:
            return False
        now = self.phase_now()
        if extended:
            return now != CLOSED and self.bar_phase != CLOSED
        return now == REGULAR and self.bar_phase == REGULAR

    def session_edges(self) -> tuple[bool, bool]:
        """Whether the slice just played opens a regular session (the first slice of its first
        regular bar) and whether it closes one (the last slice of its last): the auctions."""
        tl, i = self.timeline, self.index
        if self.index < 0 or self.bar_phase != REGULAR:
            return False, False

        def regular_same_day(j: int) -> bool:
            if j < tl.first or (tl.last is not None and j > tl.last):
                return False
            return tl.phase(j) == REGULAR and tl.day_of(j) == tl.day_of(i)

        opening = self.elapsed == 1 and not regular_same_day(i - 1)
        closing = self.elapsed == self.slices and not regular_same_day(i + 1)
        if closing and not self.daily and tl.last is not None and i >= tl.last:
            # the bars handed in end here: a close only if the session ends with this bar
            end = pd.Timestamp(tl.time_of(i) + self.interval_ns, tz="UTC")
            closing = open_since(end) is None
        return opening, closing

    def trades_now(self, symbol: str) -> bool:
        """Whether ``symbol`` has a bar now: a future or FX pair has none in its daily halt,
        over the weekend or between bars of the clock."""
        if self.index < 0:
            return False
        i = self.index
        if self.elapsed >= self.slices:
            start = self.next_bar_ns()
            if start is None or start != self.now_ns():
                return False
            i += 1
        return not math.isnan(self._bar(symbol, i)[3])

    def next_open_ns(self) -> int:
        """When the regular session an order placed now would first trade in opens."""
        return self.timeline.open_at_or_after(self._next_index())

    def wait_until(self, t: int) -> None:
        """Let closed time pass up to ``t`` (ns), never past the start of the next bar."""
        if self.elapsed < self.slices:
            return
        end = self.bar_ns + self.elapsed * self.slice_ns
        start = self.next_bar_ns()
        limit = t if start is None else min(t, start)
        self.idle_ns = max(limit - end, self.idle_ns, 0)

    def next_slice_ns(self) -> int | None:
        """When the next slice ends (it is played then); None when the bars are used up."""
        if self.elapsed < self.slices:
            return self.bar_ns + (self.elapsed + 1) * self.slice_ns
        start = self.next_bar_ns()
        return None if start is None else start + self.slice_ns

    def slices_until(self, t: int, cap: int) -> int:
        """How many slices end at or before ``t`` (ns), at most ``cap``."""
        tl, last = self.timeline, self.timeline.last
        i, e, n = self.index, self.elapsed, 0
        while n < cap:
            if e >= self.slices:
                if last is not None and i >= last:
                    break
                i, e = i + 1, 0
            k = min(self.slices, (t - tl.time_of(i)) // self.slice_ns)
            if k <= e:
                break
            n += k - e
            e = k
        return min(n, cap)

    def extended_slices_ahead(self, cap: int) -> int:
        """How many of the next slices (at most ``cap``) belong to pre-market or after-hours
        bars, up to the next regular-hours bar."""
        tl, last = self.timeline, self.timeline.last
        i, e, n = self.index, self.elapsed, 0
        while n < cap:
            if e >= self.slices:
                if last is not None and i >= last:
                    break
                i, e = i + 1, 0
            if tl.phase(i) == REGULAR:
                break
            n += self.slices - e
            e = self.slices
        return min(n, cap)

    def trading_hours(self, liquid: bool = False, contract: SimContract | None = None) -> str:
        """IB's tradingHours (extended session) or liquidHours (regular) for the coming week, of
        a US stock or (``contract``) of a future, FX pair or index from its calendar."""
        if contract is not None and contract.instrument is not None and not contract.is_stock:
            return venue_hours.ib_hours(contract.instrument.calendar, self.now(), 7, liquid)
        now = self.now().tz_convert(EXCHANGE_TZ).tz_localize(None).normalize()
        sessions = calendar.sessions(now, now + pd.Timedelta(days=7))
        return calendar.ib_hours(sessions, now.value // _DAY_NS, 7, liquid)

    def _venue(self, symbol: str | None) -> str | None:
        """The calendar of a future or FX pair ("CMES", "FX"); None for stocks and indices."""
        c = self.contracts.get(symbol) if symbol else None
        if c is None or c.is_stock or c.instrument is None or c.instrument.calendar == "XNYS":
            return None
        return c.instrument.calendar

    def regular_hours(self, times: np.ndarray, symbol: str | None = None) -> np.ndarray:
        """Which of the bar start ``times`` are regular-hours bars (of ``symbol``: a future's
        liquid hours, an FX pair's whole session)."""
        venue = self._venue(symbol)
        if venue is not None and not self.daily:
            return venue_hours.liquid_mask(venue, times)
        return self.timeline.phases(times) == REGULAR

    def is_regular(self, symbol: str, phase: int, t: int) -> bool:
        """Whether a slice of ``symbol`` at ``t`` in the US-stock ``phase`` is in its regular
        hours (what a useRTH subscription keeps)."""
        if self._venue(symbol) is None:
            return phase == REGULAR
        return bool(self.regular_hours(np.array([t], dtype=np.int64), symbol)[0])

    def now(self) -> pd.Timestamp:
        return pd.Timestamp(self.now_ns(), tz="UTC")

    def next_bar_ns(self) -> int | None:
        """Start of the bar after the current one, once the current one is complete; else None."""
        last = self.timeline.last
        if self.elapsed < self.slices or (last is not None and self.index >= last):
            return None
        return self.timeline.time_of(self.index + 1)

    def head_ns(self) -> int:
        return self.timeline.time_of(self.timeline.first)

    # --- prices ---

    def _factor(self, symbol: str, i: int) -> float:
        factor = 1.0
        for start, value in self.factors[symbol]:
            if i >= start:
                factor = value
        return factor

    def _bar(self, symbol: str, i: int) -> tuple[float, float, float, float, float]:
        o, h, lo, c, v = self.prices[symbol].bar(i)
        f = self._factor(symbol, i)
        if f != 1.0:
            o, h, lo, c = (round(x * f, 4) for x in (o, h, lo, c))
            tick = self.tick_of.get(symbol)
            if tick is not None:
                o, h, lo, c = (float(on_grid(x, tick)) for x in (o, h, lo, c))
        return o, h, lo, c, v

    def _scaled_window(self, symbol: str, i0: int, i1: int) -> np.ndarray:
        values = self.prices[symbol].window(i0, i1)
        if self.factors[symbol]:
            values = values.copy()
            idx = np.arange(i0, i0 + values.shape[1])
            f = np.ones(len(idx))
            for start, value in self.factors[symbol]:
                f[idx >= start] = value
            values[:4] = np.round(values[:4] * f, 4)
            tick = self.tick_of.get(symbol)
            if tick is not None:
                values[:4] = on_grid(values[:4], tick)
        return values

    def quote(self, symbol: str) -> tuple[float, float]:
        """Bid and ask around the last price, at least a cent apart; wider outside regular
        hours."""
        spread = self.config.spread * (1.0 if self.bar_phase == REGULAR else _EXTENDED_SPREAD)
        bid, ask = bid_ask(self.last[symbol], spread, self.tick_of.get(symbol))
        return float(bid), float(ask)

    def set_price(self, symbol: str, price: float) -> Slice:
        """Move ``symbol`` to ``price`` from now on; later bars continue from there."""
        if not price > 0:
            raise ConfigError(f"price {price!r} for {symbol} must be positive")
        old = self.last[symbol]
        ratio = price / old if old > 0 else 1.0
        start = self.index + 1 if self.elapsed >= self.slices else self.index
        cumulative = self._factor(symbol, start) * ratio
        self.factors[symbol] = [(s, f) for s, f in self.factors[symbol] if s < start]
        self.factors[symbol].append((start, cumulative))
        state = self.bar_state[symbol]
        if self.elapsed < self.slices:
            state.slices = [
                (
                    round(o * ratio, 4),
                    round(h * ratio, 4),
                    round(lo * ratio, 4),
                    round(c * ratio, 4),
                    v,
                )
                for o, h, lo, c, v in state.slices
            ]
        state.high = max(state.high, price)
        state.low = min(state.low, price)
        state.close = price
        self.last[symbol] = price
        day = self.days[symbol]
        day.high, day.low = max(day.high, price), min(day.low, price)
        return Slice(
            symbol, self.now_ns(), price, price, price, price, 0.0, self.index,
            phase=self.phase_now(),
        )  # fmt: skip

    # --- the clock ---

    def advance(self) -> list[Slice] | None:
        """Play the next slice of every symbol; None when the bars handed in are used up."""
        if self.elapsed >= self.slices:
            last = self.timeline.last
            if last is not None and self.index >= last:
                self.done = True
                return None
            self.index += 1
            self.elapsed = 0
            self.idle_ns = 0
            self._enter_bar()
        k = self.elapsed
        t = self.bar_ns + k * self.slice_ns
        phase = self.bar_phase
        out = []
        for symbol in self.symbols:
            state = self.bar_state[symbol]
            if not state.slices:
                continue
            o, h, lo, c, v = state.slices[k]
            if k == 0:
                state.open, state.high, state.low, state.volume = o, h, lo, 0.0
            else:
                state.high, state.low = max(state.high, h), min(state.low, lo)
            state.close = c
            state.volume += v
            self.last[symbol] = c
            day = self.days[symbol]
            new_day = False
            if k == 0 and self._new_day_flags.get(symbol):
                new_day = True
            if math.isnan(day.open):
                day.open, day.high, day.low = o, h, lo
            day.high, day.low = max(day.high, h), min(day.low, lo)
            day.volume += v
            out.append(Slice(symbol, t, o, h, lo, c, v, self.index, new_day, phase))
        self.elapsed += 1
        return out

    def _enter_bar(self) -> None:
        t = self.timeline.time_of(self.index)
        self.bar_ns = t
        self.bar_phase = self.timeline.phase(self.index)
        key = self.timeline.day_of(self.index)
        self._new_day_flags = {}
        for symbol in self.symbols:
            o, h, lo, c, v = self._bar(symbol, self.index)
            if math.isnan(o):
                self.bar_state[symbol].slices = []
                continue
            day = self.days[symbol]
            if key != day.key:
                prev = self.last[symbol]
                self.days[symbol] = DayStats(key=key, prev_close=prev)
                self._new_day_flags[symbol] = True
            self.bar_state[symbol] = _BarState(
                path_slices(o, h, lo, c, v, self.slices, self.tick_of.get(symbol))
            )

    def bar_in_progress(self, symbol: str) -> tuple[float, float, float, float, float]:
        s = self.bar_state[symbol]
        return s.open, s.high, s.low, s.close, s.volume

    # --- history ---

    def history(self, symbol: str, t0: int, t1: int) -> tuple[np.ndarray, np.ndarray]:
        """Base bars starting in ``[t0, t1)`` up to now, the current bar as far as it got.

        Returns ``(times, values)`` with values rows open, high, low, close, volume.
        """
        tl = self.timeline
        i0 = max(tl.index_at(t0 - 1) + 1, tl.first)
        i1 = min(tl.index_at(t1 - 1) + 1, self.index + 1)
        if i1 <= i0:
            return np.empty(0, dtype=np.int64), np.empty((5, 0))
        times = tl.times(i0, i1)
        values = self._scaled_window(symbol, i0, i1)
        if i1 == self.index + 1 and self.elapsed < self.slices:
            values = values.copy()
            values[:, -1] = self.bar_in_progress(symbol)
            if self.elapsed == 0:
                times, values = times[:-1], values[:, :-1]
        keep = ~np.isnan(values[3])
        if not keep.all():
            times, values = times[keep], values[:, keep]
        return times, values


def path_slices(
    o: float, h: float, lo: float, c: float, v: float, n: int, tick: float | None = None
) -> list[tuple[float, float, float, float, float]]:
    """Split one bar into ``n`` small bars along open → low → high → close (→ high → low when
    the bar falls); together they keep the bar's open, high, low, close and volume. Prices are
    in cents, or on the ``tick`` grid of a future or FX pair."""
    if n <= 1:
        return [(o, h, lo, c, 0.0 if math.isnan(v) else v)]
    first, second = (lo, h) if c >= o else (h, lo)
    xs = (0.0, n / 3, 2 * n / 3, float(n))
    ys = (o, first, second, c)

    def at(x: float) -> float:
        if x <= 0:
            return o
        if x >= n:
            return c
        for j in range(3):
            if x <= xs[j + 1]:
                frac = (x - xs[j]) / (xs[j + 1] - xs[j])
                y = ys[j] + (ys[j + 1] - ys[j]) * frac
                y = round(y, 2) if tick is None else float(on_grid(y, tick))
                return min(max(y, lo), h)
        return c

    vol = 0.0 if math.isnan(v) else v
    share = math.floor(vol / n)
    out = []
    for k in range(n):
        so, sc = at(k), at(k + 1)
        inside = [ys[j] for j in (1, 2) if k < xs[j] <= k + 1]
        sh = max(so, sc, *inside)
        sl = min(so, sc, *inside)
        sv = share if k < n - 1 else vol - share * (n - 1)
        out.append((so, sh, sl, sc, float(sv)))
    return out
