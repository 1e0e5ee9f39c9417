"""Historical bars, keep-up-to-date updates and head timestamp (pacing: test_sim_pacing)."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

pytestmark = [pytest.mark.ib, pytest.mark.timeout(60)]


def _bars(ib, contract, duration, size, end="", rth=True, fmt=1, keep=False):
    return ib.reqHistoricalData(contract, end, duration, size, "TRADES", rth, fmt, keep)


@pytest.mark.parametrize(
    ("duration", "size", "count"),
    [
        ("1800 S", "1 min", 30),
        ("1 D", "5 mins", 7),
        ("2 D", "1 hour", 7 + 2),
        ("1 W", "15 mins", 24 + 26 * 3 + 3),  # 2024-01-01 is a holiday
        ("1 M", "1 day", 23 - 2),  # without 2023-12-25 and 2024-01-01
        ("1 Y", "1 day", 262 - 10),  # 262 weekdays, 10 of them NYSE holidays
        ("1 Y", "1 week", 53),
    ],
)
def test_durations_and_bar_sizes(ib, aapl, duration, size, count):
    bars = _bars(ib, aapl, duration, size)
    assert len(bars) == count
    assert all(b.low <= min(b.open, b.close) and b.high >= max(b.open, b.close) for b in bars)
    dates = [b.date for b in bars]
    assert dates == sorted(dates)


def test_intraday_dates_are_zoned_and_daily_dates_are_dates(ib_sim, ib, aapl):
    intraday = _bars(ib, aapl, "1 D", "1 hour")
    assert isinstance(intraday[0].date, dt.datetime) and intraday[0].date.tzinfo is not None
    assert intraday[0].date.astimezone(dt.UTC) == pd.Timestamp("2024-01-03 14:30", tz="UTC")
    daily = _bars(ib, aapl, "5 D", "1 day")
    assert type(daily[-1].date) is dt.date and daily[-1].date == dt.date(2024, 1, 3)
    assert len(daily) == 5
    # the last daily bar is today's bar so far and agrees with the last price
    assert daily[-1].close == ib_sim.price("AAPL")


def test_epoch_format(ib, aapl):
    bars = _bars(ib, aapl, "1800 S", "1 min", fmt=2)
    assert bars[0].date == dt.datetime(2024, 1, 3, 14, 31, tzinfo=dt.UTC)


@pytest.mark.parametrize(
    "end", ["20240102 21:00:00 UTC", "20240102-21:00:00", "20240102 16:00:00 US/Eastern"]
)
def test_end_times(ib, aapl, end):
    bars = _bars(ib, aapl, "1 D", "1 hour", end=end)
    assert len(bars) == 7
    last = bars[-1].date.astimezone(dt.UTC)
    assert last == pd.Timestamp("2024-01-02 20:00", tz="UTC")


def test_end_time_as_datetime_and_bars_never_come_from_the_future(ib_sim, ib, aapl):
    future = dt.datetime(2030, 1, 1, tzinfo=dt.UTC)
    bars = _bars(ib, aapl, "1800 S", "1 min", end=future)
    assert bars[-1].date.astimezone(dt.UTC) < ib_sim.now


def test_one_minute_bars_match_the_five_minute_aggregate(ib, aapl):
    ones = _bars(ib, aapl, "1 D", "1 min")
    fives = _bars(ib, aapl, "1 D", "5 mins")
    first = ones[:5]
    assert fives[0].open == first[0].open and fives[0].close == first[-1].close
    assert fives[0].high == max(b.high for b in first)
    assert fives[0].volume == sum(b.volume for b in first)


def test_keep_up_to_date_updates_on_each_step(ib_sim, ib, aapl, wait):
    bars = _bars(ib, aapl, "1800 S", "1 min", keep=True)
    n = len(bars)
    ib_sim.step()  # the bar played, then the next one opened at the boundary
    wait(ib, lambda: len(bars) == n + 2)
    assert bars[-1].close == bars[-1].open == ib_sim.price("AAPL") and bars[-1].volume == 0
    ib_sim.step(2)
    wait(ib, lambda: len(bars) == n + 4)
    assert bars[-3].volume > 0  # the opened bar was replaced by its real first slice
    ib.cancelHistoricalData(bars)
    ib.sleep(0.05)
    ib_sim.step()
    ib.sleep(0.05)
    assert len(bars) == n + 4


def test_keep_up_to_date_daily_bar_grows_in_place(ib_sim, ib, aapl, wait):
    bars = _bars(ib, aapl, "5 D", "1 day", keep=True)
    n, volume = len(bars), bars[-1].volume
    ib_sim.step()
    wait(ib, lambda: bars[-1].volume > volume)
    assert len(bars) == n
    assert bars[-1].close == ib_sim.price("AAPL")


def test_head_timestamp(ib, aapl):
    head = ib.reqHeadTimeStamp(aapl, "TRADES", True, 1)
    assert dt.datetime(2021, 12, 1) < head.replace(tzinfo=None) < dt.datetime(2022, 2, 1)


def test_bad_bar_size_is_error_162(ib, aapl, client_errors):
    client_errors.allow(162)
    assert len(_bars(ib, aapl, "1 D", "7 fortnights")) == 0
    assert len(_bars(ib, aapl, "1 D", "5 secs")) == 0
