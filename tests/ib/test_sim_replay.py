"""Bars handed in are replayed exactly: a paper run can see the bars a backtest saw."""

from __future__ import annotations

import pandas as pd
import pytest

from quantnb.data import sample
from quantnb.errors import DataError
from quantnb.sim import GatewaySimulator

pytestmark = [pytest.mark.ib, pytest.mark.timeout(60)]


def _closes(bars) -> list[float]:
    return [b.close for b in bars]


def test_intraday_bars_replay_exactly(connect, ibc, wait):
    frames = sample(["AAPL", "MSFT"], "5m", start="2023-03-01", bars=200)
    start = frames["AAPL"].index[99]
    with GatewaySimulator(mode="manual", bars=frames, start=start) as sim:
        assert sim.symbols == ["AAPL", "MSFT"]
        ib = connect(sim)
        aapl, msft = ib.qualifyContracts(
            ibc.Stock("AAPL", "SMART", "USD"), ibc.Stock("MSFT", "SMART")
        )
        got = ib.reqHistoricalData(aapl, "", "1 W", "5 mins", "TRADES", True)
        expected = frames["AAPL"].loc[:start]
        assert _closes(got) == expected["close"].tolist()
        assert [b.volume for b in got] == expected["volume"].tolist()
        first = got[0].date.astimezone(pd.Timestamp(0, tz="UTC").tzinfo)
        assert pd.Timestamp(first) == expected.index[0]
        ticker = ib.reqMktData(msft)
        sim.step(3)
        nxt = frames["MSFT"].iloc[102]
        wait(ib, lambda: ticker.last == nxt["close"])
        assert sim.price("AAPL") == frames["AAPL"]["close"].iloc[102]
        ib.disconnect()


def test_daily_bars_and_orders_fill_on_the_replayed_prices(connect, ibc, wait):
    frames = sample("SPY", "1d", start="2021-01-01", bars=60)
    df = frames["SPY"]
    with GatewaySimulator(mode="manual", bars=frames, start=df.index[29], commission=0.0) as sim:
        ib = connect(sim)
        (spy,) = ib.qualifyContracts(ibc.Stock("SPY", "SMART", "USD"))
        daily = ib.reqHistoricalData(spy, "", "1 Y", "1 day", "TRADES", True)
        assert [b.date for b in daily] == [t.date() for t in df.index[:30]]
        assert _closes(daily) == df["close"].iloc[:30].tolist()
        limit = float(df["low"].iloc[30]) + 0.01
        trade = ib.placeOrder(spy, ibc.LimitOrder("BUY", 10, limit))
        wait(ib, lambda: trade.orderStatus.status == "Submitted")
        sim.step()
        wait(ib, lambda: trade.isDone())
        assert trade.fills[0].execution.price == min(limit, float(df["open"].iloc[30]))
        ib.disconnect()


def test_the_clock_stops_at_the_end_of_the_bars(connect):
    frames = sample("AAPL", "1d", start="2021-01-01", bars=5)
    with GatewaySimulator(mode="manual", bars=frames) as sim:
        sim.step(10)
        assert sim.price("AAPL") == frames["AAPL"]["close"].iloc[-1]
        assert sim.now >= frames["AAPL"].index[-1]


def test_the_same_seed_gives_the_same_market(connect, ibc):
    prices = []
    for _ in range(2):
        with GatewaySimulator(mode="manual", seed=7) as sim:
            sim.step(5)
            prices.append((sim.price("AAPL"), sim.price("MSFT"), sim.now))
    assert prices[0] == prices[1]
    with GatewaySimulator(mode="manual", seed=8) as other:
        other.step(5)
        assert other.price("AAPL") != prices[0][0]


def test_weekly_bars_are_served_as_weekly_bars(connect, ibc, client_errors):
    client_errors.allow(162)
    frames = sample("SPY", "1w", start="2021-01-01", bars=20)
    df = frames["SPY"]
    with GatewaySimulator(mode="manual", bars=frames, start=df.index[9]) as sim:
        ib = connect(sim)
        (spy,) = ib.qualifyContracts(ibc.Stock("SPY", "SMART", "USD"))
        weekly = ib.reqHistoricalData(spy, "", "1 Y", "1 week", "TRADES", True)
        assert [b.date for b in weekly] == [t.date() for t in df.index[:10]]
        assert _closes(weekly) == df["close"].iloc[:10].tolist()
        errors = []
        ib.errorEvent += lambda req_id, code, text, contract: errors.append((code, text))
        assert list(ib.reqHistoricalData(spy, "", "1 Y", "1 day", "TRADES", True)) == []
        assert len(errors) == 1 and errors[0][0] == 162
        assert "bar size '1 day' is finer than the simulator's 7-day bars" in errors[0][1]
        sim.step()
        assert sim.now == df.index[10] + pd.Timedelta(weeks=1)
        ib.disconnect()


def test_bad_bars_are_refused_naming_symbol_row_and_value():
    df = sample("AAPL", "1d", start="2021-01-01", bars=5)["AAPL"].copy()
    df.iloc[2, df.columns.get_loc("high")] = df["low"].iloc[2] - 1
    with pytest.raises(DataError, match=r"^AAPL: high < low \(high=.*\) at .* \(row 2\)"):
        GatewaySimulator(mode="manual", bars={"AAPL": df})
    index = pd.date_range("2024-01-02 15:00", periods=5, freq="5s", tz="UTC")
    fast = pd.DataFrame(
        {"open": 1.0, "high": 1.0, "low": 1.0, "close": 1.0, "volume": 0.0}, index=index
    )
    with pytest.raises(DataError, match=r"resample them to one of 1m, .*df.attrs\['interval'\]"):
        GatewaySimulator(mode="manual", bars={"AAPL": fast})
