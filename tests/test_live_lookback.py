"""Warm-up bars to calendar time (exchange sessions), and the history download's progress."""

from __future__ import annotations

import asyncio

import pandas as pd
import pytest

from quantnb.ib.pacing import PacingGuard
from quantnb.ib.progress import HistoryProgress
from quantnb.trading.lookback import bars_wanted, lookback_days

NY = "America/New_York"
NOW = pd.Timestamp("2024-01-03 10:00", tz=NY)  # 30 minutes into a session, after a holiday


def _start(bars: int, interval: str, now: pd.Timestamp = NOW, **kw) -> pd.Timestamp:
    start = now - pd.Timedelta(days=lookback_days(bars, interval, now, **kw))
    assert start.second == 59  # a second before a bar's start: that bar is included
    return start.ceil("min").tz_convert(NY)


def test_bars_wanted_adds_a_margin():
    assert [bars_wanted(n) for n in (0, 1, 30, 200)] == [3, 3, 33, 220]


def test_minute_bars_reach_into_the_previous_session_only_as_far_as_needed():
    # 30 bars today since 09:30, 3 more from Jan 2's close (Jan 1 is a holiday)
    assert _start(30, "1m") == pd.Timestamp("2024-01-02 15:57", tz=NY)
    assert _start(30, "1m", extended=True) == pd.Timestamp("2024-01-03 09:27", tz=NY)
    # 1,000 minutes: today's 30, then whole sessions of 390 back over the holiday and weekend
    assert _start(1000, "1m") == pd.Timestamp("2023-12-28 11:10", tz=NY)


def test_five_minute_and_hourly_bars():
    assert _start(30, "5m") == pd.Timestamp("2024-01-02 13:45", tz=NY)
    assert _start(30, "1h").date() == pd.Timestamp("2023-12-22").date()


def test_daily_bars_count_sessions():
    start = _start(30, "1d")
    days = pd.bdate_range(start.date(), "2024-01-02")  # holidays make it longer, never shorter
    assert len(days) >= 33
    assert lookback_days(30, "1d", NOW) < 60  # about a month and a half, not a year


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def time(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.now += seconds
        await asyncio.sleep(0)


class FakeBar:
    def __init__(self) -> None:
        self.postfix: list[str] = []
        self.n = 0
        self.total: int | None = None
        self.closed = False

    def set_postfix_str(self, text: str, refresh: bool = True) -> None:
        self.postfix.append(text)

    def update(self, n: int = 1) -> None:
        self.n += n

    def refresh(self) -> None:
        pass

    def close(self) -> None:
        self.closed = True


def test_a_pacing_wait_shows_its_reason_and_counts_down():
    clock = FakeClock()
    guard = PacingGuard(max_requests=2, window=600.0, time_fn=clock.time, sleep=clock.sleep)
    progress = HistoryProgress(clock=clock.time)
    bar = FakeBar()
    download = progress.begin(3, bar)
    seen: list[dict | None] = []

    async def ask(i: int) -> int:
        return i

    async def main() -> None:
        for i in range(3):
            await guard.fetch(("k", i), lambda i=i: ask(i), group="AAPL")
            progress.step(download)
            seen.append(progress.snapshot())

    def watch(reason, seconds):
        seen.append(progress.snapshot())

    guard.on_wait = lambda r, s: (progress.waiting(r, s), watch(r, s))
    asyncio.run(main())
    waits = [s for s in seen if s is not None and s["waiting"]]
    assert waits[0] == {
        "done": 2,
        "total": 3,
        "waiting": "IB pacing: 2 requests per 10 minutes",
        "resume_in": pytest.approx(600.0),
    }
    assert [round(w["resume_in"]) for w in waits[:3]] == [600, 599, 598]  # counted down
    shown = [p for p in bar.postfix if p]
    assert shown[0] == "waiting 10m00s: IB pacing: 2 requests per 10 minutes"
    assert bar.postfix[-1] == ""  # the wait is over
    assert seen[-1] == {"done": 3, "total": 3, "waiting": None, "resume_in": None}
    progress.end(download)
    assert bar.closed and bar.n == 3 and progress.snapshot() is None


def test_an_unanswered_request_counts_as_waiting_for_the_gateway():
    clock = FakeClock()
    progress = HistoryProgress(clock=clock.time)
    progress.begin(1)
    progress.asked(1)
    clock.now = 2.0
    assert progress.snapshot()["waiting"] is None
    clock.now = 7.0
    assert progress.snapshot() == {
        "done": 0,
        "total": 1,
        "waiting": "the gateway has not answered for 7 s",
        "resume_in": None,
    }
    progress.answered(1)
    assert progress.snapshot()["waiting"] is None


def test_a_download_that_needed_fewer_requests_ends_complete():
    progress = HistoryProgress(clock=FakeClock().time)
    bar = FakeBar()
    download = progress.begin(2, bar)
    progress.step(download)
    progress.end(download)
    assert bar.closed and (bar.n, bar.total) == (1, 1)  # 1/1, not frozen at 1/2
