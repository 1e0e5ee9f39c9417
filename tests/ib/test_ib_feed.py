"""LiveDataFeed against the gateway simulator: history, pacing, cache fallback, live bars."""

from __future__ import annotations

import asyncio
import itertools
import logging

import numpy as np
import pandas as pd
import pytest

from quantnb.data import resample, validate
from quantnb.domain.interval import Interval
from quantnb.domain.model import Bar
from quantnb.errors import NotConnectedError
from quantnb.ib import BarCache, IBConfig, IBConnection, LiveDataFeed, PacingGuard
from quantnb.ports import ILiveDataFeed
from quantnb.testing import eventually

pytestmark = [pytest.mark.ib, pytest.mark.timeout(60)]

LOST = ("Peer closed", "API connection failed", "Make sure API port", "Socket disconnect")
MINUTE = pd.Timedelta(minutes=1)


@pytest.fixture
def make_feed(ib_sim, loop_thread, tmp_path):
    made: list[IBConnection] = []

    def make(connect: bool = True, **kw) -> LiveDataFeed:
        cfg = IBConfig(host=ib_sim.host, port=ib_sim.port, client_id=1, timeout=5)
        conn = IBConnection(cfg, loop_thread, backoff=(0.05, 0.2), **kw)
        made.append(conn)
        feed = LiveDataFeed(conn, cache=BarCache(tmp_path / "cache"))
        if connect:
            conn.connect_blocking()
        return feed

    yield make
    for conn in made:
        conn.disconnect_blocking()


def assert_canonical(df: pd.DataFrame) -> None:
    assert list(df.columns) == ["open", "high", "low", "close", "volume"]
    assert str(df.index.dtype) == "datetime64[ns, UTC]"
    assert all(df.dtypes == np.float64)
    assert df.index.is_monotonic_increasing and df.index.is_unique
    validate(df, df.attrs["symbol"])


@pytest.mark.parametrize("interval", ["1m", "5m", "1d"])
def test_history_is_canonical(ib_sim, make_feed, interval):
    feed = make_feed()
    df = feed.get_historical_data("AAPL", None, None, interval)
    assert len(df) > 10
    assert_canonical(df)
    assert df.attrs == {"symbol": "AAPL", "interval": interval, "source": "history"}
    step = pd.Timedelta(Interval.parse(interval).timedelta)
    assert df.index[-1] + step <= ib_sim.now  # no bar still in progress
    if interval == "1d":
        assert (df.index == df.index.normalize()).all()  # dates at 00:00 UTC
    else:
        assert (df.index.diff()[1:] >= step).all()


def test_long_range_is_split_into_requests_ib_accepts(ib_sim, make_feed, capsys):
    feed = make_feed()
    feed.progress = True  # a progress bar at once, whatever the download takes
    end = ib_sim.now
    start = end - pd.Timedelta(days=6)  # 2023-12-28 on: 2024-01-01 is a holiday
    one = feed.get_historical_data("AAPL", start, end, "1m")
    assert feed.pacing.requests >= 4  # 1-minute bars: at most one day per request
    shown = capsys.readouterr().err
    assert "AAPL 1m history" in shown and "request" in shown
    assert_canonical(one)
    sessions = one.index.normalize().unique()
    assert len(sessions) >= 3
    assert one.index[0] >= start
    five = feed.get_historical_data("AAPL", start, end, "5m")
    mine = resample(one, "5m")
    common = five.index.intersection(mine.index)
    assert len(common) > 100
    pd.testing.assert_frame_equal(five.loc[common], mine.loc[common], check_freq=False,
                                  check_like=True, rtol=1e-9)  # fmt: skip


def test_pacing_guard_merges_and_serves_identical_requests(ib_sim, make_feed):
    feed = make_feed()
    pacing: PacingGuard = feed.pacing
    start, end = ib_sim.now - pd.Timedelta(hours=2), ib_sim.now

    async def twice():
        return await asyncio.gather(
            feed.get_historical_data_async("AAPL", start, end, "1m"),
            feed.get_historical_data_async("AAPL", start, end, "1m"),
        )

    a, b = feed.connection.loop_thread.run(twice())
    pd.testing.assert_frame_equal(a, b)
    assert (pacing.requests, pacing.merged) == (1, 1)
    c = feed.get_historical_data("AAPL", start, end, "1m")
    pd.testing.assert_frame_equal(a, c)
    assert (pacing.requests, pacing.served) == (1, 1)


def test_fallback_serves_the_cache_and_leaves_with_the_gateway(
    ib_sim, make_feed, caplog, client_errors
):
    client_errors.allow(*LOST)
    caplog.set_level(logging.INFO, logger="quantnb.ib")
    feed = make_feed()
    feed.pacing = PacingGuard(identical_interval=0.1)  # the 15 s rule: see test_ib_pacing
    start = ib_sim.now - pd.Timedelta(hours=3)
    live = feed.get_historical_data("AAPL", start, None, "1m")
    path = feed.cache.path("AAPL", "1m")
    assert path.exists() and not list(path.parent.glob("*.tmp"))
    assert not feed.is_fallback_mode()

    ib_sim.stop()
    eventually(lambda: not feed.connection.is_connected())
    cached = feed.get_historical_data("AAPL", start, None, "1m")
    again = feed.get_historical_data("AAPL", start, None, "1m")
    assert feed.is_fallback_mode()
    assert cached.attrs["source"] == "cache"
    pd.testing.assert_frame_equal(cached, live, check_freq=False, check_flags=False)
    pd.testing.assert_frame_equal(again, cached)
    with pytest.raises(NotConnectedError, match="MSFT"):
        feed.get_historical_data("MSFT", start, None, "1m")
    warnings = [r for r in caplog.records if "fallback mode" in r.getMessage()]
    assert len(warnings) == 1 and warnings[0].levelno == logging.WARNING

    ib_sim.start()
    eventually(lambda: feed.connection.is_connected() and not feed.is_fallback_mode(), timeout=10)
    assert any("left fallback mode" in r.getMessage() for r in caplog.records)
    assert feed.get_historical_data("AAPL", start, None, "1m").attrs["source"] == "history"


def test_subscribe_delivers_each_completed_bar_once(ib_sim, make_feed, client_errors):
    client_errors.allow(*LOST)
    feed = make_feed()
    got: list[Bar] = []
    feed.subscribe(["AAPL"], "1m", on_bar=got.append)
    first = feed.get_latest_bar("AAPL")
    assert first is not None and feed.get_latest_price("AAPL") > 0
    assert first.time + MINUTE == ib_sim.now  # the bar that just ended is the latest, not history
    for n in range(1, 4):
        ib_sim.step(1)  # complete once the next bar opens, at the boundary
        eventually(lambda n=n: len(got) == n)

    ib_sim.drop_connections()  # resubscribe after the reconnect: no duplicate, no gap
    eventually(lambda: feed.connection.reconnects == 1 and feed.connection.is_connected(), 10)
    for _ in range(2):
        ib_sim.step(1)
    eventually(lambda: len(got) == 5)

    times = [b.time for b in got]
    feed.flush()  # before any history request re-tags them
    assert feed.cache.unsaved == {}
    assert (feed.cache.load("AAPL", "1m")["source"].loc[times] == "live").all()
    assert times[0] == first.time + MINUTE
    assert all(b - a == MINUTE for a, b in itertools.pairwise(times))
    history = feed.get_historical_data("AAPL", times[0], times[-1], "1m")
    assert list(history.index) == times
    for bar in got:  # each delivered bar is the finished bar, not a partial one
        row = history.loc[bar.time]
        assert (bar.open, bar.high, bar.low, bar.close) == tuple(row[:4])
        assert bar.volume == row["volume"]
    assert feed.get_latest_bar("AAPL") == got[-1]
    assert feed.cache.load("AAPL", "1m").loc[times[-1], "close"] == got[-1].close


def test_backfill_after_a_restart_fills_the_gap_once(ib_sim, make_feed, client_errors):
    client_errors.allow(*LOST)
    feed = make_feed(enable_reconnect=False)
    got: list[Bar] = []
    feed.subscribe("AAPL", "1m", on_bar=got.append)
    ib_sim.step(2)
    eventually(lambda: len(got) == 2)

    ib_sim.stop()
    eventually(lambda: feed.is_fallback_mode())
    ib_sim.start()
    ib_sim.step(4)  # the market moves while we are away
    assert feed.reconnect()
    assert not feed.is_fallback_mode()
    eventually(lambda: len(got) == 6)  # the four bars missed, backfilled once
    ib_sim.step(1)
    eventually(lambda: len(got) == 7)
    times = [b.time for b in got]
    assert all(b - a == MINUTE for a, b in itertools.pairwise(times))  # no gap, no duplicate


def test_unsubscribe_and_ticker_info(ib_sim, make_feed):
    feed = make_feed()
    got: list[Bar] = []
    feed.subscribe(["AAPL", "MSFT"], "1m", on_bar=got.append)
    assert feed.subscriptions == {"AAPL": "1m", "MSFT": "1m"}
    feed.unsubscribe(["MSFT"])
    ib_sim.step(2)
    eventually(lambda: len(got) >= 1)
    assert {b.symbol for b in got} == {"AAPL"}
    info = feed.get_ticker_info("AAPL")
    assert info["symbol"] == "AAPL" and info["con_id"] > 0 and info["currency"] == "USD"


def test_multiple_symbols_and_protocol(ib_sim, make_feed):
    feed = make_feed()
    assert isinstance(feed, ILiveDataFeed)
    frames = feed.get_multiple_symbols(["AAPL", "MSFT"], None, None, "5m")
    assert list(frames) == ["AAPL", "MSFT"]
    assert all(len(f) > 10 and f.attrs["symbol"] == s for s, f in frames.items())
    assert not frames["AAPL"]["close"].equals(frames["MSFT"]["close"])


def test_open_gives_a_connected_feed_that_falls_back_and_closes(ib_sim, tmp_path, client_errors):
    client_errors.allow(*LOST)
    cfg = IBConfig(host=ib_sim.host, port=ib_sim.port, client_id=31)
    with LiveDataFeed.open(cfg, cache_dir=tmp_path, enable_reconnect=False) as feed:
        loop = feed.connection.loop_thread
        live = feed.get_recent_history("AAPL", days=2, interval="5m")
        assert len(live) > 50 and live.attrs["source"] == "history"
        ib_sim.stop()
        cached = feed.get_recent_history("AAPL", days=2, interval="5m")
        assert feed.is_fallback_mode() and cached.attrs["source"] == "cache"
        pd.testing.assert_frame_equal(cached, live, check_like=True)
        ib_sim.start()
        assert feed.reconnect() and not feed.is_fallback_mode()
    assert not loop.is_running() and not feed.connection.is_connected()
