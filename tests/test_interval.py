from datetime import timedelta

import pytest

from quantnb.domain.interval import (
    VALID_INTERVALS,
    Interval,
    ib_duration_for,
    max_ib_duration,
    parse_ib_duration,
)
from quantnb.errors import ConfigError, DataError, IntervalError

TABLE = [
    ("1m", 60, "1min", "1 min"),
    ("5m", 300, "5min", "5 mins"),
    ("15m", 900, "15min", "15 mins"),
    ("30m", 1800, "30min", "30 mins"),
    ("1h", 3600, "1h", "1 hour"),
    ("1d", 86400, "1D", "1 day"),
    ("1w", 604800, "W-MON", "1 week"),
]


@pytest.mark.parametrize(("name", "seconds", "freq", "ib"), TABLE)
def test_parse_table(name, seconds, freq, ib):
    iv = Interval.parse(name)
    assert (iv.name, iv.seconds, iv.pandas_freq, iv.ib_bar_size) == (name, seconds, freq, ib)
    assert str(iv) == name
    assert iv.is_intraday == (seconds < 86400)
    assert Interval.from_ib_bar_size(ib) == iv
    assert iv.timedelta == timedelta(seconds=seconds)


def test_parse_returns_instance_and_aliases():
    iv = Interval.parse("5m")
    assert Interval.parse(iv) is iv
    assert Interval.parse("5min") == iv
    assert Interval.parse(" 1D ").name == "1d"
    assert Interval.parse("1H").name == "1h"
    assert Interval.parse("daily").name == "1d"


def test_ordering_by_length():
    ivs = [Interval.parse(n) for n in reversed(VALID_INTERVALS)]
    assert [i.name for i in sorted(ivs)] == list(VALID_INTERVALS)
    assert Interval.parse("1d") > Interval.parse("1h")
    assert Interval.parse("1d") > "1h"
    assert Interval.parse("1m") <= Interval.parse("1m")
    assert Interval.parse("1d") == "1d"
    assert Interval.parse("1d") != "nonsense"
    assert len({Interval.parse("1d"), Interval.parse("daily")}) == 1


def test_unknown_interval_names_value_and_suggests():
    with pytest.raises(IntervalError) as exc:
        Interval.parse("5mn")
    msg = str(exc.value)
    assert "'5mn'" in msg and "1m, 5m, 15m, 30m, 1h, 1d, 1w" in msg and "Did you mean '5m'" in msg
    assert isinstance(exc.value, DataError)


def test_month_is_not_minute():
    with pytest.raises(IntervalError, match="'1M'"):
        Interval.parse("1M")


def test_non_string_interval():
    with pytest.raises(IntervalError, match="60"):
        Interval.parse(60)


def test_ib_bar_size_aliases_and_errors():
    assert Interval.from_ib_bar_size("1 hours").name == "1h"
    assert Interval.from_ib_bar_size("5  mins").name == "5m"
    with pytest.raises(IntervalError, match="'1 secs'"):
        Interval.from_ib_bar_size("1 secs")
    with pytest.raises(IntervalError, match="Did you mean '5 mins'"):
        Interval.from_ib_bar_size("5 minz")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("60 S", timedelta(seconds=60)),
        ("30 D", timedelta(days=30)),
        ("2 W", timedelta(weeks=2)),
        ("1 M", timedelta(days=30)),
        ("3 Y", timedelta(days=3 * 365)),
        (" 1 d ", timedelta(days=1)),
    ],
)
def test_parse_ib_duration(text, expected):
    assert parse_ib_duration(text) == expected


@pytest.mark.parametrize(
    "bad", ["30D", "30 X", "", "-1 D", "0 D", "1.5 D", "D 30", "90000 S", "400 D"]
)
def test_parse_ib_duration_rejects(bad):
    with pytest.raises(IntervalError) as exc:
        parse_ib_duration(bad)
    assert repr(bad) in str(exc.value)


@pytest.mark.parametrize(
    ("span", "expected"),
    [
        (timedelta(seconds=1), "1 S"),
        (timedelta(seconds=59.2), "60 S"),
        (timedelta(days=1), "86400 S"),
        (timedelta(days=1, seconds=1), "2 D"),
        (timedelta(days=365), "365 D"),
        (timedelta(days=366), "2 Y"),
        (timedelta(days=800), "3 Y"),
    ],
)
def test_ib_duration_for(span, expected):
    assert ib_duration_for(span) == expected
    assert parse_ib_duration(expected) >= span


@pytest.mark.parametrize(
    ("span", "interval", "expected"),
    [
        (timedelta(seconds=10), "1m", "60 S"),  # at least one bar
        (timedelta(minutes=3), "1m", "180 S"),
        (timedelta(days=1), "5m", "86400 S"),
        (timedelta(days=3), "1h", "3 D"),
        (timedelta(hours=5), "1d", "1 D"),  # daily bars: never seconds
        (timedelta(days=2), Interval.parse("1d"), "2 D"),
        (timedelta(hours=1), "1w", "7 D"),
        (timedelta(days=400), "1d", "2 Y"),
    ],
)
def test_ib_duration_for_an_interval(span, interval, expected):
    assert ib_duration_for(span, interval) == expected
    assert parse_ib_duration(expected) >= max(span, Interval.parse(interval).timedelta)


def test_ib_duration_for_rejects_non_positive():
    with pytest.raises(ConfigError, match=r"timedelta\(0\)"):
        ib_duration_for(timedelta(0))


def test_max_ib_duration_grows_with_bar_size():
    spans = [max_ib_duration(n) for n in VALID_INTERVALS]
    assert spans == sorted(spans)
    assert max_ib_duration("1m") == timedelta(days=1)
    assert max_ib_duration(Interval.parse("1d")) == timedelta(days=365)
    for name in VALID_INTERVALS:
        # every maximum can be written as a valid IB duration string
        assert parse_ib_duration(ib_duration_for(max_ib_duration(name))) >= max_ib_duration(name)
