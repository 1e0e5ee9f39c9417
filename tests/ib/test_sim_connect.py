"""Handshake, start-up sync and connection-level requests against the simulator."""

from __future__ import annotations

import time

import pytest

from quantnb.sim import GatewaySimulator

pytestmark = [pytest.mark.ib, pytest.mark.timeout(60)]


def test_connect_syncs_fast_and_reports_the_paper_account(ib_sim, connect):
    started = time.perf_counter()
    ib = connect(ib_sim)
    elapsed = time.perf_counter() - started
    assert elapsed < 0.5
    assert ib.isConnected()
    assert ib.client.serverVersion() == 176
    assert ib.managedAccounts() == ["DU1234567"]
    assert ib_sim.account == "DU1234567"
    assert ib.positions() == []
    assert ib.openTrades() == []
    assert {v.tag for v in ib.accountValues()} >= {"NetLiquidation", "TotalCashValue"}


def test_next_valid_id_current_time_and_req_ids(ib_sim, ib):
    first = ib.client.getReqId()
    assert first >= 1
    assert ib.reqCurrentTime().timestamp() == pytest.approx(ib_sim.now.timestamp(), abs=1)
    ib.client.reqIds(1)
    ib.sleep(0.05)
    assert ib.client.getReqId() > first


def test_farm_status_notices_arrive_after_connect(ib_sim, connect, ibc):
    codes = []
    ib = ibc.IB()
    ib.errorEvent += lambda req_id, code, text, contract: codes.append(code)
    ib.connect(ib_sim.host, ib_sim.port, clientId=3, timeout=5)
    try:
        assert {2104, 2106, 2158} <= set(codes)
    finally:
        ib.disconnect()


def test_client_id_in_use_is_refused_with_326(ib_sim, connect, ibc, client_errors, wait):
    client_errors.allow(326, "already in use", "API connection failed", "Peer closed")
    first = connect(ib_sim, client_id=7)
    second = ibc.IB()
    codes = []
    second.errorEvent += lambda req_id, code, text, contract: codes.append((req_id, code))
    with pytest.raises((ConnectionError, TimeoutError)):
        second.connect(ib_sim.host, ib_sim.port, clientId=7, timeout=0.5)  # waits for its timeout
    second.disconnect()
    assert first.isConnected()
    assert codes == [(-1, 326)]
    wait(first, lambda: ib_sim.connected_clients() == [7])


def test_two_clients_connect_side_by_side(ib_sim, connect):
    a = connect(ib_sim, client_id=1)
    b = connect(ib_sim, client_id=2)
    assert a.isConnected() and b.isConnected()
    assert ib_sim.connected_clients() == [1, 2]


def test_readonly_connect_skips_order_sync(ib_sim, connect):
    ib = connect(ib_sim, readonly=True)
    assert ib.isConnected()


def test_context_manager_stops_listening(connect, client_errors):
    client_errors.allow("API connection failed", "Make sure API port")
    with GatewaySimulator(mode="manual") as sim:
        ib = connect(sim)
        assert ib.isConnected()
        ib.disconnect()
    assert repr(sim).startswith("GatewaySimulator(stopped")
    with pytest.raises(ConnectionRefusedError):
        connect(sim)


@pytest.mark.ib_sim(symbols=["IBM"], account="DU7654321")
def test_the_ib_sim_marker_configures_the_fixture(ib_sim, ib, ibc):
    assert ib.managedAccounts() == ["DU7654321"]
    assert ib.qualifyContracts(ibc.Stock("IBM", "SMART", "USD"))[0].conId > 0
