"""The simulated market: bar series per symbol, a clock that walks through them slice by slice.

Each bar is played as ``slices`` sub-steps (5 s each for 1-minute bars) along a deterministic
open → extreme → extreme → close path; every slice is a small bar that drives ticks, 5-second
real-time bars and order matching. The clock moves over bars, not wall time, so nights and
weekends take no time. State here knows nothing of sockets and survives any restart.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from dataclasses import dataclass

import numpy as np
import pandas as pd

from quantnb.data import align, sample, validate
from quantnb.data.resample import infer_interval
from quantnb.domain.interval import VALID_INTERVALS, Interval
from quantnb.errors import ConfigError, DataError
from quantnb.sim.config import SimConfig
from quantnb.sim.contracts import SimContract, make_universe
from quantnb.sim.quotes import bid_ask

NS = 1_000_000_000
SLICE_SECONDS = 5
MAX_SLICES = 12
EXCHANGE_TZ = "America/New_York"
_DAY_NS = 86_400 * NS
_WEEK_NS = 7 * _DAY_NS
_WEEK_BARS = 5 * 390
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


# --- timelines ----------------------------------------------------------------------------------


class WeeklyTimeline:
    """US-session 1-minute bars, five days a week; index 0 is the first bar of the anchor week."""

    interval_ns = 60 * NS

    def __init__(self, anchor: pd.Timestamp, history_days: int) -> None:
        monday = anchor.tz_convert("UTC").tz_localize(None).normalize()
        self.anchor = monday - pd.Timedelta(days=monday.weekday())
        self.anchor_ns = int(self.anchor.value)
        self.first = -math.ceil(history_days / 7) * _WEEK_BARS
        self.last: int | None = None
        self._weeks: dict[int, np.ndarray] = {}

    def monday(self, week: int) -> pd.Timestamp:
        return self.anchor + pd.Timedelta(weeks=week)

    def week_times(self, week: int) -> np.ndarray:
        times = self._weeks.get(week)
        if times is None:
            days = pd.bdate_range(self.monday(week), periods=5)
            opens = (days + pd.Timedelta(hours=9, minutes=30)).tz_localize(EXCHANGE_TZ)
            opens_ns = opens.tz_convert("UTC").as_unit("ns").asi8
            minutes = np.arange(390, dtype=np.int64) * 60 * NS
            times = (opens_ns[:, None] + minutes[None, :]).ravel()
            self._weeks[week] = times
        return times

    def times(self, i0: int, i1: int) -> np.ndarray:
        parts = []
        i = i0
        while i < i1:
            week, k = divmod(i, _WEEK_BARS)
            take = min(_WEEK_BARS - k, i1 - i)
            parts.append(self.week_times(week)[k : k + take])
            i += take
        return np.concatenate(parts) if parts else np.empty(0, dtype=np.int64)

    def time_of(self, i: int) -> int:
        week, k = divmod(i, _WEEK_BARS)
        return int(self.week_times(week)[k])

    def index_at(self, t: int) -> int:
        """Index of the last bar starting at or before ``t``."""
        week = (t - self.anchor_ns) // _WEEK_NS
        k = int(np.searchsorted(self.week_times(week), t, side="right")) - 1
        return week * _WEEK_BARS + k


class FrameTimeline:
    """The union of the timestamps of the bars handed in."""

    def __init__(self, times: np.ndarray, interval_ns: int) -> None:
        self._times = times
        self.interval_ns = interval_ns
        self.first = 0
        self.last: int | None = len(times) - 1

    def times(self, i0: int, i1: int) -> np.ndarray:
        return self._times[max(i0, 0) : max(i1, 0)]

    def time_of(self, i: int) -> int:
        return int(self._times[i])

    def index_at(self, t: int) -> int:
        return int(np.searchsorted(self._times, t, side="right")) - 1


Timeline = WeeklyTimeline | FrameTimeline


# --- prices -------------------------------------------------------------------------------------


class GeneratedPrices:
    """A seeded random walk in weekly chunks of ``quantnb.data.sample`` bars, chained by scaling.

    Chunk 0 is the sample series as generated; each later (earlier) chunk is scaled so it opens
    at the previous chunk's close (closes at the next chunk's open). Generated on demand.
    """

    def __init__(self, symbol: str, seed: int, timeline: WeeklyTimeline) -> None:
        self.symbol = symbol
        self.seed = seed
        self.timeline = timeline
        self._scales: dict[int, float] = {0: 1.0}
        self._chunks: OrderedDict[int, np.ndarray] = OrderedDict()

    def __getstate__(self) -> dict:
        return {"symbol": self.symbol, "seed": self.seed, "timeline": self.timeline}

    def __setstate__(self, state: dict) -> None:
        self.__init__(state["symbol"], state["seed"], state["timeline"])  # type: ignore[misc]

    def _raw(self, week: int) -> np.ndarray:
        monday = self.timeline.monday(week)
        chunk_seed = self.seed * 1_000_003 + week + 10_000_000
        frame = sample(
            self.symbol, "1m", start=monday, end=monday + pd.Timedelta(days=4), seed=chunk_seed
        )[self.symbol]
        values = frame[["open", "high", "low", "close", "volume"]].to_numpy(dtype=float).T.copy()
        if values.shape[1] != _WEEK_BARS:
            raise DataError(f"sample week {monday.date()} has {values.shape[1]} bars, not 1950")
        return values

    def _scale(self, week: int) -> float:
        scale = self._scales.get(week)
        if scale is not None:
            return scale
        step = 1 if week > 0 else -1
        known = week
        while known not in self._scales:
            known -= step
        for w in range(known + step, week + step, step):
            raw = self._raw(w)
            neighbour = self.chunk(w - step)
            if step > 0:
                scale = neighbour[3, -1] / raw[0, 0]
            else:
                scale = neighbour[0, 0] / raw[3, -1]
            self._scales[w] = float(scale)
            self._store(w, _scaled(raw, float(scale)))
        return self._scales[week]

    def _store(self, week: int, values: np.ndarray) -> None:
        self._chunks[week] = values
        self._chunks.move_to_end(week)
        while len(self._chunks) > _CHUNK_CACHE:
            self._chunks.popitem(last=False)

    def chunk(self, week: int) -> np.ndarray:
        values = self._chunks.get(week)
        if values is None:
            scale = self._scale(week)
            values = self._chunks.get(week)
            if values is None:
                values = _scaled(self._raw(week), scale)
                self._store(week, values)
        else:
            self._chunks.move_to_end(week)
        return values

    def window(self, i0: int, i1: int) -> np.ndarray:
        parts = []
        i = i0
        while i < i1:
            week, k = divmod(i, _WEEK_BARS)
            take = min(_WEEK_BARS - k, i1 - i)
            parts.append(self.chunk(week)[:, k : k + take])
            i += take
        return np.concatenate(parts, axis=1) if parts else np.empty((5, 0))

    def bar(self, i: int) -> tuple[float, float, float, float, float]:
        week, k = divmod(i, _WEEK_BARS)
        col = self.chunk(week)[:, k]
        return float(col[0]), float(col[1]), float(col[2]), float(col[3]), float(col[4])


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


Prices = GeneratedPrices | FramePrices


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
            self.timeline = WeeklyTimeline(start, config.history_days)
            for symbol in config.symbols:
                self.prices[symbol] = GeneratedPrices(symbol, config.seed, self.timeline)
            self.index = self.timeline.index_at(start.value)
        self.symbols: list[str] = list(self.prices)
        self.contracts: dict[str, SimContract] = make_universe(self.symbols)
        self.interval_ns = self.timeline.interval_ns
        self.slices = max(1, min(MAX_SLICES, self.interval_ns // (SLICE_SECONDS * NS)))
        self.slice_ns = self.interval_ns // self.slices
        self.daily = self.interval_ns >= _DAY_NS
        self.elapsed = self.slices  # slices of bar ``index`` that have happened
        # (index from which it applies, cumulative factor) per symbol, from set_price
        self.factors: dict[str, list[tuple[int, float]]] = {s: [] for s in self.symbols}
        self.last: dict[str, float] = {}
        self.bar_state: dict[str, _BarState] = {}
        self.days: dict[str, DayStats] = {s: DayStats() for s in self.symbols}
        self.done = False
        self._new_day_flags: dict[str, bool] = {}
        self._prime()

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
        lo = max(self.index - 400, self.timeline.first)
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

    def day_key(self, t: int) -> int:
        """Trading date of a bar as days since the epoch (exchange dates intraday, UTC daily)."""
        if self.daily:
            return t // _DAY_NS
        stamp = pd.Timestamp(t, tz="UTC").tz_convert(EXCHANGE_TZ)
        return int(stamp.tz_localize(None).normalize().value // _DAY_NS)

    def day_keys(self, times: np.ndarray) -> np.ndarray:
        if self.daily or len(times) == 0:
            return times // _DAY_NS
        local = pd.DatetimeIndex(times).tz_localize("UTC").tz_convert(EXCHANGE_TZ)
        return local.tz_localize(None).normalize().asi8 // _DAY_NS

    def now_ns(self) -> int:
        """Market time: the start of the current bar plus the slices that have happened."""
        return self.timeline.time_of(self.index) + self.elapsed * self.slice_ns

    def session_of_next_trade(self) -> int:
        """Day key of the session the next price belongs to (a DAY order lives until its end)."""
        i = self.index
        last = self.timeline.last
        if self.elapsed >= self.slices and (last is None or i < last):
            i += 1
        return self.day_key(self.timeline.time_of(i))

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
        return values

    def quote(self, symbol: str) -> tuple[float, float]:
        """Bid and ask around the last price, at least a cent apart."""
        bid, ask = bid_ask(self.last[symbol], self.config.spread)
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
        return Slice(symbol, self.now_ns(), price, price, price, price, 0.0, self.index)

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
            self._enter_bar()
        k = self.elapsed
        t = self.timeline.time_of(self.index) + k * self.slice_ns
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
            out.append(Slice(symbol, t, o, h, lo, c, v, self.index, new_day))
        self.elapsed += 1
        return out

    def _enter_bar(self) -> None:
        t = self.timeline.time_of(self.index)
        key = self.day_key(t)
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
            self.bar_state[symbol] = _BarState(path_slices(o, h, lo, c, v, self.slices))

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
    o: float, h: float, lo: float, c: float, v: float, n: int
) -> list[tuple[float, float, float, float, float]]:
    """Split one bar into ``n`` small bars along open → low → high → close (→ high → low when
    the bar falls); together they keep the bar's open, high, low, close and volume."""
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
                return min(max(round(y, 2), lo), h)
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
