"""Bars from last-trade ticks: aligned to interval boundaries, complete when a later interval's
first tick arrives, bad prices ignored."""

from __future__ import annotations

import math

import pandas as pd

from quantnb.ib.tick_bars import TickBars


def t(text: str) -> pd.Timestamp:
    return pd.Timestamp(f"2024-01-03 {text}", tz="UTC")


def test_ticks_make_bars_of_their_interval_completed_by_the_next_interval():
    bars = TickBars("AAPL", 60)
    assert bars.add(t("15:00:05"), 10.0, 100) is None
    assert bars.add(t("15:00:30"), 12.0, 50) is None
    assert bars.add(t("15:00:59"), 9.0, 0) is None
    assert bars.add(t("15:00:59"), math.nan, 10) is None  # no price: ignored
    done = bars.add(t("15:02:10"), 11.0, 100)  # a minute without ticks makes no bar
    assert done is not None
    assert (done.symbol, done.time) == ("AAPL", t("15:00:00"))
    assert (done.open, done.high, done.low, done.close, done.volume) == (10.0, 12.0, 9.0, 9.0, 150)
    done = bars.add(t("15:03:00"), 11.5, 1)
    assert (done.time, done.open, done.close, done.volume) == (t("15:02:00"), 11.0, 11.0, 100)


def test_a_tick_of_the_same_interval_completes_nothing():
    bars = TickBars("AAPL", 300)
    assert bars.add(t("15:00:00"), 10.0, 1) is None
    assert bars.add(t("15:04:59"), 10.5, 1) is None
    assert bars.add(t("15:05:00"), 10.2, 1).time == t("15:00:00")
