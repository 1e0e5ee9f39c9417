"""Scheduled decisions: the rules, their fire times on the NYSE calendar, and a backtest's calls."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest

import quantnb as qn
from quantnb.domain import calendar
from quantnb.domain.interval import Interval
from quantnb.domain.schedule import fire_times, parse_rule
from quantnb.engine.scheduler import Scheduler
from quantnb.errors import ConfigError

NY = "America/New_York"


def _ny(times: np.ndarray) -> list[str]:
    idx = pd.DatetimeIndex(times).tz_localize("UTC").tz_convert(NY)
    return list(idx.strftime("%Y-%m-%d %H:%M"))


def _fires(at: str, days: str, first: str, last: str) -> list[str]:
    return _ny(fire_times(parse_rule(at, days), pd.Timestamp(first), pd.Timestamp(last)))


def session_bars(symbols, interval: str, first: str, last: str, seed: int = 0):
    """Sample bars kept to the exchange's regular sessions: no bar on a holiday, none after an
    early close (as IB serves regular-hours bars)."""
    data = qn.data.sample(symbols, interval=interval, start=first, end=last, seed=seed)
    s = calendar.sessions(pd.Timestamp(first), pd.Timestamp(last))
    out = {}
    for sym, df in data.items():
        t = df.index.asi8
        j = np.searchsorted(s.open, t, side="right") - 1
        ok = (j >= 0) & (t < s.close[np.maximum(j, 0)])
        out[sym] = df[ok]
    return out


# ---- rules -------------------------------------------------------------------------------------
def test_month_start_after_new_years_day_is_the_next_session():
    assert _fires("open", "month_start", "2023-12-15", "2024-02-05") == [
        "2024-01-02 09:30",  # 2024-01-01 is a holiday
        "2024-02-01 09:30",
    ]


def test_close_minus_ten_minutes_on_a_half_day_follows_the_early_close():
    assert _fires("close-10min", "every_day", "2023-11-22", "2023-11-27") == [
        "2023-11-22 15:50",
        "2023-11-24 12:50",  # 23rd: Thanksgiving; 24th closes at 13:00
        "2023-11-27 15:50",
    ]
    # a clock time past an early close comes at that close
    assert _fires("15:30", "every_day", "2023-11-24", "2023-11-24") == ["2023-11-24 13:00"]


def test_times_are_exchange_times_across_a_daylight_saving_change():
    rule = parse_rule("open+5min", "every_day")
    t = fire_times(rule, pd.Timestamp("2024-03-08"), pd.Timestamp("2024-03-11"))
    utc = list(pd.DatetimeIndex(t).tz_localize("UTC").strftime("%Y-%m-%d %H:%M"))
    assert utc == ["2024-03-08 14:35", "2024-03-11 13:35"]  # EST, then EDT
    assert _fires("15:30", "every_day", "2024-11-01", "2024-11-04") == [
        "2024-11-01 15:30",
        "2024-11-04 15:30",
    ]


def test_week_and_month_edges_and_weekdays_skip_holidays():
    assert _fires("close", "week_end", "2023-11-13", "2023-12-02") == [
        "2023-11-17 16:00",
        "2023-11-24 13:00",
        "2023-12-01 16:00",
    ]
    assert _fires("open", "week_start", "2024-01-08", "2024-01-23") == [
        "2024-01-08 09:30",
        "2024-01-16 09:30",  # Martin Luther King Jr. Day
        "2024-01-22 09:30",
    ]
    assert _fires("close", "month_end", "2024-03-01", "2024-04-30") == [
        "2024-03-28 16:00",  # Good Friday
        "2024-04-30 16:00",
    ]
    assert _fires("close", "fri", "2024-03-25", "2024-04-06") == ["2024-04-05 16:00"]


@pytest.mark.parametrize(
    ("at", "days", "named"),
    [
        ("close+1d", "every_day", "'close+1d'"),
        ("25:00", "every_day", "'25:00'"),
        ("noon", "every_day", "'noon'"),
        ("close-7h", "every_day", "'close-7h'"),
        (None, "every_day", "None"),
        ("close", "monthly", "'monthly'"),
        ("close", "saturday", "'saturday'"),
    ],
)
def test_a_rule_that_cannot_work_is_a_clear_error(at, days, named):
    with pytest.raises(ConfigError, match=re.escape(named)):
        parse_rule(at, days)


# ---- which bar reaches a fire time -------------------------------------------------------------
def test_a_fire_time_is_reached_by_the_first_bar_complete_at_or_after_it():
    rule = parse_rule("close-10min", "every_day")
    start = pd.Timestamp("2023-11-24 12:45", tz=NY)
    sched = Scheduler([(rule, "f")], Interval.parse("1m"), start.value - 1)
    calls = {}
    for k in range(10):
        t = start + pd.Timedelta(minutes=k)
        calls[t.strftime("%H:%M")] = sched.due(t.value)
    assert [k for k, v in calls.items() if v] == ["12:49"]  # the bar 12:49-12:50
    assert calls["12:49"] == ["f"]


def test_a_gap_reaching_several_fire_times_calls_once_and_daily_bars_their_session():
    rule = parse_rule("close-1min", "every_day")
    day = pd.Timestamp("2024-01-02", tz="UTC")
    sched = Scheduler([(rule, "f")], Interval.parse("1d"), day.value - 1)
    assert sched.due(day.value) == ["f"]  # the daily bar of that session
    assert sched.due((day + pd.Timedelta(days=1)).value) == ["f"]
    assert sched.due((day + pd.Timedelta(days=7)).value) == ["f"]  # a gap: once
    assert sched.due((day + pd.Timedelta(days=7)).value) == []


def test_fire_times_far_ahead_are_read_from_the_calendar_as_bars_reach_them():
    rule = parse_rule("open", "month_start")
    t0 = pd.Timestamp("2020-01-01", tz="UTC")
    sched = Scheduler([(rule, "f")], Interval.parse("1d"), t0.value - 1)
    days = pd.bdate_range("2020-01-01", "2023-12-31", tz="UTC")
    hits = [d for d in days if sched.due(d.value)]
    assert len(hits) == 48
    assert hits[0] == pd.Timestamp("2020-01-02", tz="UTC")
    assert pd.Timestamp("2023-01-03", tz="UTC") in hits  # 2023-01-02: New Year's Day observed


# ---- in a backtest ---------------------------------------------------------------------------
class MonthlyAtTheClose(qn.Strategy):
    """Rebalances to 50/50 at the close of each month's first session; notes each week's end."""

    def initialize(self, ctx):
        self.calls = []
        self.bars = 0
        ctx.schedule(self.rebalance, at="close", days="month_start")
        ctx.schedule(self.week_end, at="close-10min", days="week_end")

    def on_data(self, ctx, data):
        self.bars += 1

    def rebalance(self, ctx):
        self.calls.append(("rebalance", ctx.now, self.bars))
        for sym in ctx.symbols:
            ctx.order_target_percent(sym, 0.45)

    def week_end(self, ctx):
        self.calls.append(("week_end", ctx.now, self.bars))


def _at(text: str) -> pd.Timestamp:
    return pd.Timestamp(text, tz=NY).tz_convert("UTC")


def test_a_monthly_rebalance_at_the_close_over_a_holiday_and_a_half_day():
    bars = session_bars(["AAPL", "MSFT"], "30m", "2023-11-20", "2024-01-03")
    assert not (bars["AAPL"].index.tz_convert(NY).date == pd.Timestamp("2023-11-23").date()).any()
    strat = MonthlyAtTheClose()
    result = qn.backtest(strat, bars, progress=False)
    called = [
        (name, when.tz_convert(NY).strftime("%Y-%m-%d %H:%M")) for name, when, _ in strat.calls
    ]
    # by hand: 30-minute bars complete at their start + 30 min; each call runs at the bar that
    # completes at or after its time, after that bar's on_data
    assert called == [
        ("week_end", "2023-11-24 12:30"),  # half day: 12:50, the bar 12:30-13:00
        ("week_end", "2023-12-01 15:30"),  # 15:50 comes before the close in the same bar
        ("rebalance", "2023-12-01 15:30"),  # the bar 15:30-16:00 completes at the close
        ("week_end", "2023-12-08 15:30"),
        ("week_end", "2023-12-15 15:30"),
        ("week_end", "2023-12-22 15:30"),  # 25th: Christmas
        ("week_end", "2023-12-29 15:30"),
        ("rebalance", "2024-01-02 15:30"),  # 1st: New Year's Day
    ]
    on_data_count = {when: n for _, when, n in strat.calls}
    assert on_data_count[_at("2023-12-01 15:30")] == int(
        (bars["AAPL"].index <= _at("2023-12-01 15:30")).sum()
    )  # on_data of that bar came first
    orders = result.orders
    assert list(pd.DatetimeIndex(orders["created"]).tz_convert(NY).strftime("%m-%d %H:%M")) == [
        "12-01 15:30",
        "12-01 15:30",
    ] + ["01-02 15:30"] * int((pd.DatetimeIndex(orders["created"]) > _at("2023-12-02")).sum())
    fills = result.fills
    # market orders from the close fill at the next session's first bar
    assert set(pd.DatetimeIndex(fills["time"]).tz_convert(NY).strftime("%m-%d %H:%M")) <= {
        "12-04 09:30",
        "01-03 09:30",
    }
    assert set(fills["symbol"]) == {"AAPL", "MSFT"}


def test_schedule_after_initialize_is_refused():
    class Late(qn.Strategy):
        def on_data(self, ctx, data):
            ctx.schedule(lambda c: None, at="close")

    with pytest.raises(ConfigError, match="initialize"):
        qn.backtest(Late(), qn.data.sample("AAA", bars=3), progress=False)


def test_schedule_checks_its_arguments_in_initialize():
    class Bad(qn.Strategy):
        def initialize(self, ctx):
            ctx.schedule(self.on_data, at="close", days="quarter_end")

    with pytest.raises(ConfigError, match="quarter_end"):
        qn.backtest(Bad(), qn.data.sample("AAA", bars=3), progress=False)
