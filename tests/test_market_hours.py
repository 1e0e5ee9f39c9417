"""Each instrument's market hours from its exchange calendar: CME Globex with its daily halt,
weekends, holidays and early closes from the library's "CMES"; FX from Sunday 17:00 to Friday
17:00 New York; US stocks by the NYSE as before; and the live clock, watchdog and warm-up
lookback following them."""

from __future__ import annotations

import pandas as pd
import pytest

from quantnb.domain import calendar, market_hours
from quantnb.domain.instrument import future, fx
from quantnb.domain.market_hours import is_open, next_open, open_since
from quantnb.trading import clock
from quantnb.trading.lookback import bars_wanted, lookback_days
from quantnb.trading.watchdog import RESUBSCRIBING, StreamWatchdog

ES = future("ES", "2024-03")
EUR = fx("EURUSD")
MIN = pd.Timedelta(minutes=1)


def ny(text: str) -> pd.Timestamp:
    return pd.Timestamp(text, tz="America/New_York").tz_convert("UTC")


def test_es_trades_at_night_and_halts_from_17_to_18_new_york():
    # Tuesday 2024-03-05: Globex reopened at 18:00 New York after the daily halt
    assert open_since(ES, ny("2024-03-05 20:00"), extended=True) == ny("2024-03-05 18:00")
    assert next_open(ES, ny("2024-03-05 20:00"), extended=True) is None
    assert not is_open(ES, ny("2024-03-05 17:30"), extended=True)
    assert next_open(ES, ny("2024-03-05 17:30"), extended=True) == ny("2024-03-05 18:00")
    assert is_open(ES, ny("2024-03-05 16:59"), extended=True)
    assert not is_open(ES, ny("2024-03-05 17:00"), extended=True)
    # the calendar's name works as well as the instrument
    assert open_since("CMES", ny("2024-03-06 03:00"), True) == ny("2024-03-05 18:00")


def test_es_weekend_opens_sunday_at_18_new_york():
    assert next_open(ES, ny("2024-03-09 12:00"), extended=True) == ny("2024-03-10 18:00")
    assert next_open(ES, ny("2024-03-08 17:05"), extended=True) == ny("2024-03-10 18:00")
    assert open_since(ES, ny("2024-03-10 18:30"), extended=True) == ny("2024-03-10 18:00")


def test_cme_holidays_and_early_closes_come_from_the_library():
    # Good Friday 2024-03-29: no session; Thursday's ends at 17:00, the next opens Sunday
    assert next_open(ES, ny("2024-03-28 17:30"), extended=True) == ny("2024-03-31 18:00")
    assert not is_open(ES, ny("2024-03-29 10:00"), extended=True)
    # the day after Thanksgiving closes early, at 12:00 Chicago (13:00 New York)
    assert is_open(ES, ny("2024-11-29 12:59"), extended=True)
    assert next_open(ES, ny("2024-11-29 13:00"), extended=True) == ny("2024-12-01 18:00")
    # Christmas: the session for the 26th opens on the 25th at 18:00
    assert next_open(ES, ny("2024-12-25 12:00"), extended=True) == ny("2024-12-25 18:00")


def test_es_regular_hours_are_its_liquid_hours():
    # IB's useRTH keeps 08:30-15:00 Chicago, 09:30-16:00 New York
    assert next_open(ES, ny("2024-03-05 20:00")) == ny("2024-03-06 09:30")
    assert open_since(ES, ny("2024-03-06 15:59")) == ny("2024-03-06 09:30")
    assert not is_open(ES, ny("2024-11-29 13:30"))  # early close


def test_fx_trades_from_sunday_17_to_friday_17_new_york():
    assert is_open(EUR, ny("2024-03-03 17:05"))
    assert open_since(EUR, ny("2024-03-03 17:05")) == ny("2024-03-03 17:00")
    assert not is_open(EUR, ny("2024-03-08 17:05"))
    assert next_open(EUR, ny("2024-03-08 17:05")) == ny("2024-03-10 17:00")
    # the FX day rolls at 17:00 but trading goes on: one stretch Sunday to Friday
    assert open_since(EUR, ny("2024-03-06 03:00")) == ny("2024-03-03 17:00")


@pytest.mark.parametrize(
    "when",
    ["2024-01-03 10:00", "2024-01-03 03:00", "2024-01-03 17:00", "2024-01-06 12:00",
     "2024-12-24 14:00", "2024-11-29 13:30", "2024-01-04 04:00", "2024-01-03 20:00"],
)  # fmt: skip
@pytest.mark.parametrize("extended", [False, True])
def test_stocks_keep_the_nyse_hours(when, extended):
    t = ny(when)
    assert open_since("XNYS", t, extended) == calendar.open_since(t, extended)


def test_a_session_is_open_while_any_of_its_markets_is():
    both = ("CMES", "XNYS")
    assert clock.closed_until(ny("2024-03-05 20:00"), calendars=("XNYS",)) == ny("2024-03-06 09:30")
    assert clock.closed_until(ny("2024-03-05 20:00"), True, calendars=both) is None
    # the after-hours of stocks cover the futures halt; regular hours do not
    assert market_hours.is_open(both, ny("2024-03-05 17:30"), extended=True)
    assert clock.closed_until(ny("2024-03-09 12:00"), True, calendars=both) == ny(
        "2024-03-10 18:00"
    )


def test_the_next_es_bar_at_night_is_due_a_minute_on():
    t = ny("2024-03-05 20:00:30")
    assert clock.due_after(None, t, "1m", True, calendars=("CMES",)) == ny("2024-03-05 20:01")
    last = ny("2024-03-05 20:00")
    assert clock.due_after(last, t, "5m", True, calendars=("CMES",)) == ny("2024-03-05 20:10")
    # the bar before the halt ends it; the next starts at 18:00
    last = ny("2024-03-05 16:59")
    assert clock.due_after(last, t, "1m", True, calendars=("CMES",)) == ny("2024-03-05 18:01")


def test_the_watchdog_judges_each_symbol_by_its_own_market():
    dog = StreamWatchdog(
        ["AAPL", "ES 2024-03"], 60, 2 * MIN, extended_hours=True,
        calendars={"AAPL": "XNYS", "ES 2024-03": "CMES"},
    )  # fmt: skip
    t = ny("2024-03-05 21:00")  # stocks closed, ES open
    dog.check(t)
    for k in range(4):
        verdict = dog.check(t + k * MIN)
    assert verdict.resubscribe == ("ES 2024-03",)
    assert dog.states() == {"AAPL": "ok", "ES 2024-03": RESUBSCRIBING}


def test_the_watchdog_waits_through_the_futures_halt():
    dog = StreamWatchdog(["ES"], 60, 2 * MIN, extended_hours=True, calendars={"ES": "CMES"})
    t = ny("2024-03-05 16:58")
    dog.bar("ES", t - MIN)
    verdicts = [dog.check(t + k * MIN) for k in range(62)]  # through 18:00 New York
    assert not any(verdicts) and dog.states() == {"ES": "ok"}
    assert dog.check(ny("2024-03-05 18:02")).resubscribe == ()
    assert dog.check(ny("2024-03-05 18:02:01")).resubscribe == ("ES",)


def test_the_warm_up_of_es_at_night_reaches_back_through_its_own_session():
    now = ny("2024-03-05 21:00")  # three hours into Tuesday evening's Globex session
    assert bars_wanted(100) == 110  # one-minute bars: all of them in tonight's session
    days = lookback_days(100, "1m", now, extended=True, calendars=("CMES",))
    start = now - pd.Timedelta(days=days)
    assert ny("2024-03-05 19:10") - pd.Timedelta(seconds=1) <= start <= ny("2024-03-05 19:10")
    # by the NYSE's hours the warm-up would end at 20:00 and reach back to 18:10
    days = lookback_days(100, "1m", now, extended=True)
    assert now - pd.Timedelta(days=days) <= ny("2024-03-05 18:10")
    # across the halt: 198 bars at 18:30 are 30 tonight and 168 before 17:00, from 14:12
    assert bars_wanted(180) == 198
    days = lookback_days(180, "1m", ny("2024-03-05 18:30"), True, calendars=("CMES",))
    start = ny("2024-03-05 18:30") - pd.Timedelta(days=days)
    assert ny("2024-03-05 14:12") - pd.Timedelta(seconds=1) <= start <= ny("2024-03-05 14:12")
