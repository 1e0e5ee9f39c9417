"""The market clock of a session: the simulator's pace, when the next bar is due, when a closed
market opens (quantnb.trading.clock)."""

from __future__ import annotations

from types import SimpleNamespace

import pandas as pd
import pytest

from quantnb.sim import SimConfig
from quantnb.trading import clock
from quantnb.trading.front import embedded_sim


def ny(text: str) -> pd.Timestamp:
    return pd.Timestamp(text, tz="America/New_York").tz_convert("UTC")


@pytest.mark.parametrize(
    ("interval", "speed"), [("1m", 60), ("5m", 300), ("15m", 900), ("1h", 3600), ("1d", 11_700)]
)
def test_the_pace_completes_a_bar_about_every_second(interval, speed):
    assert clock.pace(interval) == speed
    assert embedded_sim(interval) == {
        "speed": speed, "skip_closed": True, "skip_extended": True, "follow_sample": True,
    }  # fmt: skip


def test_the_clock_says_the_pace():
    assert clock.describe(SimConfig(speed=300)) == "simulated market, 300× real time"
    assert clock.describe(SimConfig(speed=1)) == "simulated market, real time"
    assert clock.describe(SimConfig(speed=1.5)) == "simulated market, 1.5× real time"
    assert clock.describe(SimConfig(mode="manual")) == "simulated market, moved by step()"
    real = SimpleNamespace(session=None, is_running=True, interval=None, feed=None)
    assert clock.clock(real) is None  # a real gateway


@pytest.mark.parametrize(
    ("last", "now", "interval", "due"),
    [
        # the bar after the last one completes one interval after it starts
        ("2024-01-03 10:00", "2024-01-03 10:06", "5m", "2024-01-03 10:10"),
        # the last bar of the day: the next starts at the next open
        ("2024-01-03 15:55", "2024-01-03 16:10", "5m", "2024-01-04 09:35"),
        ("2024-01-05 15:55", "2024-01-06 12:00", "5m", "2024-01-08 09:35"),  # Friday: Monday
        ("2024-01-03 15:00", "2024-01-03 16:00", "1h", "2024-01-04 10:00"),  # 09:30-10:00
        ("2024-01-03 09:30", "2024-01-03 10:00", "1h", "2024-01-03 11:00"),
        ("2024-11-29 12:55", "2024-11-29 13:00", "5m", "2024-12-02 09:35"),  # an early close
        # no bar yet: the one in progress now
        (None, "2024-01-03 10:02", "5m", "2024-01-03 10:05"),
        (None, "2024-01-03 03:00", "5m", "2024-01-03 09:35"),
        (None, "2024-01-03 09:31", "1h", "2024-01-03 10:00"),
    ],
)
def test_the_next_bar_is_due_when_it_completes(last, now, interval, due):
    last = ny(last) if last else None
    assert clock.due_after(last, ny(now), interval) == ny(due)


def test_a_daily_bar_is_due_at_the_close_of_the_next_trading_day():
    day = pd.Timestamp("2024-01-03", tz="UTC")  # daily bars are stamped at their date
    assert clock.due_after(day, ny("2024-01-04 10:00"), "1d") == ny("2024-01-04 16:00")
    friday = pd.Timestamp("2024-11-28", tz="UTC")  # Thanksgiving: the next day closes at 13:00
    assert clock.due_after(friday, ny("2024-11-29 10:00"), "1d") == ny("2024-11-29 13:00")
    assert clock.due_after(None, ny("2024-01-06 10:00"), "1d") == ny("2024-01-08 16:00")


def test_a_closed_market_says_when_it_opens():
    assert clock.closed_until(ny("2024-01-03 10:00")) is None
    assert clock.closed_until(ny("2024-01-06 12:00")) == ny("2024-01-08 09:30")  # Saturday
    assert clock.closed_until(ny("2024-01-03 17:00")) == ny("2024-01-04 09:30")
    assert clock.closed_until(ny("2024-01-03 17:00"), extended=True) is None  # after-hours
    assert clock.closed_until(ny("2024-01-04 02:00"), extended=True) == ny("2024-01-04 04:00")
    assert clock.closed_until(ny("2024-12-24 14:00")) == ny("2024-12-26 09:30")  # Christmas


def test_nothing_is_due_for_a_session_that_is_not_running():
    engine = SimpleNamespace(session=None, is_running=False, interval=None, feed=None)
    assert clock.next_bar_due(engine) is None
    assert clock.market_closed_until(engine) is None


def test_market_time_follows_the_gateways_clock_when_it_differs_from_the_wall():
    # a simulator run apart (not embedded) keeps its own market time: a Wednesday morning, say
    offset = pd.Timestamp("2024-01-03 15:00", tz="UTC") - pd.Timestamp.now(tz="UTC")
    engine = SimpleNamespace(session=None, gateway_offset=offset)
    now = clock.market_now(engine)
    assert abs(now - pd.Timestamp("2024-01-03 15:00", tz="UTC")) < pd.Timedelta(seconds=5)
    assert clock.closed_until(now) is None  # 10:00 New York: open, whatever the wall says
    wall = clock.market_now(SimpleNamespace(session=None, gateway_offset=None))
    assert abs(wall - pd.Timestamp.now(tz="UTC")) < pd.Timedelta(seconds=5)
