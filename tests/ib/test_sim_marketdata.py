"""Streaming ticks, snapshots, market data type and 5-second real-time bars."""

from __future__ import annotations

import itertools

import pytest

pytestmark = [pytest.mark.ib, pytest.mark.timeout(60)]


def test_ticks_stream_on_each_step(ib_sim, ib, aapl, wait):
    ticker = ib.reqMktData(aapl)
    wait(ib, lambda: ticker.last == ib_sim.price("AAPL"))
    assert ticker.bid < ticker.last < ticker.ask
    assert ticker.open > 0 and ticker.close > 0 and ticker.high >= ticker.low
    volume = ticker.volume
    ib_sim.step()
    wait(ib, lambda: ticker.volume > volume)
    assert ticker.last == ib_sim.price("AAPL")
    assert ticker.bid < ticker.last < ticker.ask


def test_every_slice_of_a_bar_is_ticked(ib_sim, ib, aapl, wait):
    ticker = ib.reqMktData(aapl)
    wait(ib, lambda: ticker.last == ib_sim.price("AAPL"))
    lasts = []
    ticker.updateEvent += lambda t: lasts.extend(x.price for x in t.ticks if x.tickType == 4)
    ib_sim.step()
    wait(ib, lambda: len(lasts) >= 12)
    assert lasts[-1] == ib_sim.price("AAPL")


def test_cancel_stops_the_stream(ib_sim, ib, aapl, wait):
    ticker = ib.reqMktData(aapl)
    wait(ib, lambda: ticker.last == ib_sim.price("AAPL"))
    ib.cancelMktData(aapl)
    ib.sleep(0.05)
    before = ib.client.connectionStats().numMsgRecv
    assert before > 0
    ib_sim.step()
    ib.sleep(0.1)
    assert ib.client.connectionStats().numMsgRecv == before


def test_snapshots_end_with_tick_snapshot_end(ib_sim, ib, ibc):
    aapl, msft = ib.qualifyContracts(ibc.Stock("AAPL", "SMART", "USD"), ibc.Stock("MSFT", "SMART"))
    tickers = ib.reqTickers(aapl, msft)
    assert [t.last for t in tickers] == [ib_sim.price("AAPL"), ib_sim.price("MSFT")]
    assert all(t.bid < t.ask for t in tickers)


def test_live_data_wins_over_a_delayed_request(ib_sim, ib, aapl, wait):
    # IB: "If live data is available, it will always be returned instead of delayed data."
    ib.reqMarketDataType(3)
    ticker = ib.reqMktData(aapl)
    wait(ib, lambda: ticker.last == ib_sim.price("AAPL"))
    assert ticker.marketDataType == 1
    assert ticker.bid < ticker.ask


def test_realtime_bars_every_five_seconds(ib_sim, ib, aapl, wait):
    bars = ib.reqRealTimeBars(aapl, 5, "TRADES", False)
    ib_sim.step()
    wait(ib, lambda: len(bars) == 12)
    times = [b.time.timestamp() for b in bars]
    assert [b - a for a, b in itertools.pairwise(times)] == [5.0] * 11
    assert bars[-1].close == ib_sim.price("AAPL")
    history = ib.reqHistoricalData(aapl, "", "60 S", "1 min", "TRADES", True)
    last = history[-1]
    assert last.open == bars[0].open_ and last.close == bars[-1].close
    assert last.high == max(b.high for b in bars) and last.low == min(b.low for b in bars)
    ib.cancelRealTimeBars(bars)
    ib.sleep(0.05)
    ib_sim.step()
    ib.sleep(0.05)
    assert len(bars) == 12


def test_set_price_pushes_a_tick(ib_sim, ib, aapl, wait):
    ticker = ib.reqMktData(aapl)
    ib_sim.set_price("AAPL", 123.45)
    wait(ib, lambda: ticker.last == 123.45)
    ib_sim.step()
    wait(ib, lambda: ticker.last != 123.45)
    assert abs(ticker.last - 123.45) < 5


def test_data_the_simulator_does_not_model_never_hangs(ib, aapl, client_errors):
    client_errors.allow(354, 430)
    assert ib.reqHistoricalTicks(aapl, "20240103 14:00:00 UTC", "", 10, "TRADES", True) == []
    assert ib.reqNewsProviders() == []
    assert ib.reqSecDefOptParams("AAPL", "", "STK", aapl.conId) == []
    assert not ib.reqFundamentalData(aapl, "ReportSnapshot")
    assert ib.reqMarketRule(26)[0].increment == 0.01


@pytest.mark.ib_sim(mode="realtime", speed=600)
def test_realtime_clock_streams_ticks_and_bars(ib_sim, ib, aapl, wait):
    ticker = ib.reqMktData(aapl)
    rt_bars = ib.reqRealTimeBars(aapl, 5, "TRADES", False)
    minute_bars = ib.reqHistoricalData(aapl, "", "600 S", "1 min", "TRADES", True, 1, True)
    n = len(minute_bars)
    wait(ib, lambda: len(rt_bars) >= 24 and len(minute_bars) >= n + 2)
    assert ticker.last == pytest.approx(ib_sim.price("AAPL"), rel=0.01)
    times = [b.time for b in rt_bars]
    assert times == sorted(times)
