"""The simulator's exchange calendar and its timeline of one-minute bars."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from quantnb.errors import ConfigError
from quantnb.sim import calendar
from quantnb.sim.calendar import CLOSED, DAY_NS, POST, PRE, REGULAR
from quantnb.sim.config import SimConfig
from quantnb.sim.market import Market
from quantnb.sim.timeline import SessionTimeline

NY = "America/New_York"


def _ny(text: str) -> int:
    return pd.Timestamp(text, tz=NY).value


def _key(date: str) -> int:
    return pd.Timestamp(date).value // DAY_NS


@pytest.fixture(scope="module")
def winter() -> calendar.Sessions:
    return calendar.sessions(pd.Timestamp("2023-11-01"), pd.Timestamp("2024-07-31"))


def test_holidays_are_not_sessions(winter):
    for holiday in ("2023-11-23", "2023-12-25", "2024-01-01", "2024-01-15", "2024-07-04"):
        assert winter.find(_key(holiday)) == -1, holiday
    for day in ("2023-12-22", "2023-12-26", "2024-01-02"):
        assert winter.find(_key(day)) >= 0, day
    assert winter.find(_key("2023-12-23")) == -1  # a Saturday


@pytest.mark.parametrize("day", ["2023-11-24", "2024-07-03"])
def test_early_closes_end_regular_and_after_hours_early(winter, day):
    j = winter.find(_key(day))
    assert winter.pre[j] == _ny(f"{day} 04:00")
    assert winter.open[j] == _ny(f"{day} 09:30")
    assert winter.close[j] == _ny(f"{day} 13:00")
    assert winter.post[j] == _ny(f"{day} 17:00")


def test_a_full_day_in_summer_and_winter_time(winter):
    for day in ("2023-12-27", "2024-06-27"):
        j = winter.find(_key(day))
        assert (winter.pre[j], winter.open[j]) == (_ny(f"{day} 04:00"), _ny(f"{day} 09:30"))
        assert (winter.close[j], winter.post[j]) == (_ny(f"{day} 16:00"), _ny(f"{day} 20:00"))


def test_phases_of_moments(winter):
    assert calendar.phase_at(winter, _ny("2024-01-02 03:59")) == CLOSED
    assert calendar.phase_at(winter, _ny("2024-01-02 04:00")) == PRE
    assert calendar.phase_at(winter, _ny("2024-01-02 09:30")) == REGULAR
    assert calendar.phase_at(winter, _ny("2024-01-02 16:00")) == POST
    assert calendar.phase_at(winter, _ny("2024-01-02 20:00")) == CLOSED
    assert calendar.phase_at(winter, _ny("2024-01-01 12:00")) == CLOSED
    assert calendar.phase_at(winter, _ny("2023-11-24 13:30")) == POST


def test_ib_trading_and_liquid_hours(winter):
    key = _key("2023-11-22")
    assert calendar.ib_hours(winter, key, 4) == (
        "20231122:0400-20231122:2000;20231123:CLOSED;20231124:0400-20231124:1700;20231125:CLOSED"
    )
    assert calendar.ib_hours(winter, key, 3, liquid=True) == (
        "20231122:0930-20231122:1600;20231123:CLOSED;20231124:0930-20231124:1300"
    )


def test_timeline_has_extended_bars_and_none_on_holidays():
    tl = SessionTimeline(pd.Timestamp("2024-01-03 15:00", tz="UTC"), 30)
    t0, t1 = _ny("2023-12-20 00:00"), _ny("2024-01-04 00:00")
    i0, i1 = tl.index_at(t0) + 1, tl.index_at(t1) + 1
    times = tl.times(i0, i1)
    local = pd.DatetimeIndex(times).tz_localize("UTC").tz_convert(NY)
    dates = set(local.strftime("%Y-%m-%d"))
    assert "2023-12-25" not in dates and "2024-01-01" not in dates
    assert "2023-12-26" in dates and "2024-01-02" in dates
    per_day = pd.Series(1, index=local.strftime("%Y-%m-%d")).groupby(level=0).size()
    assert (per_day == 16 * 60).all()  # 04:00-20:00
    assert local.min().strftime("%H:%M") == "04:00" and local.max().strftime("%H:%M") == "19:59"
    phases = tl.phases(times)
    minutes = np.asarray(local.hour * 60 + local.minute)
    assert (phases[minutes < 570] == PRE).all()
    assert (phases[(minutes >= 570) & (minutes < 960)] == REGULAR).all()
    assert (phases[minutes >= 960] == POST).all()
    for i in (i0, i0 + 329, i0 + 330, i1 - 1):  # index ↔ time both ways
        assert tl.index_at(tl.time_of(i)) == i
        assert tl.phase(i) == phases[i - i0]


def test_timeline_on_an_early_close_day():
    tl = SessionTimeline(pd.Timestamp("2023-11-28 15:00", tz="UTC"), 10)
    first = tl.index_at(_ny("2023-11-24 04:00"))
    assert tl.time_of(first) == _ny("2023-11-24 04:00")
    nxt = tl.index_at(_ny("2023-11-27 04:00"))
    assert nxt - first == 13 * 60  # 04:00-17:00
    assert tl.phase(tl.index_at(_ny("2023-11-24 12:59"))) == REGULAR
    assert tl.phase(tl.index_at(_ny("2023-11-24 13:00"))) == POST
    # a moment in the closed hours belongs to the last bar before it
    assert tl.index_at(_ny("2023-11-25 12:00")) == nxt - 1


def test_timeline_reaches_beyond_the_loaded_calendar():
    tl = SessionTimeline(pd.Timestamp("2024-01-03 15:00", tz="UTC"), 5)
    i = tl.index_at(_ny("2026-12-24 10:00"))
    assert tl.time_of(i) == _ny("2026-12-24 10:00")
    # an early close on Christmas Eve, closed on Christmas Day
    assert tl.phase(tl.index_at(_ny("2026-12-24 13:00"))) == POST
    assert tl.index_at(_ny("2026-12-25 12:00")) == tl.index_at(_ny("2026-12-24 16:59"))


def test_generated_market_extended_hours_are_thinner_and_join_the_session():
    market = Market(SimConfig(symbols=("AAPL",), mode="manual", start="2024-01-04 01:00"))
    t0, t1 = _ny("2024-01-03 04:00"), _ny("2024-01-03 20:00")
    times, values = market.history("AAPL", t0, t1)
    assert len(times) == 960
    regular = market.regular_hours(times)
    assert regular.sum() == 390
    o, h, lo, c, v = values
    assert (h >= np.maximum(o, c)).all() and (lo <= np.minimum(o, c)).all()
    assert np.median(v[~regular]) < np.median(v[regular]) / 5
    first = int(np.argmax(regular))
    assert c[first - 1] == o[first]  # the pre-market ends at the regular open
    last = first + 389
    assert o[last + 1] == c[last]  # the after-hours session starts at the regular close
    again = Market(SimConfig(symbols=("AAPL",), mode="manual", start="2024-01-04 01:00"))
    assert np.array_equal(again.history("AAPL", t0, t1)[1], values)


def test_quotes_are_wider_outside_regular_hours():
    def spread(start: str) -> float:
        market = Market(SimConfig(symbols=("SPY",), mode="manual", start=start))
        market.advance()
        bid, ask = market.quote("SPY")
        return (ask - bid) / market.last["SPY"]

    assert spread("2024-01-03 22:00") > 3 * spread("2024-01-03 16:00")


def test_closed_time_passes_on_the_clock_but_no_bars():
    market = Market(SimConfig(symbols=("AAPL",), mode="manual", start="2024-01-06 17:00"))
    assert market.now().tz_convert(NY) == pd.Timestamp("2024-01-06 12:00", tz=NY)
    assert market.phase_now() == CLOSED
    assert not market.trading_now(extended=True)
    monday = _ny("2024-01-08 04:00")
    assert market.next_slice_ns() == monday + market.slice_ns
    assert market.slices_until(monday, 100) == 0
    assert market.slices_until(monday + 3 * market.slice_ns, 100) == 3
    assert market.slices_until(monday + 10**15, 50) == 50
    market.wait_until(_ny("2024-01-07 12:00"))
    assert market.now() == pd.Timestamp("2024-01-07 12:00", tz=NY)
    market.wait_until(monday + 10**12)  # never past the next bar
    assert market.now_ns() == monday
    assert market.next_open_ns() == _ny("2024-01-08 09:30")
    slices = market.advance()
    assert slices[0].time == monday and slices[0].phase == PRE and slices[0].new_day
    assert market.trading_now(extended=True) and not market.trading_now(extended=False)


def test_skip_closed_is_a_named_setting_off_by_default():
    assert SimConfig().skip_closed is False
    assert SimConfig(skip_closed=True).skip_closed is True
    with pytest.raises(ConfigError, match="skip_closed='yes' must be True or False"):
        SimConfig(skip_closed="yes")


def test_bars_handed_in_follow_the_calendar_on_a_half_day():
    from quantnb.sim.calendar import POST, PRE, REGULAR
    from quantnb.sim.timeline import FrameTimeline

    local = ["2023-11-24 09:29", "2023-11-24 12:59", "2023-11-24 13:00", "2023-11-24 16:30",
             "2023-11-24 17:30", "2023-11-27 15:59", "2023-11-27 16:00"]  # fmt: skip
    times = pd.DatetimeIndex(local).tz_localize("America/New_York").tz_convert("UTC")
    tl = FrameTimeline(times.as_unit("ns").asi8, 60 * 1_000_000_000)
    assert [tl.phase(i) for i in range(len(local))] == [
        PRE, REGULAR, POST, POST, POST, REGULAR, POST,
    ]  # fmt: skip
