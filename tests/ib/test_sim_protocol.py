"""The protocol layer: older server versions, unreadable requests and half-open connections,
through real clients and raw sockets over loopback."""

from __future__ import annotations

import logging
import math
import socket
import time

import pytest

from quantnb.sim.wire import API_PREFIX, FrameReader, frame

pytestmark = [pytest.mark.ib, pytest.mark.timeout(60)]


class RawClient:
    """A bare socket speaking the wire protocol: for what no real client would send."""

    def __init__(self, sim, versions: str | None = "v157..176", client_id: int | None = 9):
        self.sock = socket.create_connection((sim.host, sim.port), timeout=5)
        self.reader = FrameReader(expect_prefix=False)
        self.frames: list[list[str]] = []
        if versions is not None:
            self.sock.sendall(API_PREFIX + frame([versions]))
            self.handshake = self.next_frame()
        if client_id is not None:
            self.sock.sendall(frame([71, 2, client_id, ""]))
            while not any(f[0] == "9" for f in self.frames):
                self.next_frame()

    def next_frame(self) -> list[str]:
        while not self.frames:
            data = self.sock.recv(65536)
            if not data:
                raise EOFError
            self.frames += self.reader.feed(data)
        return self.frames.pop(0)

    def read_until_closed(self, timeout: float = 5.0) -> list[list[str]]:
        """Every frame until the simulator closes the connection (fails after ``timeout``)."""
        self.sock.settimeout(timeout)
        got = list(self.frames)
        self.frames.clear()
        while True:
            try:
                data = self.sock.recv(65536)
            except ConnectionResetError:
                return got
            if not data:
                return got
            got += self.reader.feed(data)

    def close(self) -> None:
        self.sock.close()


def _errors(frames: list[list[str]]) -> list[tuple[int, int]]:
    return [(int(f[2]), int(f[3])) for f in frames if f[0] == "4" and f[3] not in _NOTICES]


_NOTICES = ("2104", "2106", "2158")


# --- older server versions ----------------------------------------------------------------------


@pytest.mark.parametrize("version", [157, 163, 166])
def test_a_client_at_an_older_version_reads_every_answer(
    ib_sim, ibc, ib_loop, client_errors, wait, version
):
    client_errors.allow(200)
    ib = ibc.IB()
    ib.client.MaxClientVersion = version  # the client offers v157..version
    errors = []
    ib.errorEvent += lambda req_id, code, text, contract: errors.append(code)
    ib.connect(ib_sim.host, ib_sim.port, clientId=1, timeout=5)
    try:
        assert ib.client.serverVersion() == version
        assert {2104, 2106, 2158} <= set(errors)  # errors arrive: 5 fields before 166
        (aapl,) = ib.qualifyContracts(ibc.Stock("AAPL", "SMART", "USD"))
        assert aapl.conId == 265598 and aapl.primaryExchange == "NASDAQ"
        details = ib.reqContractDetails(ibc.Stock("NOPE", "SMART", "USD"))
        assert details == [] and 200 in errors
        bars = ib.reqHistoricalData(aapl, "", "2 D", "1 hour", "TRADES", True)
        assert len(bars) >= 7 and all(b.volume > 0 for b in bars)
        ticker = ib.reqMktData(aapl)
        ib_sim.step()
        wait(ib, lambda: ticker.last == pytest.approx(ib_sim.price("AAPL")))
        trade = ib.placeOrder(aapl, ibc.MarketOrder("BUY", 10))
        wait(ib, lambda: trade.isDone() and trade.fills)
        assert trade.orderStatus.status == "Filled" and trade.order.permId > 0
        fills = ib.reqExecutions()
        assert [f.execution.shares for f in fills] == [10]
        assert [t.order.totalQuantity for t in ib.reqCompletedOrders(apiOnly=True)] == [10]
        assert ib.reqMatchingSymbols("AAP")[0].contract.symbol == "AAPL"
    finally:
        ib.disconnect()


def test_a_client_below_157_is_refused_with_506(ib_sim, caplog):
    raw = RawClient(ib_sim, versions="v100..150", client_id=None)
    try:
        assert raw.handshake[0] == "150"
        raw.sock.sendall(frame([71, 2, 9, ""]))
        frames = raw.read_until_closed()
    finally:
        raw.close()
    assert frames == [["4", "2", "-1", "506", "Unsupported version"]]
    assert "refusing a client that speaks API versions 100..150" in caplog.text


# --- unreadable requests ----------------------------------------------------------------------


def test_an_order_with_an_unreadable_quantity_gets_error_320(
    ib_sim, ib, aapl, ibc, client_errors, wait, caplog
):
    client_errors.allow(320)
    caplog.set_level(logging.WARNING, logger="quantnb.sim")
    errors = []
    ib.errorEvent += lambda req_id, code, text, contract: errors.append((req_id, code, text))
    trade = ib.placeOrder(aapl, ibc.MarketOrder("BUY", math.inf))  # sent as 'Infinite'
    wait(ib, lambda: errors)
    ((req_id, code, text),) = errors
    assert (req_id, code) == (trade.order.orderId, 320)
    assert text.startswith("Error reading request. Message id 3.") and "Infinite" in text
    wait(ib, lambda: trade.isDone())
    assert ib_sim.positions() == {}
    assert not any(r.exc_info for r in caplog.records)  # one line, no traceback
    good = ib.placeOrder(aapl, ibc.MarketOrder("BUY", 5))
    wait(ib, lambda: good.orderStatus.status == "Filled")


def test_a_flood_of_empty_frames_closes_that_connection_only(ib_sim, ib, wait, caplog):
    caplog.set_level(logging.DEBUG, logger="quantnb.sim")
    raw = RawClient(ib_sim)
    try:
        raw.sock.sendall(b"\0\0\0\0" * 5000)
        frames = raw.read_until_closed()
    finally:
        raw.close()
    assert _errors(frames) == [(-1, 320)] * 9  # answered, then closed on the tenth
    warnings = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(warnings) == 2 and not any(r.exc_info for r in caplog.records)
    assert "after 10 unreadable requests" in warnings[-1].getMessage()
    assert ib.isConnected() and ib.reqCurrentTime()  # the other client never noticed
    wait(ib, lambda: ib_sim.connected_clients() == [1])


def test_unreadable_requests_between_good_ones_each_get_an_answer(ib_sim):
    raw = RawClient(ib_sim)
    try:
        for _ in range(15):  # more than the limit in all, never ten in a row
            raw.sock.sendall(frame(["abc"]) + frame([7, 3, "x", 1, "", "", "", "", "", ""]))
            raw.sock.sendall(frame([49, 1]))
        raw.sock.settimeout(5)
        seen = []
        while sum(f[0] == "49" for f in seen) < 15:
            seen.append(raw.next_frame())
    finally:
        raw.close()
    assert _errors(seen) == [(-1, 320), (-1, 320)] * 15  # reqExecutions' id 'x' is unreadable


@pytest.mark.parametrize(
    "garbage",
    [b"GET / HTTP/1.1\r\n\r\n", API_PREFIX + frame(["hello"]), API_PREFIX + frame(["v157..176"])
     + frame([71, 2, "one", ""])],
    ids=["not-the-api", "bad-version-range", "bad-client-id"],
)  # fmt: skip
def test_garbage_in_the_handshake_closes_the_connection(ib_sim, ib, garbage, caplog):
    raw = RawClient(ib_sim, versions=None, client_id=None)
    try:
        raw.sock.sendall(garbage)
        frames = raw.read_until_closed()
    finally:
        raw.close()
    assert all(len(f) == 2 for f in frames)  # at most the handshake reply
    assert "closing a connection that broke the protocol" in caplog.text
    assert not any(r.exc_info for r in caplog.records)
    assert ib.isConnected() and ib.reqCurrentTime()


# --- half-open connections ----------------------------------------------------------------------


@pytest.mark.ib_sim(handshake_timeout=0.3)
def test_half_open_connections_are_closed_after_the_handshake_timeout(ib_sim, ib, caplog):
    silent = RawClient(ib_sim, versions=None, client_id=None)  # connects, says nothing
    halfway = RawClient(ib_sim, client_id=None)  # handshake, never startApi
    started = time.monotonic()
    try:
        assert silent.read_until_closed() == []
        assert halfway.read_until_closed() == []
    finally:
        silent.close()
        halfway.close()
    assert 0.25 < time.monotonic() - started < 3
    assert caplog.text.count("no API handshake within 0.3 s") == 2
    ib.sleep(0.4)  # past the timeout: a connected client stays connected
    assert ib.isConnected() and ib.reqCurrentTime()


def test_an_order_for_nan_shares_is_rejected_with_201(ib_sim, ib, aapl, ibc, client_errors, wait):
    client_errors.allow(201)
    errors = []
    ib.errorEvent += lambda req_id, code, text, contract: errors.append((req_id, code, text))
    trade = ib.placeOrder(aapl, ibc.MarketOrder("BUY", math.nan))  # readable, but not a quantity
    wait(ib, lambda: errors)
    ((req_id, code, text),) = errors
    assert (req_id, code) == (trade.order.orderId, 201)
    assert "nan" in text and "finite" in text
    assert ib_sim.positions() == {}
