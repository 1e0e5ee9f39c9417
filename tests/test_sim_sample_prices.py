"""The simulator's market continues qn.data.sample (quantnb.sim.sample_prices)."""

from __future__ import annotations

import numpy as np
import pandas as pd

import quantnb as qn
from quantnb.data.sample import character
from quantnb.sim.calendar import DAY_NS
from quantnb.sim.sample_prices import DailyPath, bridge


def _key(date: str) -> int:
    return pd.Timestamp(date).value // DAY_NS


def test_the_daily_path_is_the_sample_then_a_walk_like_it():
    sample = qn.data.sample("MSFT", "1d", seed=3)["MSFT"]
    path = DailyPath("MSFT", 3)
    for stamp, row in sample.iloc[::97].iterrows():
        assert path.day(stamp.value // DAY_NS) == tuple(row)
    assert path.day(_key("2024-01-06")) is None  # a Saturday
    vol, _drift, price0, daily_volume = character("MSFT", 3)
    first = path.day(_key("2024-01-01"))
    gap = abs(np.log(first[0] / sample.close.iloc[-1]))
    assert gap < 6 * vol * (0.2 / 252) ** 0.5  # an overnight gap away from the sample's close
    closes = np.array([path.day(k)[3] for k in range(_key("2024-01-01"), _key("2027-01-01"))
                       if path.day(k) is not None])  # fmt: skip
    daily = np.std(np.diff(np.log(closes)))
    assert abs(daily / (vol / 252**0.5) - 1) < 0.2  # the sample's volatility
    volumes = [path.day(k)[4] for k in range(_key("2025-01-01"), _key("2025-12-31"))
               if path.day(k) is not None]  # fmt: skip
    assert 0.6 < np.median(volumes) / daily_volume < 1.4
    # the years before the sample end where it starts
    before = path.day(_key("2019-12-31"))
    assert abs(before[3] / price0 - 1) < 0.001


def test_a_day_is_laid_along_the_walk_keeping_its_bar():
    rng = np.random.default_rng(1)
    walk = qn.data.sample("X", "1m", start="2024-01-01", bars=390, seed=5)["X"]
    raw = walk[["open", "high", "low", "close", "volume"]].to_numpy().T
    for _ in range(20):
        o, c = rng.uniform(90, 110, 2).round(2)
        h = round(max(o, c) + rng.uniform(0, 3), 2)
        lo = round(min(o, c) - rng.uniform(0, 3), 2)
        v = float(rng.integers(10_000, 1_000_000))
        out = bridge(raw, o, h, lo, c, v)
        assert (out[0, 0], out[1].max(), out[2].min(), out[3, -1], out[4].sum()) == (
            o, h, lo, c, v,
        )  # fmt: skip
        assert (out[2] <= np.minimum(out[0], out[3])).all()
        assert (out[1] >= np.maximum(out[0], out[3])).all()
        assert (out[4] >= 0).all()
