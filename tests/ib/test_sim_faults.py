"""The simulator's injected faults, as a real client sees them: stale streams, market-data farm
flaps, the nightly restart window, another account after a restart, and missing market-data
permissions."""

from __future__ import annotations

import contextlib
import math

import pandas as pd
import pytest

from quantnb.ib.config import is_paper_account
from quantnb.sim import GatewaySimulator
from quantnb.testing import eventually

pytestmark = [pytest.mark.ib, pytest.mark.timeout(60)]

_GONE = ("Peer closed", "Socket disconnect", "API connection failed", "Make sure API port")


def _until_disconnected(ib, wait) -> None:
    with contextlib.suppress(ConnectionError):  # the client aborts what it was running
        wait(ib, lambda: not ib.isConnected())
    assert not ib.isConnected()


def _codes(ib) -> list[tuple[int, str]]:
    seen: list[tuple[int, str]] = []
    ib.errorEvent += lambda req_id, code, text, contract: seen.append((code, text))
    return seen


def _bar(b) -> tuple:
    return (b.open, b.high, b.low, b.close, b.volume)


# --- stale streams ------------------------------------------------------------------------------


def test_stalled_stream_goes_quiet_and_comes_back_whole(ib_sim, ib, ibc, wait):
    aapl, msft = ib.qualifyContracts(ibc.Stock("AAPL", "SMART", "USD"), ibc.Stock("MSFT", "SMART"))
    a_ticker, m_ticker = ib.reqMktData(aapl), ib.reqMktData(msft)
    rt_bars = ib.reqRealTimeBars(aapl, 5, "TRADES", False)
    live_bars = ib.reqHistoricalData(aapl, "", "1800 S", "5 mins", "TRADES", True, 1, True)
    wait(ib, lambda: a_ticker.last == ib_sim.price("AAPL"))
    stale, seen_bars = a_ticker.last, [_bar(b) for b in live_bars]
    heard: list[float] = []
    a_ticker.updateEvent += lambda t: heard.append(t.last)

    ib_sim.stall_stream("AAPL")
    ib_sim.step(2)
    ib.reqCurrentTime()  # a round trip: whatever was sent before it has arrived
    assert heard == [] and len(rt_bars) == 0 and a_ticker.last == stale
    assert [_bar(b) for b in live_bars] == seen_bars
    assert m_ticker.last == ib_sim.price("MSFT")  # other symbols flow
    assert ib_sim.price("AAPL") != stale  # the market moved on

    ib_sim.restore_stream()
    ib_sim.step()
    wait(ib, lambda: a_ticker.last == ib_sim.price("AAPL") and len(rt_bars) == 12)
    # the 5-minute bar in progress holds the minutes nobody heard, as IB's would
    fresh = ib.reqHistoricalData(aapl, "", "1800 S", "5 mins", "TRADES", True)
    (same,) = [b for b in live_bars if b.date == fresh[-1].date]
    assert _bar(same) == _bar(fresh[-1])


def test_orders_fill_while_the_stream_is_stale(ib_sim, ib, aapl, ibc, wait):
    ticker = ib.reqMktData(aapl)
    wait(ib, lambda: ticker.last == ib_sim.price("AAPL"))
    price = ticker.last
    trade = ib.placeOrder(aapl, ibc.LimitOrder("BUY", 10, round(price - 1, 2)))
    wait(ib, lambda: trade.orderStatus.status == "Submitted")
    ib_sim.stall_stream()
    ib_sim.set_price("AAPL", round(price - 2, 2))
    wait(ib, lambda: trade.orderStatus.status == "Filled")
    assert trade.fills[0].execution.price <= round(price - 1, 2)
    assert ticker.last == price  # the client never heard the price that filled it
    assert ib_sim.positions() == {"AAPL": 10}


# --- market-data farm ---------------------------------------------------------------------------


def test_farm_flap_sends_2103_then_2104_and_keeps_subscriptions(ib_sim, ib, aapl, ibc, wait):
    codes = _codes(ib)
    ticker = ib.reqMktData(aapl)
    rt_bars = ib.reqRealTimeBars(aapl, 5, "TRADES", False)
    wait(ib, lambda: ticker.last == ib_sim.price("AAPL"))
    stale = ticker.last

    ib_sim.farm_flap()
    wait(ib, lambda: (2103, "Market data farm connection is broken:usfarm") in codes)
    ib_sim.step()
    ib.reqCurrentTime()
    assert ticker.last == stale and len(rt_bars) == 0

    late = ibc.IB()  # a client connecting meanwhile is told the farm is broken
    late_codes = _codes(late)
    late.connect(ib_sim.host, ib_sim.port, clientId=2, timeout=5)
    try:
        assert 2103 in [c for c, _ in late_codes] and 2104 not in [c for c, _ in late_codes]
    finally:
        late.disconnect()

    ib_sim.farm_restore()
    wait(ib, lambda: (2104, "Market data farm connection is OK:usfarm") in codes)
    ib_sim.step()
    wait(ib, lambda: ticker.last == ib_sim.price("AAPL") and len(rt_bars) == 12)


def test_farm_flap_heals_after_down_for(ib_sim, ib, wait):
    codes = _codes(ib)
    ib_sim.farm_flap(down_for=0.2)
    wait(ib, lambda: [c for c, _ in codes][-2:] == [2103, 2104])


# --- the nightly restart ------------------------------------------------------------------------


def test_nightly_restart_refuses_connections_while_orders_work(
    ib_sim, ib, aapl, ibc, wait, client_errors
):
    client_errors.allow(1100, *_GONE)
    codes = _codes(ib)
    price = ib_sim.price("AAPL")
    order = ibc.LimitOrder("BUY", 5, round(price - 1, 2), tif="GTC", orderRef="overnight")
    trade = ib.placeOrder(aapl, order)
    wait(ib, lambda: trade.orderStatus.status == "Submitted")

    ib_sim.nightly_restart()
    _until_disconnected(ib, wait)
    assert 1100 in [c for c, _ in codes]
    with pytest.raises(ConnectionRefusedError):
        ib.connect(ib_sim.host, ib_sim.port, clientId=1, timeout=2)
    ib_sim.set_price("AAPL", round(price - 2, 2))  # IB's market goes on without the gateway
    ib_sim.step()
    assert ib_sim.positions() == {"AAPL": 5}

    ib_sim.end_restart()
    ib.connect(ib_sim.host, ib_sim.port, clientId=1, timeout=5)
    assert [f.execution.orderRef for f in ib.fills()] == ["overnight"]
    assert [(p.contract.symbol, p.position) for p in ib.positions()] == [("AAPL", 5)]


def test_nightly_restart_with_relogin_waits_for_login(ib_sim, ib, wait, client_errors):
    client_errors.allow(1100, *_GONE)
    ib_sim.nightly_restart(relogin=True)
    _until_disconnected(ib, wait)
    ib_sim.end_restart()  # the window is over, but the gateway sits at its login screen
    with pytest.raises(ConnectionRefusedError):
        ib.connect(ib_sim.host, ib_sim.port, clientId=1, timeout=2)
    ib_sim.login()
    ib.connect(ib_sim.host, ib_sim.port, clientId=1, timeout=5)
    assert ib.managedAccounts() == ["DU1234567"]


def test_nightly_restart_ends_after_down_for(ib_sim, ib, wait, client_errors):
    client_errors.allow(1100, *_GONE)
    ib_sim.nightly_restart(down_for=0.3)
    _until_disconnected(ib, wait)

    def back() -> bool:
        try:
            ib.connect(ib_sim.host, ib_sim.port, clientId=1, timeout=2)
        except ConnectionRefusedError:
            return False
        return True

    eventually(back, timeout=10, interval=0.05)
    assert ib.isConnected()


# --- another account ----------------------------------------------------------------------------


def test_gateway_comes_back_logged_in_to_a_live_account(ib_sim, ib, aapl, ibc, wait, client_errors):
    client_errors.allow(*_GONE)
    bought = ib.placeOrder(aapl, ibc.MarketOrder("BUY", 7))
    resting = ib.placeOrder(aapl, ibc.LimitOrder("SELL", 1, 9999.0, tif="GTC"))
    wait(ib, lambda: bought.isDone() and resting.orderStatus.status == "Submitted")

    ib_sim.switch_account("U7654321")
    _until_disconnected(ib, wait)
    assert ib_sim.account == "U7654321"
    ib.connect(ib_sim.host, ib_sim.port, clientId=1, timeout=5)
    assert ib.managedAccounts() == ["U7654321"] and not is_paper_account("U7654321")
    assert ib.positions() == [] and ib.fills() == [] and ib.openTrades() == []
    values = {v.tag: v.value for v in ib.accountValues()}
    assert float(values["NetLiquidation"]) == 100_000.0 and values["AccountCode"] == "U7654321"
    other = ib.placeOrder(aapl, ibc.MarketOrder("BUY", 2))
    wait(ib, lambda: other.isDone())
    assert other.fills[0].execution.acctNumber == "U7654321"

    ib_sim.switch_account("DU1234567")
    _until_disconnected(ib, wait)
    ib.connect(ib_sim.host, ib_sim.port, clientId=1, timeout=5)
    assert ib.managedAccounts() == ["DU1234567"]
    assert [(p.contract.symbol, p.position) for p in ib.positions()] == [("AAPL", 7)]
    assert len(ib.fills()) == 1 and [t.order.permId for t in ib.openTrades()] == [
        resting.order.permId
    ]


def test_restart_as_another_account_keeps_the_market(ib_sim, ib, wait, client_errors):
    client_errors.allow(*_GONE)
    now = ib_sim.now
    ib_sim.restart(account="DU7654321")
    _until_disconnected(ib, wait)
    ib.connect(ib_sim.host, ib_sim.port, clientId=1, timeout=5)
    assert ib.managedAccounts() == ["DU7654321"] and ib_sim.account == "DU7654321"
    assert ib_sim.now == now


def test_relogin_to_another_account(ib_sim, ib, wait, client_errors):
    client_errors.allow(1100, *_GONE)
    ib_sim.nightly_restart(relogin=True)
    _until_disconnected(ib, wait)
    ib_sim.login("U1111111")
    ib.connect(ib_sim.host, ib_sim.port, clientId=1, timeout=5)
    assert ib.managedAccounts() == ["U1111111"]


# --- market-data permissions --------------------------------------------------------------------


@pytest.mark.ib_sim(market_data="delayed")
def test_without_live_permission_delayed_data_needs_type_3(ib_sim, ib, aapl, wait, client_errors):
    client_errors.allow(354)
    codes = _codes(ib)
    ticker = ib.reqMktData(aapl)
    wait(ib, lambda: 354 in [c for c, _ in codes])
    assert codes[-1][1].startswith("Requested market data is not subscribed.")
    ib_sim.step()
    ib.reqCurrentTime()
    assert math.isnan(ticker.last)  # nothing but the error
    ib.cancelMktData(aapl)
    (snap,) = ib.reqTickers(aapl)  # a snapshot ends with the error too
    assert math.isnan(snap.last)

    def fifteen_minutes_ago() -> float:  # the close of the last bar over by then
        ib_sim.set_market_data()  # history needs a live subscription: granted for this request
        bars = ib.reqHistoricalData(aapl, "", "7200 S", "1 min", "TRADES", False)
        ib_sim.set_market_data(live=False)
        cutoff = ib_sim.now - pd.Timedelta(minutes=16)
        return [b.close for b in bars if b.date <= cutoff][-1]

    ib.reqMarketDataType(3)
    ticker = ib.reqMktData(aapl)
    then = fifteen_minutes_ago()
    wait(ib, lambda: ticker.last == then)
    assert ticker.marketDataType == 3 and ticker.bid < then < ticker.ask
    assert then != ib_sim.price("AAPL")
    assert (10167, "Requested market data is not subscribed. Displaying delayed market data.") in (
        codes
    )  # IB's notice; the clients treat it as a warning
    ib_sim.step()
    then = fifteen_minutes_ago()
    wait(ib, lambda: ticker.last == then)
    assert {t.tickType for t in ticker.ticks} <= {66, 67, 68, 69, 70, 71, 72, 73, 74, 75, 76}


@pytest.mark.ib_sim(market_data="none")
def test_without_any_permission_354_and_10168(ib_sim, ib, aapl, wait, client_errors):
    client_errors.allow(354, 10168)
    codes = _codes(ib)
    ticker = ib.reqMktData(aapl)
    wait(ib, lambda: [c for c, _ in codes] == [354])
    assert codes[0][1] == "Requested market data is not subscribed."
    ib.cancelMktData(aapl)
    ib.reqMarketDataType(3)
    ticker = ib.reqMktData(aapl)
    wait(ib, lambda: [c for c, _ in codes] == [354, 10168])
    ib_sim.step()
    ib.reqCurrentTime()
    assert math.isnan(ticker.last)


@pytest.mark.parametrize("permission", ["delayed", "none"])
def test_without_live_permission_no_history_and_no_bars(
    ib_sim, ib, aapl, wait, client_errors, permission
):
    """IB serves history (keep-up-to-date included) and 5-second bars only with a live
    subscription: 162 and 420 with IB's words, and nothing more for those requests."""
    client_errors.allow(162, 420)
    codes = _codes(ib)
    ib_sim.set_market_data(live=False, delayed=permission == "delayed")
    denied = "No market data permissions for NASDAQ STK"
    bars = ib.reqHistoricalData(aapl, "", "1 D", "1 min", "TRADES", True)
    assert len(bars) == 0
    assert codes == [(162, "Historical Market Data Service error message:" + denied)]
    live = ib.reqHistoricalData(aapl, "", "3600 S", "1 min", "TRADES", True, keepUpToDate=True)
    wait(ib, lambda: len(codes) == 2)
    assert codes[1][0] == 162 and len(live) == 0
    rt = ib.reqRealTimeBars(aapl, 5, "TRADES", False)
    wait(ib, lambda: len(codes) == 3)
    assert codes[2] == (420, "Invalid Real-time Query:" + denied)
    ib_sim.step(2)
    ib.reqCurrentTime()
    assert len(live) == 0 and len(rt) == 0
    ib.cancelHistoricalData(live)
    ib.cancelRealTimeBars(rt)
    ib_sim.set_market_data()  # live again: history for new requests
    assert len(ib.reqHistoricalData(aapl, "", "3600 S", "1 min", "TRADES", True)) > 0


def test_permissions_change_for_new_requests(ib_sim, ib, ibc, wait, client_errors):
    client_errors.allow(354, 10168)
    codes = _codes(ib)
    aapl, msft, spy = ib.qualifyContracts(
        ibc.Stock("AAPL", "SMART", "USD"), ibc.Stock("MSFT", "SMART"), ibc.Stock("SPY", "SMART")
    )
    ib_sim.set_market_data(live=False)
    ib.reqMktData(aapl)
    wait(ib, lambda: [c for c, _ in codes] == [354])
    ib_sim.set_market_data(live=False, delayed=False)
    ib.reqMarketDataType(3)
    ib.reqMktData(msft)
    wait(ib, lambda: [c for c, _ in codes] == [354, 10168])
    ib_sim.set_market_data()
    ticker = ib.reqMktData(spy)
    wait(ib, lambda: ticker.last == ib_sim.price("SPY"))
    assert ticker.marketDataType == 1


# --- the same faults in a child process ---------------------------------------------------------


def test_faults_reach_a_subprocess_simulator(connect, ibc, wait, client_errors):
    client_errors.allow(1100, 354, *_GONE)
    with GatewaySimulator(subprocess=True, mode="manual", symbols=["AAPL"]) as sim:
        ib = connect(sim)
        codes = _codes(ib)
        (aapl,) = ib.qualifyContracts(ibc.Stock("AAPL", "SMART", "USD"))
        ticker = ib.reqMktData(aapl)
        wait(ib, lambda: ticker.last == sim.price("AAPL"))
        stale = ticker.last
        sim.stall_stream(["AAPL"])
        sim.step()
        ib.reqCurrentTime()
        assert ticker.last == stale
        sim.restore_stream()
        sim.farm_flap()
        sim.farm_restore()
        wait(ib, lambda: [c for c, _ in codes][-2:] == [2103, 2104])
        sim.set_market_data(live=False)
        ib.cancelMktData(aapl)
        ib.reqMktData(aapl)
        wait(ib, lambda: 354 in [c for c, _ in codes])
        sim.set_market_data()

        sim.nightly_restart()
        _until_disconnected(ib, wait)
        with pytest.raises(ConnectionRefusedError):
            ib.connect(sim.host, sim.port, clientId=1, timeout=2)
        sim.end_restart()
        sim.switch_account("U7654321")
        ib.connect(sim.host, sim.port, clientId=1, timeout=5)
        assert ib.managedAccounts() == ["U7654321"]

        sim.restart(account="DU1234567")
        _until_disconnected(ib, wait)
        ib.connect(sim.host, sim.port, clientId=1, timeout=5)
        assert ib.managedAccounts() == ["DU1234567"] and sim.account == "DU1234567"
        ib.disconnect()
