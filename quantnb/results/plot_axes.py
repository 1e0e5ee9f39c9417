"""Drawing helpers for result plots: a gapless bar-index time axis, money axes, and downsampling
so a million-bar result draws in well under a second."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd
from matplotlib.ticker import FuncFormatter, MaxNLocator

from quantnb.domain.calendar import EXCHANGE_TZ
from quantnb.results.fmt import format_money

MAX_LINE_POINTS = 4_000  # above this a line is drawn as a min/max envelope of 2,000 buckets
MAX_CANDLES = 300  # above this bars are merged into this many candles


@dataclass(frozen=True)
class Timeline:
    """The bars the plot's x axis counts: x = bar number, so nights and weekends take no room."""

    times: pd.DatetimeIndex  # UTC
    daily: bool

    @classmethod
    def of(cls, times: pd.DatetimeIndex) -> Timeline:
        idx = pd.DatetimeIndex(times)
        idx = idx.tz_localize("UTC") if idx.tz is None else idx.tz_convert("UTC")
        daily = bool(len(idx)) and bool((idx == idx.normalize()).all())
        return cls(idx, daily)

    def positions(self, times) -> np.ndarray:
        """Bar numbers of ``times`` (the bar at or after each time; exact for bars on the axis)."""
        idx = pd.DatetimeIndex(times)
        idx = idx.tz_localize("UTC") if idx.tz is None else idx.tz_convert("UTC")
        pos = np.searchsorted(self.times.asi8, idx.asi8, side="left")
        return np.minimum(pos, max(len(self.times) - 1, 0)).astype(float)

    def label(self, x: float, _pos=None) -> str:
        i = round(float(x))
        if not 0 <= i < len(self.times):
            return ""
        ts = self.times[i]
        if self.daily:
            return ts.strftime("%Y-%m-%d")
        return ts.tz_convert(EXCHANGE_TZ).strftime("%Y-%m-%d\n%H:%M")

    @property
    def xlabel(self) -> str:
        return "Date" if self.daily else f"Exchange time ({EXCHANGE_TZ})"

    def apply(self, ax) -> None:
        """Integer ticks labelled with the bars' dates or exchange times."""
        ax.xaxis.set_major_locator(MaxNLocator(nbins=7, integer=True))
        ax.xaxis.set_major_formatter(FuncFormatter(self.label))


def money_axis(ax, decimals: int = 2) -> None:
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _p: format_money(v, decimals)))


def compact_axis(ax) -> None:
    """Counts as 950, 12.5K, 3.2M."""

    def fmt(v: float, _p=None) -> str:
        for size, suffix in ((1e9, "B"), (1e6, "M"), (1e3, "K")):
            if abs(v) >= size:
                return f"{v / size:.3g}{suffix}"
        return f"{v:.0f}"

    ax.yaxis.set_major_formatter(FuncFormatter(fmt))


def envelope(x: np.ndarray, y: np.ndarray, limit: int = MAX_LINE_POINTS):
    """``(x, y)`` unchanged when short; else each of 2,000 buckets drawn as a min-to-max stroke,
    which looks the same as the full line at screen resolution."""
    n = len(y)
    if n <= limit:
        return x, y
    k = math.ceil(n / (limit // 2))
    starts = np.arange(0, n, k)
    lo = np.fmin.reduceat(y, starts)
    hi = np.fmax.reduceat(y, starts)
    mid = x[np.minimum(starts + k // 2, n - 1)]
    return np.repeat(mid, 2), np.column_stack([lo, hi]).ravel()


@dataclass(frozen=True)
class Candles:
    """OHLCV merged into at most ``MAX_CANDLES`` candles of ``width`` bars each."""

    x: np.ndarray
    open: np.ndarray
    high: np.ndarray
    low: np.ndarray
    close: np.ndarray
    volume: np.ndarray
    width: float

    @classmethod
    def of(cls, frame: pd.DataFrame, x: np.ndarray, limit: int = MAX_CANDLES) -> Candles:
        n = len(frame)
        k = max(1, math.ceil(n / limit))
        starts = np.arange(0, n, k)
        ends = np.minimum(starts + k, n) - 1
        close = frame["close"].to_numpy(float)
        op = frame["open"].to_numpy(float) if "open" in frame else close
        hi = frame["high"].to_numpy(float) if "high" in frame else close
        lo = frame["low"].to_numpy(float) if "low" in frame else close
        vol = frame["volume"].to_numpy(float) if "volume" in frame else np.zeros(n)
        if n == 0:
            empty = np.empty(0)
            return cls(empty, empty, empty, empty, empty, empty, 1.0)
        return cls(
            x=(x[starts] + x[ends]) / 2,
            open=op[starts],
            high=np.fmax.reduceat(hi, starts),
            low=np.fmin.reduceat(lo, starts),
            close=close[ends],
            volume=np.add.reduceat(np.nan_to_num(vol), starts),
            width=float(k),
        )

    @property
    def up(self) -> np.ndarray:
        return self.close >= self.open
