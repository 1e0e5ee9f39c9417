"""Small shared builders for tests: hand-made bars and a strategy driven by a script."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd

import quantnb as qn


def bars_from(
    rows: list[tuple[float, float, float, float]],
    start: str = "2024-01-02",
    freq: str = "1D",
    symbol: str = "X",
) -> pd.DataFrame:
    """A canonical frame from (open, high, low, close) rows, volume 1000."""
    idx = pd.date_range(start, periods=len(rows), freq=freq, tz="UTC", name="time")
    arr = np.asarray(rows, dtype=float)
    df = pd.DataFrame(
        {"open": arr[:, 0], "high": arr[:, 1], "low": arr[:, 2], "close": arr[:, 3]}, index=idx
    )
    df["volume"] = 1000.0
    df.attrs["symbol"] = symbol
    return df


def flat(n: int, price: float = 100.0, **kw) -> pd.DataFrame:
    return bars_from([(price, price + 1, price - 1, price)] * n, **kw)


class Scripted(qn.Strategy):
    """Runs ``script[i](ctx)`` on the i-th bar; records what it saw."""

    def __init__(self, script: dict[int, Callable] | None = None):
        self.script = script or {}

    def initialize(self, ctx):
        self.i = -1
        self.seen: list = []
        self.fills: list = []
        self.finalized = False

    def on_data(self, ctx, data):
        self.i += 1
        self.seen.append((ctx.now, dict(data.items())))
        action = self.script.get(self.i)
        if action is not None:
            action(ctx)

    def on_fill(self, ctx, fill):
        self.fills.append((ctx.now, fill))

    def finalize(self, ctx):
        self.finalized = True


def play(sim, eng, n: int) -> None:
    """Step a manual simulator ``n`` bars, each handled by the live engine with its market
    orders done and any roll's stream switch finished (manual stepping would otherwise hold
    the next bar back until the bar after it)."""
    from quantnb.testing import eventually

    minute = pd.Timedelta(minutes=1)
    for _ in range(n):
        sim.step(1)
        seen = sim.now - minute
        eventually(lambda s=seen: eng.last_bar_time is not None and eng.last_bar_time >= s, 10)
        eventually(lambda: not eng.broker.open_orders() and not eng.ctx.outbox, 10)
        eventually(lambda: not eng.continuous.switching, 10)
