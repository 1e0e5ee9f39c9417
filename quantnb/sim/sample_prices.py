"""The simulated market as the continuation of ``qn.data.sample``: one price world for the
backtest on the sample data and the paper run on the simulator that follows it.

``DailyPath`` holds a symbol's daily bars: over the sample's default period (2020-01-01 to
2023-12-31) exactly ``qn.data.sample(symbol, "1d", seed=seed)``'s, before and after it yearly
walks with the same volatility, drift and volume, joined at their ends. ``bridge`` lays a day's
regular-hours minute bars along a random walk's shape so they open, close, reach the high and
low and trade the volume of the day's bar.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from quantnb.data.sample import character, daily_walk, sample
from quantnb.sim.calendar import DAY_NS

SAMPLE_START, SAMPLE_END = "2020-01-01", "2023-12-31"  # sample()'s default period
_FIRST_YEAR, _LAST_YEAR = 2020, 2023


class DailyPath:
    """One symbol's daily open, high, low, close and volume by day key (days since the epoch)."""

    def __init__(self, symbol: str, seed: int) -> None:
        self.symbol, self.seed = symbol, seed
        self.price0 = character(symbol, seed)[2]  # every walk starts from it, then is scaled
        base = sample(symbol, "1d", start=SAMPLE_START, end=SAMPLE_END, seed=seed)[symbol]
        self._blocks: dict[int, tuple[np.ndarray, np.ndarray]] = {0: _arrays(base)}
        self._scales: dict[int, float] = {0: 1.0}

    def day(self, key: int) -> tuple[float, float, float, float, float] | None:
        """The bar of day ``key``, or None on a weekend."""
        keys, values = self._block(_block_of(key))
        i = int(np.searchsorted(keys, key))
        if i >= len(keys) or keys[i] != key:
            return None
        o, h, lo, c, v = values[:, i]
        return float(o), float(h), float(lo), float(c), float(v)

    def _block(self, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Block 0 is the sample's period; block k > 0 the year 2023 + k, k < 0 the year
        2020 + k; each is scaled so it starts from the close before it (ends at the price the
        one after it starts from)."""
        found = self._blocks.get(k)
        if found is not None:
            return found
        step = 1 if k > 0 else -1
        self._block(k - step)
        year = _LAST_YEAR + k if k > 0 else _FIRST_YEAR + k
        stream = 2 * abs(k) + (k < 0)  # one path per year, either side
        walk = daily_walk(self.symbol, self.seed, f"{year}-01-01", f"{year}-12-31", stream)
        keys, raw = _arrays(walk)
        if k > 0:  # the walk starts from price0: put the previous block's close there
            scale = self._blocks[k - 1][1][3, -1] / self.price0
        else:  # the next block starts from price0 times its scale: end there
            scale = self.price0 * self._scales[k + 1] / raw[3, -1]
        values = raw.copy()
        values[:4] = np.maximum(np.round(raw[:4] * scale, 2), 0.01)
        self._scales[k] = float(scale)
        self._blocks[k] = (keys, values)
        return keys, values


def _arrays(frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    keys = frame.index.asi8 // DAY_NS
    return keys, frame[["open", "high", "low", "close", "volume"]].to_numpy(dtype=float).T


def _block_of(key: int) -> int:
    year = pd.Timestamp(key * DAY_NS).year
    if year > _LAST_YEAR:
        return year - _LAST_YEAR
    if year < _FIRST_YEAR:
        return year - _FIRST_YEAR
    return 0


def bridge(walk: np.ndarray, o: float, h: float, lo: float, c: float, v: float) -> np.ndarray:
    """Minute bars (rows open, high, low, close, volume) with ``walk``'s shape that open at
    ``o``, close at ``c``, reach exactly ``h`` and ``lo`` and trade ``v`` in all."""
    n = walk.shape[1]
    if n == 0:
        return walk.copy()
    x = np.log(walk[:4])
    starts = np.arange(n) / n
    t = np.vstack([starts, starts + 0.5 / n, starts + 0.5 / n, starts + 1 / n])
    # the walk's own move from its open to its close replaced by the day's
    x += (math.log(o) - x[0, 0]) + t * (math.log(c) - math.log(o) - (x[3, -1] - x[0, 0]))
    x[0, 0], x[3, -1] = math.log(o), math.log(c)
    x[1] = np.maximum(x[1], np.maximum(x[0], x[3]))
    x[2] = np.minimum(x[2], np.minimum(x[0], x[3]))
    a, b = min(math.log(o), math.log(c)), max(math.log(o), math.log(c))
    _stretch(x, a, math.log(lo), below=True)
    _stretch(x, b, math.log(h), below=False)
    out = np.empty_like(walk, dtype=float)
    out[:4] = np.clip(np.round(np.exp(x), 2), lo, h)
    out[0, 0], out[3, -1] = o, c
    out[1] = np.maximum(out[1], np.maximum(out[0], out[3]))
    out[2] = np.minimum(out[2], np.minimum(out[0], out[3]))
    out[1, int(np.argmax(out[1]))], out[2, int(np.argmin(out[2]))] = h, lo
    shape = np.maximum(walk[4], 1.0)
    volume = np.floor(shape * (v / shape.sum()))
    volume[int(np.argmax(volume))] += v - volume.sum()  # the day's volume exactly
    out[4] = volume
    return out


def _stretch(x: np.ndarray, edge: float, target: float, below: bool) -> None:
    """Map the part of ``x`` beyond ``edge`` linearly so its extreme lands on ``target``;
    values on the other side of ``edge`` keep theirs, so the order of every value is kept."""
    values = x[1:3]
    extreme = float(values.min() if below else values.max())
    reach = edge - extreme if below else extreme - edge
    want = edge - target if below else target - edge
    if reach <= 1e-12:  # the walk never went beyond the open and close: one bar gets there
        row = 2 if below else 1
        j = int(np.argmin(x[row]) if below else np.argmax(x[row]))
        x[row, j] = target
        return
    beyond = x < edge if below else x > edge
    x[beyond] = edge + (x[beyond] - edge) * (want / reach)
