"""IBConnection against the gateway simulator over a real socket with the real client."""

from __future__ import annotations

import asyncio
import logging

import pytest

from quantnb.errors import GatewayError
from quantnb.ib import ErrorKind, IBConfig, IBConnection
from quantnb.testing import eventually

pytestmark = [pytest.mark.ib, pytest.mark.timeout(60)]

LOST = ("Peer closed", "API connection failed", "Make sure API port", "Socket disconnect")


@pytest.fixture
def make_conn(ib_sim, loop_thread):
    made: list[IBConnection] = []

    def make(client_id: int = 1, **kw) -> IBConnection:
        cfg = IBConfig(host=ib_sim.host, port=ib_sim.port, client_id=client_id, timeout=5)
        conn = IBConnection(cfg, loop_thread, backoff=(0.05, 0.2), **kw)
        made.append(conn)
        return conn

    yield make
    for conn in made:
        conn.disconnect_blocking()


def test_connect_reports_paper_account_masked_in_every_log(ib_sim, make_conn, caplog):
    caplog.set_level(logging.DEBUG)
    conn = make_conn()
    conn.connect_blocking()
    assert conn.state == "connected" and conn.is_connected()
    assert conn.account == ib_sim.account
    assert conn.masked_account == "DU***4567"
    assert conn.is_paper
    assert conn.attempts == 1
    assert "DU***4567" in caplog.text
    assert ib_sim.account not in caplog.text  # ours and the client library's records alike


def test_refused_connection_names_the_address(ib_sim, make_conn, client_errors):
    client_errors.allow(*LOST)
    conn = make_conn()
    ib_sim.stop()
    with pytest.raises(GatewayError, match=rf"{ib_sim.host}:{ib_sim.port}.*no IB gateway"):
        conn.connect_blocking()
    assert conn.state == "disconnected"


def test_client_id_in_use_says_which_and_how_to_pick_another(ib_sim, make_conn, client_errors):
    client_errors.allow(326, "already in use", *LOST)
    make_conn(client_id=5).connect_blocking()
    second = make_conn(client_id=5)
    with pytest.raises(GatewayError, match=r"client id 5 is already in use.*CLIENT_ID=6"):
        second.connect_blocking()
    assert not second.is_connected()


def test_reconnects_after_drop_and_restart_running_callbacks_in_priority_order(
    ib_sim, make_conn, client_errors
):
    client_errors.allow(*LOST)
    conn = make_conn()
    calls: list[tuple[str, bool]] = []
    lost: list[str] = []

    def listener(name: str):
        async def on_connected(reconnected: bool) -> None:
            assert conn.is_socket_connected() and not conn.is_connected()
            calls.append((name, reconnected))

        return on_connected

    conn.add_listener(on_connected=listener("feed"), priority=10)
    conn.add_listener(on_connected=listener("broker"), on_disconnected=lambda: lost.append("x"),
                      priority=0)  # fmt: skip
    conn.connect_blocking()
    assert calls == [("broker", False), ("feed", False)]

    ib_sim.drop_connections()
    eventually(lambda: len(calls) == 4 and conn.is_connected(), timeout=10)
    assert calls[2:] == [("broker", True), ("feed", True)]
    assert lost == ["x"]

    ib_sim.restart()
    eventually(lambda: len(calls) == 6 and conn.is_connected(), timeout=10)
    assert conn.reconnects == 2 and conn.state == "connected"


def test_reconnect_refuses_a_gateway_logged_in_to_another_account(ib_sim, make_conn, client_errors):
    client_errors.allow(*LOST)
    conn = make_conn()
    errors = []
    conn.add_listener(on_error=errors.append)
    conn.connect_blocking()

    ib_sim.switch_account("U7654321")  # back, but logged in to a live account
    refused = lambda: [e for e in errors if "logged in to account U***4321" in e.message]  # noqa: E731
    eventually(refused, timeout=10)
    assert conn.loop_thread.run(asyncio.sleep(0.3, result=True))
    assert not conn.is_connected() and conn.account == "DU1234567" and conn.is_paper
    assert len(refused()) == 1 and refused()[0].kind == ErrorKind.ACCOUNT  # reported once

    ib_sim.switch_account("DU1234567")
    eventually(conn.is_connected, timeout=10)
    assert conn.account == "DU1234567"


def test_no_reconnect_after_disconnect(ib_sim, make_conn, client_errors):
    client_errors.allow(*LOST)
    conn = make_conn()
    conn.connect_blocking()
    conn.disconnect_blocking()
    assert conn.state == "stopped" and not conn.is_connected()
    ib_sim.drop_connections()
    assert conn.loop_thread.run(asyncio.sleep(0.3, result=True))
    assert conn.state == "stopped" and ib_sim.connected_clients() == []


def test_reconnect_disabled_leaves_it_disconnected(ib_sim, make_conn, client_errors):
    client_errors.allow(*LOST)
    conn = make_conn(enable_reconnect=False)
    conn.connect_blocking()
    ib_sim.drop_connections()
    eventually(lambda: conn.state == "disconnected", timeout=5)
    assert not conn.is_connected()
    conn.connect_blocking()
    assert conn.is_connected()


def test_errors_are_classified_and_routed(ib_sim, make_conn, client_errors):
    client_errors.allow(1100, 1102)
    conn = make_conn()
    seen = []
    conn.add_listener(on_error=seen.append)
    conn.connect_blocking()
    assert any(e.kind is ErrorKind.INFO and e.code == 2104 for e in seen)
    ib_sim.pause()
    eventually(lambda: any(e.code == 1100 for e in seen))
    assert next(e for e in seen if e.code == 1100).kind is ErrorKind.CONNECTIVITY
    ib_sim.resume()
    eventually(lambda: any(e.code == 1102 for e in seen))
