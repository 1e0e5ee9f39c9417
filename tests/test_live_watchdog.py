"""The stale-stream watchdog's logic on a fake clock: market time is handed to each check."""

from __future__ import annotations

import itertools

import pandas as pd
import pytest

from quantnb.domain.calendar import open_since
from quantnb.errors import ConfigError
from quantnb.trading.watchdog import (
    OK,
    RESUBSCRIBING,
    STALE,
    StreamWatchdog,
    Verdict,
    stale_after_delta,
)

MIN = pd.Timedelta(minutes=1)


def ny(text: str) -> pd.Timestamp:
    return pd.Timestamp(text, tz="America/New_York").tz_convert("UTC")


def dog(symbols=("AAPL", "MSFT"), stale_after=2 * MIN, **kw) -> StreamWatchdog:
    return StreamWatchdog(symbols, 60, stale_after, **kw)


def feed(d: StreamWatchdog, start: pd.Timestamp, end: pd.Timestamp, symbols=("AAPL", "MSFT")):
    """Completed 1-minute bars of ``symbols`` from ``start`` until ``end`` (exclusive)."""
    t = start
    while t < end:
        for s in symbols:
            d.bar(s, t)
        t += MIN


def test_a_silent_symbol_is_asked_for_again_then_stale_then_back():
    d = dog()
    t0 = ny("2024-01-03 10:00")
    feed(d, t0 - 5 * MIN, t0)  # bars up to the one ending at 10:00
    assert d.check(t0) == Verdict()
    feed(d, t0, t0 + 4 * MIN, symbols=("MSFT",))  # AAPL goes quiet
    assert d.check(t0 + 2 * MIN) == Verdict()  # two minutes of silence: within the grace
    assert d.check(t0 + 2 * MIN + pd.Timedelta(seconds=1)) == Verdict(resubscribe=("AAPL",))
    assert d.states() == {"AAPL": RESUBSCRIBING, "MSFT": OK}
    assert not d.stale
    d.requested("AAPL", t0 + 2 * MIN + pd.Timedelta(seconds=2))
    feed(d, t0 + 4 * MIN, t0 + 5 * MIN, symbols=("MSFT",))
    assert d.check(t0 + 4 * MIN) == Verdict()
    assert d.check(t0 + 5 * MIN) == Verdict(stale=("AAPL",))
    assert d.stale == {"AAPL"} and d.states()["MSFT"] == OK
    assert d.check(t0 + 5 * MIN + pd.Timedelta(seconds=30)) == Verdict()  # reported once
    assert d.bar("AAPL", t0 + 5 * MIN) == STALE  # a bar that completed after: the stream is back
    assert d.states()["AAPL"] == OK and not d.stale
    assert d.bar("AAPL", t0 + 6 * MIN) is None  # back once


def test_history_served_with_the_new_request_does_not_count_as_the_stream():
    d = dog(("AAPL",))
    t0 = ny("2024-01-03 10:00")
    feed(d, t0 - MIN, t0, ("AAPL",))
    d.check(t0)
    asked = t0 + 3 * MIN
    assert d.check(asked) == Verdict(resubscribe=("AAPL",))
    # the backfill arrives while the request is under way: it shows the silence, not the stream
    assert d.bar("AAPL", t0) is None and d.bar("AAPL", t0 + MIN) is None
    assert d.check(asked + 5 * MIN) == Verdict()  # no verdict while the request is pending
    answered = asked + pd.Timedelta(seconds=1)
    d.requested("AAPL", answered)
    assert d.bar("AAPL", t0 + 2 * MIN) is None  # ended at 10:03, before the answer
    assert d.states()["AAPL"] == RESUBSCRIBING
    assert d.check(answered + 2 * MIN + pd.Timedelta(seconds=1)) == Verdict(stale=("AAPL",))


def test_a_stale_symbol_is_asked_for_again_less_and_less_often():
    d = dog(("AAPL",))
    t = ny("2024-01-03 10:00")
    d.check(t)
    asked = []
    for _ in range(60 * 4):  # four hours of checks, every minute, no bars
        t += MIN
        verdict = d.check(t)
        if verdict.resubscribe:
            asked.append(int((t - ny("2024-01-03 10:00")) / MIN))
            d.requested("AAPL", t)
    gaps = [b - a for a, b in itertools.pairwise(asked)]
    assert asked[0] == 3  # the first request after two minutes of silence
    # stale 2 minutes after the request, asked again 2 minutes later, then after 4, 8, 16
    # minutes (a check is a minute apart and the grace is exceeded strictly: one more each)
    assert gaps[:4] == [6, 5, 9, 17]
    assert set(gaps[3:]) == {17}  # capped
    assert d.stale == {"AAPL"}


def test_closed_hours_are_not_silence():
    d = dog(("AAPL",))
    close = ny("2024-01-03 16:00")
    feed(d, close - 3 * MIN, close, ("AAPL",))
    d.check(close - MIN)
    for t in (ny("2024-01-03 16:30"), ny("2024-01-03 23:00"), ny("2024-01-04 09:29")):
        assert d.check(t) == Verdict(), t
    opening = ny("2024-01-04 09:30")
    assert d.check(opening + pd.Timedelta(seconds=1)) == Verdict()  # counted from the open
    assert d.check(opening + 2 * MIN) == Verdict()
    assert d.check(opening + 2 * MIN + pd.Timedelta(seconds=1)) == Verdict(resubscribe=("AAPL",))


def test_a_holiday_and_the_weekend_are_closed():
    d = dog(("AAPL",))
    d.check(ny("2024-01-12 15:00"))
    for t in ("2024-01-13 12:00", "2024-01-15 12:00"):  # Saturday; Martin Luther King Jr. Day
        assert d.check(ny(t)) == Verdict(), t
    assert d.check(ny("2024-01-16 09:33")) == Verdict(resubscribe=("AAPL",))


def test_extended_hours_count_only_for_bars_that_include_them():
    regular, extended = dog(("AAPL",)), dog(("AAPL",), extended_hours=True)
    for d in (regular, extended):
        d.check(ny("2024-01-03 04:00"))
    assert regular.check(ny("2024-01-03 04:10")) == Verdict()
    assert extended.check(ny("2024-01-03 04:10")) == Verdict(resubscribe=("AAPL",))
    assert open_since(ny("2024-01-03 04:10")) is None
    assert open_since(ny("2024-01-03 04:10"), extended=True) == ny("2024-01-03 04:00")


def test_while_the_farm_is_broken_nothing_is_asked_again_and_it_heals_by_itself():
    d = dog()
    t0 = ny("2024-01-03 10:00")
    feed(d, t0 - MIN, t0)
    d.check(t0)
    assert d.check(t0 + MIN, farm_broken=True) == Verdict()  # a short flap: nothing to do
    assert d.check(t0 + 2 * MIN + pd.Timedelta(seconds=1), farm_broken=True) == Verdict(
        stale=("AAPL", "MSFT")
    )  # IB keeps the subscriptions over a flap: no new request, only the report
    assert d.check(t0 + 30 * MIN, farm_broken=True) == Verdict()
    back = t0 + 31 * MIN
    assert d.check(back) == Verdict()  # 2104: silence counts anew, no request at once
    feed(d, back, back + MIN)
    assert d.states() == {"AAPL": OK, "MSFT": OK}


def test_a_short_flap_after_a_quiet_spell_asks_nothing_at_2104():
    d = dog(("AAPL",))
    t0 = ny("2024-01-03 10:00")
    feed(d, t0 - MIN, t0, ("AAPL",))
    d.check(t0)
    assert d.check(t0 + MIN + pd.Timedelta(seconds=50), farm_broken=True) == Verdict()
    assert d.check(t0 + 2 * MIN + pd.Timedelta(seconds=30)) == Verdict()  # just after 2104
    assert d.check(t0 + 4 * MIN + pd.Timedelta(seconds=31)) == Verdict(resubscribe=("AAPL",))


def test_hold_restarts_the_silence_at_the_next_check():
    d = dog(("AAPL",))
    t0 = ny("2024-01-03 10:00")
    feed(d, t0 - MIN, t0, ("AAPL",))
    d.check(t0)
    d.hold()  # e.g. the connection dropped; the reconnect renews the streams
    assert d.check(t0 + 10 * MIN) == Verdict()
    assert d.check(t0 + 12 * MIN + pd.Timedelta(seconds=1)) == Verdict(resubscribe=("AAPL",))


def test_unknown_symbols_are_ignored():
    d = dog(("AAPL",))
    assert d.bar("XYZ", ny("2024-01-03 10:00")) is None
    d.requested("XYZ", None)
    assert d.states() == {"AAPL": OK}


@pytest.mark.parametrize(
    ("value", "seconds", "expected"),
    [
        (2.0, 60, pd.Timedelta(minutes=2)),
        (3, 300, pd.Timedelta(minutes=15)),
        ("90s", 60, pd.Timedelta(seconds=90)),
        (pd.Timedelta(minutes=7), 300, pd.Timedelta(minutes=7)),
        (None, 60, None),
        (False, 60, None),
        (2.0, 86_400, None),  # daily bars: no watchdog
    ],
)
def test_stale_after_is_a_multiple_of_the_interval_or_a_duration(value, seconds, expected):
    assert stale_after_delta(value, seconds) == expected


@pytest.mark.parametrize("value", [0, -1.0, "soon", "-5s", True, [2]])
def test_a_bad_stale_after_is_named(value):
    with pytest.raises(ConfigError, match="stale_after"):
        stale_after_delta(value, 60)


def test_the_dashboard_shows_stale_symbols_and_a_broken_farm():
    from quantnb.widgets.dashboard import _status_html, read_status

    now = ny("2024-01-03 10:05")
    status = {"connection": "connected", "last_bar_time": now, "last_bar_age": 3.0}
    calm = read_status(type("E", (), {"status": status})(), now)
    assert calm["stale"] == [] and calm["data_farm"] == "ok"
    assert "stale" not in _status_html(calm) and "farm" not in _status_html(calm)
    status.update(stale=["AAPL", "MSFT"], data_farm="farm broken: usfarm")
    shown = _status_html(read_status(type("E", (), {"status": status})(), now))
    assert "stale: AAPL, MSFT" in shown and "market data farm broken: usfarm" in shown
    assert "connected" in shown  # the connection is up: the data is what is wrong


def test_a_bad_stale_after_fails_when_the_engine_is_made():
    from quantnb.trading import LiveStrategyEngine

    with pytest.raises(ConfigError, match="stale_after='soon'"):
        LiveStrategyEngine(stale_after="soon")
    assert LiveStrategyEngine(stale_after="3min").stale_after == "3min"


def test_qn_paper_takes_stale_after():
    import quantnb as qn
    from quantnb.strategies import SmaCross

    session = qn.paper(SmaCross(), ["AAPL"], interval="1m", gateway="sim", stale_after="3min")
    assert session.engine.stale_after == "3min"
    with pytest.raises(ConfigError, match="stale_after"):
        qn.paper(SmaCross(), ["AAPL"], gateway="sim", stale_after=-2)
