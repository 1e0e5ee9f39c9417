"""State that outlives disconnects and restarts, and the injected faults."""

from __future__ import annotations

import contextlib
import time

import pytest

from quantnb.sim import GatewaySimulator

pytestmark = [pytest.mark.ib, pytest.mark.timeout(60)]

_GONE = ("Peer closed", "Socket disconnect", "API connection failed", "Make sure API port")


def _until_disconnected(ib, wait) -> None:
    # the client aborts whatever it was running when the socket dies
    with contextlib.suppress(ConnectionError):
        wait(ib, lambda: not ib.isConnected())
    assert not ib.isConnected()


def test_fills_while_away_are_seen_after_reconnect(ib_sim, ib, aapl, ibc, wait, client_errors):
    client_errors.allow(*_GONE)
    last = ib_sim.price("AAPL")
    order = ibc.LimitOrder("BUY", 10, round(last - 1, 2))
    order.orderRef = "ref-42"
    order.tif = "GTC"
    trade = ib.placeOrder(aapl, order)
    wait(ib, lambda: trade.orderStatus.status == "Submitted")
    perm_id = trade.order.permId

    ib_sim.drop_connections()
    _until_disconnected(ib, wait)
    ib_sim.set_price("AAPL", round(last - 2, 2))  # fills while the client is away
    assert ib_sim.positions() == {"AAPL": 10}

    ib.connect(ib_sim.host, ib_sim.port, clientId=1, timeout=5)
    fills = ib.fills()
    assert [f.execution.orderRef for f in fills] == ["ref-42"]
    assert fills[0].execution.permId == perm_id
    assert fills[0].commissionReport.commission > 0
    done = [t for t in ib.trades() if t.order.permId == perm_id]
    assert done and done[0].orderStatus.status == "Filled" and done[0].order.orderRef == "ref-42"
    assert [(p.contract.symbol, p.position) for p in ib.positions()] == [("AAPL", 10)]


def test_open_orders_come_back_after_reconnect(ib_sim, ib, aapl, ibc, wait, client_errors):
    client_errors.allow(*_GONE)
    order = ibc.LimitOrder("SELL", 5, 9999.0)
    order.orderRef = "resting"
    trade = ib.placeOrder(aapl, order)
    wait(ib, lambda: trade.orderStatus.status == "Submitted")
    ib_sim.drop_connections()
    _until_disconnected(ib, wait)
    ib.connect(ib_sim.host, ib_sim.port, clientId=1, timeout=5)
    (again,) = ib.openTrades()
    assert again.order.orderRef == "resting" and again.order.orderId == trade.order.orderId
    assert again.order.permId == trade.order.permId


def test_restart_keeps_state_and_rebinds_the_port(ib_sim, ib, aapl, ibc, wait, client_errors):
    client_errors.allow(*_GONE)
    trade = ib.placeOrder(aapl, ibc.MarketOrder("BUY", 7))
    wait(ib, lambda: trade.isDone())
    port, now = ib_sim.port, ib_sim.now
    ib_sim.restart()
    _until_disconnected(ib, wait)
    assert ib_sim.port == port
    ib.connect(ib_sim.host, ib_sim.port, clientId=1, timeout=5)
    assert [(p.contract.symbol, p.position) for p in ib.positions()] == [("AAPL", 7)]
    assert len(ib.fills()) == 1
    assert ib_sim.now == now
    assert ib.client.getReqId() > trade.order.orderId


def test_stopped_gateway_refuses_and_started_again_serves(ib_sim, ib, wait, client_errors):
    client_errors.allow(*_GONE)
    ib_sim.stop()
    _until_disconnected(ib, wait)
    with pytest.raises(ConnectionRefusedError):
        ib.connect(ib_sim.host, ib_sim.port, clientId=1, timeout=2)
    ib_sim.start()
    ib.connect(ib_sim.host, ib_sim.port, clientId=1, timeout=5)
    assert ib.isConnected()


def test_market_keeps_running_while_clients_are_away(connect, ibc, wait, client_errors):
    client_errors.allow(*_GONE)
    with GatewaySimulator(speed=600) as sim:
        ib = connect(sim)
        first = sim.now
        sim.drop_connections()
        _until_disconnected(ib, wait)
        wait(ib, lambda: sim.now > first)
        ib.connect(sim.host, sim.port, clientId=1, timeout=5)
        assert ib.reqCurrentTime().timestamp() >= first.timestamp()
        ib.disconnect()


def test_pause_and_resume_send_1100_and_1102(ib_sim, ib, aapl, ibc, wait, client_errors):
    client_errors.allow(1100, 1101, 1102)
    codes = []
    ib.errorEvent += lambda req_id, code, text, contract: codes.append(code)
    ib_sim.pause()
    wait(ib, lambda: 1100 in codes)
    trade = ib.placeOrder(aapl, ibc.MarketOrder("BUY", 1))
    ib.sleep(0.1)
    assert trade.orderStatus.status == "PendingSubmit"  # the request waits
    ib_sim.resume()
    wait(ib, lambda: 1102 in codes and trade.isDone())
    ticker = ib.reqMktData(aapl)
    wait(ib, lambda: ticker.last > 0)
    ib_sim.pause()
    ib_sim.resume(data_lost=True)
    wait(ib, lambda: 1101 in codes)


def test_latency_delays_answers(ib_sim, ib):
    ib_sim.set_latency(0.2)
    started = time.perf_counter()
    ib.reqCurrentTime()
    assert time.perf_counter() - started >= 0.2
    ib_sim.set_latency(0)
    started = time.perf_counter()
    ib.reqCurrentTime()
    assert time.perf_counter() - started < 0.1


def test_save_and_load_state(ib_sim, ib, aapl, ibc, wait, tmp_path, connect):
    trade = ib.placeOrder(aapl, ibc.MarketOrder("BUY", 3))
    wait(ib, lambda: trade.isDone())
    ib_sim.save(tmp_path / "sim.state")
    with GatewaySimulator.from_state(tmp_path / "sim.state") as again:
        assert again.positions() == {"AAPL": 3}
        assert again.now == ib_sim.now
        other = connect(again, client_id=5)
        assert len(other.fills()) == 1
        other.disconnect()
