"""LiveDataFeed: gateway clock, empty history, failed subscriptions, first bar, batched cache."""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Iterator
from types import SimpleNamespace

import pandas as pd
import pytest

import quantnb.ib.feed as feed_module
from quantnb.domain.model import Bar
from quantnb.errors import ConfigError, DataError, GatewayError
from quantnb.ib import (
    BarCache,
    ErrorEvent,
    ErrorKind,
    IBConfig,
    IBConnection,
    LiveDataFeed,
    PacingGuard,
)
from quantnb.sim import GatewaySimulator, PacingRule
from quantnb.testing import eventually

pytestmark = [pytest.mark.ib, pytest.mark.timeout(60)]

LOST = ("Peer closed", "API connection failed", "Make sure API port", "Socket disconnect")
MINUTE = pd.Timedelta(minutes=1)
SYMBOLS = [f"S{i:02d}" for i in range(12)]


@pytest.fixture
def sim() -> Iterator[GatewaySimulator]:
    with GatewaySimulator(symbols=["AAPL", *SYMBOLS], mode="manual") as s:
        yield s


@pytest.fixture
def make_feed(sim, loop_thread, tmp_path):
    made: list[IBConnection] = []

    def make(**kw) -> LiveDataFeed:
        cfg = IBConfig(host=sim.host, port=sim.port, client_id=1, timeout=5)
        conn = IBConnection(cfg, loop_thread, backoff=(0.05, 0.2))
        made.append(conn)
        feed = LiveDataFeed(conn, cache=BarCache(tmp_path / "cache"), **kw)
        conn.connect_blocking()
        return feed

    yield make
    for conn in made:
        conn.disconnect_blocking()


def run(feed: LiveDataFeed, coro, timeout: float = 20.0):
    return feed.connection.loop_thread.run(coro, timeout=timeout)


def test_concurrent_history_and_gateway_time(sim, make_feed):
    feed = make_feed()
    start = sim.now - pd.Timedelta(hours=2)

    async def together():
        times = [feed.gateway_time_async() for _ in range(5)]
        frames = [feed.get_historical_data_async(s, start, None, "1m") for s in SYMBOLS]
        return await asyncio.wait_for(asyncio.gather(*times, *frames), 15)

    out = run(feed, together())
    assert all(t == sim.now for t in out[:5])
    assert all(len(f) > 30 and f.attrs["symbol"] == s for s, f in zip(SYMBOLS, out[5:]))
    assert len({len(f) for f in out[5:]}) == 1
    assert feed.gateway_time() == sim.now
    recent = feed.get_recent_history("AAPL", 1, "1m")
    assert recent.index[-1] + MINUTE == sim.now and recent.attrs["source"] == "history"
    assert recent.index[0] >= sim.now - pd.Timedelta(days=1)
    with pytest.raises(DataError, match="days"):
        feed.get_recent_history("AAPL", 0)


def test_gateway_time_survives_an_orphaned_request(sim, make_feed):
    """Another current-time request replaces ours in the client: ours is asked again."""
    feed = make_feed()
    feed.time_timeout = 0.2
    ib = feed.connection.ib

    async def orphaned():
        ours = asyncio.ensure_future(feed.gateway_time_async())
        while "currentTime" not in ib.wrapper._futures:
            await asyncio.sleep(0)
        theirs = await ib.reqCurrentTimeAsync()  # takes the answer meant for ours
        return theirs, await asyncio.wait_for(ours, 3)

    theirs, ours = run(feed, orphaned())
    assert ours == sim.now == pd.Timestamp(theirs).tz_convert("UTC")


def test_empty_history_is_an_empty_canonical_frame(sim, make_feed):
    feed = make_feed()
    weekend = feed.get_historical_data("AAPL", "2023-12-30", "2023-12-31", "1m")
    assert len(weekend) == 0
    assert list(weekend.columns) == ["open", "high", "low", "close", "volume"]
    assert str(weekend.index.dtype) == "datetime64[ns, UTC]"
    assert weekend.attrs == {"symbol": "AAPL", "interval": "1m", "source": "history"}


def test_failed_subscription_is_not_kept(sim, make_feed, caplog, client_errors):
    client_errors.allow(200, *LOST)
    caplog.set_level(logging.INFO, logger="quantnb.ib")
    feed = make_feed()
    got: list[Bar] = []
    with pytest.raises(DataError, match="NOPE"):
        feed.subscribe(["AAPL", "NOPE"], "1m", on_bar=got.append)
    assert feed.subscriptions == {"AAPL": "1m"}
    caplog.clear()
    sim.drop_connections()
    eventually(lambda: feed.connection.reconnects >= 1 and feed.connection.is_connected(), 10)
    assert not [r for r in caplog.records if "NOPE" in r.getMessage()]
    sim.step(2)
    eventually(lambda: len(got) == 2)


def test_bar_complete_at_subscription_is_delivered_at_once(sim, make_feed):
    feed = make_feed()
    got: list[Bar] = []
    feed.subscribe("AAPL", "1m", on_bar=got.append, since=sim.now - 3 * MINUTE)
    # the simulator answers at a bar boundary: both bars after `since` are complete already
    assert [b.time for b in got] == [sim.now - 2 * MINUTE, sim.now - MINUTE]
    sim.step(2)
    eventually(lambda: len(got) == 4)
    assert got[-1].time == sim.now - MINUTE  # complete as the next bar opens at the boundary


def test_complete_count_keeps_a_bar_in_progress_back():
    t0 = pd.Timestamp("2024-01-03 15:00", tz="UTC")
    bars = [SimpleNamespace(date=(t0 + k * MINUTE).to_pydatetime()) for k in range(3)]
    count = feed_module._complete_count
    assert count(bars, t0 + 3 * MINUTE, MINUTE) == 3  # at the boundary: all complete
    assert count(bars, t0 + 2 * MINUTE + pd.Timedelta(seconds=5), MINUTE) == 2  # IB: in progress
    assert count([], t0, MINUTE) == 0


def test_updates_cost_o1_and_the_cache_is_written_in_batches(sim, make_feed, monkeypatch, tmp_path):
    feed = make_feed()
    feed.flush_interval = 3600.0  # only unsubscribe writes
    stores: list[int] = []
    real_store = feed.cache.store
    monkeypatch.setattr(
        feed.cache,
        "store",
        lambda s, i, bars, src="history": stores.append(len(bars)) or real_store(s, i, bars, src),
    )
    calls = {"n": 0}
    real_time = feed_module._bar_time

    def counted(bar):
        calls["n"] += 1
        return real_time(bar)

    got: list[Bar] = []
    feed.subscribe("AAPL", "1m", on_bar=got.append, since=sim.now - 25 * MINUTE)
    assert len(got) == 24 and stores == []  # delivered, not yet written
    monkeypatch.setattr(feed_module, "_bar_time", counted)
    sim.step(6)
    eventually(lambda: len(got) == 30)
    assert calls["n"] <= 6 * 4  # a few per new bar, not a rescan of every bar
    assert stores == []
    assert feed.cache.load("AAPL", "1m").index[-1] == got[-1].time  # load sees unwritten bars
    path = feed.cache.path("AAPL", "1m")
    feed.unsubscribe("AAPL")
    assert stores == [30]
    on_disk = pd.read_parquet(path)
    assert on_disk.index[-1] == got[-1].time and len(on_disk) >= 30
    assert not list(path.parent.glob("*.tmp"))


def test_scheduled_flush_writes_without_unsubscribing(sim, make_feed):
    feed = make_feed()
    feed.flush_interval = 0.05
    got: list[Bar] = []
    feed.subscribe("AAPL", "1m", on_bar=got.append)
    sim.step(3)
    eventually(lambda: len(got) == 3)
    path = feed.cache.path("AAPL", "1m")
    eventually(lambda: path.exists() and pd.read_parquet(path).index[-1] == got[-1].time)
    assert feed.cache.unsaved == {}


def test_a_refused_history_chunk_raises_and_is_not_kept(loop_thread, tmp_path, client_errors):
    client_errors.allow(162)
    # the 4th request within a minute: 162 (IB paces bars of 30 s or less; here 1-minute bars too)
    pacing = PacingRule(total_max=3, total_window=60, bar_seconds_max=60)
    with GatewaySimulator(symbols=["AAPL"], mode="manual", pacing=pacing) as gw:
        conn = IBConnection(IBConfig(host=gw.host, port=gw.port, client_id=1, timeout=5),
                            loop_thread)  # fmt: skip
        # IB's 15 s rule for identical requests is tested in test_ib_pacing; not waited for here
        quick = PacingGuard(identical_interval=0.1)
        feed = LiveDataFeed(conn, cache=BarCache(tmp_path / "cache"), pacing=quick)
        conn.connect_blocking()
        try:
            start = gw.now - pd.Timedelta(days=6)
            with pytest.raises(GatewayError, match=r"refused the history request.*162"):
                feed.get_historical_data("AAPL", start, gw.now, "1m")
            assert feed.cache.load("AAPL", "1m") is None  # nothing cached as "history"
            sent = feed.pacing.requests
            with pytest.raises(GatewayError, match="162"):  # asked again, not served from memory
                feed.get_historical_data("AAPL", start, gw.now, "1m")
            assert feed.pacing.requests > sent
        finally:
            conn.disconnect_blocking()


def test_no_data_is_an_empty_answer_but_pacing_is_a_refusal():
    feed = LiveDataFeed(IBConnection(IBConfig()))
    no_data = "Historical Market Data Service error message:HMDS query returned no data: AAPL"
    feed._on_error(ErrorEvent(7, 162, ErrorKind.PACING, no_data))
    feed._on_error(ErrorEvent(8, 162, ErrorKind.PACING, "pacing violation"))
    assert feed._refusal(SimpleNamespace(reqId=7)) is None
    assert feed._refusal(SimpleNamespace(reqId=8)).req_id == 8
    assert feed._refusal(SimpleNamespace(reqId=8)) is None  # taken once


def test_cache_io_runs_off_the_loop_thread(sim, make_feed, monkeypatch, client_errors):
    client_errors.allow(*LOST)
    feed = make_feed()
    feed.flush_interval = 3600.0
    threads: list[str] = []
    for name in ("store", "load", "flush"):
        real = getattr(feed.cache, name)

        def spy(*args, _real=real, **kwargs):
            threads.append(threading.current_thread().name)
            return _real(*args, **kwargs)

        monkeypatch.setattr(feed.cache, name, spy)
    feed.get_historical_data("AAPL", sim.now - pd.Timedelta(hours=1), None, "1m")
    got: list[Bar] = []
    feed.subscribe("AAPL", "1m", on_bar=got.append)
    sim.step(2)
    eventually(lambda: len(got) == 2)
    assert feed.flush() == 2
    feed.unsubscribe("AAPL")
    sim.stop()
    eventually(lambda: not feed.connection.is_connected())
    feed.get_recent_history("AAPL", 1, "1m")  # from the cache
    assert threads and feed.connection.loop_thread.name not in threads


def test_since_that_is_no_time_is_named(sim, make_feed):
    feed = make_feed()
    with pytest.raises(ConfigError, match="garbage"):
        feed.subscribe("AAPL", "1m", since="garbage")
    assert feed.subscriptions == {}


def test_renewed_subscription_leaves_no_orphaned_request(sim, make_feed, client_errors):
    client_errors.allow(1100, 1101)
    feed = make_feed()
    got: list[Bar] = []
    feed.subscribe("AAPL", "1m", on_bar=got.append)
    ib = feed.connection.ib
    assert len(ib.realtimeBars()) == 1
    old = feed._subs["AAPL"].bars
    sim.pause()
    sim.resume(data_lost=True)  # 1101: the feed renews its subscription
    eventually(lambda: feed._subs["AAPL"].bars not in (None, old))
    assert len(ib.realtimeBars()) == 1  # the old request was cancelled, not left behind
    sim.step(1)
    eventually(lambda: len(got) == 1)
