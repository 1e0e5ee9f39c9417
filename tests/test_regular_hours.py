"""The engine's quick regular-hours test agrees with the exchange calendar's on every index."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from quantnb.domain import sessions
from quantnb.engine.regular_hours import regular_only, surely_regular

MINUTES = pd.date_range("1990-01-01", "2030-12-31", freq="7min", tz="UTC").as_unit("ns")


def _regular_ish(rng: np.random.Generator, lo: int, hi: int) -> pd.DatetimeIndex:
    idx = MINUTES[np.sort(rng.choice(len(MINUTES), size=int(rng.integers(1, 400)), replace=False))]
    local = idx.tz_convert("America/New_York")
    minute = local.hour * 60 + local.minute
    return idx[(minute >= lo) & (minute < hi)]


@pytest.mark.parametrize("window", [(570, 960), (565, 962), (0, 1440)])
def test_says_regular_exactly_when_the_calendar_finds_no_extended_bar(window):
    rng = np.random.default_rng(window[0])
    for _ in range(100):
        idx = _regular_ish(rng, *window)
        assert surely_regular(idx) is (not sessions.has_extended_bars(idx))


def _utc(*times: str) -> pd.DatetimeIndex:
    return pd.DatetimeIndex(list(times), tz="UTC").as_unit("ns")


def test_daylight_saving_days_both_ways():
    # the 09:30 bar is 13:30 UTC in summer and 14:30 UTC in winter; 13:30 UTC in winter is 08:30
    summer = _utc("2024-07-01 13:30", "2024-07-01 19:59")
    winter_early = _utc("2024-01-02 13:30")
    winter_late = _utc("2024-01-02 20:59")
    assert surely_regular(summer)
    assert not surely_regular(winter_early)
    assert surely_regular(winter_late)
    assert not surely_regular(_utc("2024-07-01 20:00"))


def test_leaves_unknown_indexes_to_the_calendar():
    assert not surely_regular(pd.DatetimeIndex(["2024-07-01 14:00"], tz="UTC").as_unit("us"))
    assert not surely_regular(_utc("1880-07-01 14:00"))


def test_regular_only_keeps_order_and_filters_like_the_calendar():
    idx = _utc("2024-07-01 12:00", "2024-07-01 14:00", "2024-07-01 21:00")
    bars = pd.DataFrame({"close": [1.0, 2.0, 3.0]}, index=idx)
    clean = bars.iloc[[1]]
    out = regular_only({"A": bars, "B": clean, "F": bars}, skip={"F"})
    assert list(out) == ["A", "B", "F"]
    assert list(out["A"]["close"]) == [2.0]
    assert out["B"] is clean and out["F"] is bars
