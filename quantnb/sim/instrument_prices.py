"""Prices of a future, FX pair or index: a generated walk moved to the instrument's level, on its
tick grid, with no bars outside its trading hours (the CME daily halt, FX from Sunday 17:00 to
Friday 17:00 New York, an index in regular hours only).

With futures or FX served, the market's clock covers their nights and Sunday evenings too
(``quantnb.sim.venue_timeline``); see docs/simulator.md.
"""

from __future__ import annotations

import numpy as np

from quantnb.sim.quotes import on_grid
from quantnb.sim.timeline import SessionTimeline
from quantnb.sim.venue_hours import open_mask

_VOLUME_SCALE = 0.01  # a futures contract trades far fewer units than a stock's shares


class InstrumentPrices:
    """A walk (``base``, the prices of a stock-like series) scaled so it starts at ``level``."""

    def __init__(
        self,
        base: object,
        level: float,
        tick: float,
        timeline: SessionTimeline,
        calendar: str,
        start_index: int,
    ) -> None:
        self.base = base
        self.tick = tick
        self.timeline = timeline
        self.calendar = calendar
        first = base.bar(start_index)[0]  # type: ignore[attr-defined]
        self.scale = level / first if first > 0 else 1.0

    def window(self, i0: int, i1: int) -> np.ndarray:
        values = self.base.window(i0, i1).copy()  # type: ignore[attr-defined]
        if values.shape[1] == 0:
            return values
        values[:4] = on_grid(values[:4] * self.scale, self.tick)
        values[4] = np.maximum(np.round(values[4] * _VOLUME_SCALE), 1.0)
        times = self.timeline.times(max(i0, 0), max(i0, 0) + values.shape[1])
        if self.calendar == "XNYS":
            shut = self.timeline.phases(times) != 1  # REGULAR
        else:
            shut = ~open_mask(self.calendar, times)
        values[:, shut] = np.nan
        return values

    def bar(self, i: int) -> tuple[float, float, float, float, float]:
        col = self.window(i, i + 1)[:, 0]
        return float(col[0]), float(col[1]), float(col[2]), float(col[3]), float(col[4])
