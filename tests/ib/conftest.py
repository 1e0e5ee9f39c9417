"""Fixtures for tests that drive the gateway simulator with a real IB client over loopback.

The client comes through one shim (the ``ibc`` fixture): ib_async when installed, else
ib_insync, so the same tests run in both environments. Any ERROR the client logs fails the test
unless the test allowed it: a message the client cannot decode is only logged, never raised.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import re
from collections.abc import Callable, Iterator
from types import ModuleType

import pytest

try:
    import ib_async as _client

    CLIENT = "ib_async"
except ImportError:  # the ib_insync environment
    try:
        import ib_insync as _client  # type: ignore[no-redef]

        CLIENT = "ib_insync"
    except ImportError:
        pytest.skip("needs ib_async or ib_insync", allow_module_level=True)

# the plugin's fixture and marker, also where quantnb is not installed as a plugin
from quantnb.testing import eventually, ib_sim, pytest_configure  # noqa: F401


class ClientErrors(logging.Handler):
    """Collects ERROR records of the IB client; ``allow`` marks the ones a test expects."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[logging.LogRecord] = []
        self.allowed: list[re.Pattern[str]] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)

    def allow(self, *what: int | str) -> None:
        """Allow IB error codes (``202``) or message patterns (``"Peer closed"``)."""
        for item in what:
            text = rf"Error {item}\b" if isinstance(item, int) else item
            self.allowed.append(re.compile(text))

    def messages(self) -> list[str]:
        return [r.getMessage() for r in self.records]

    def unexpected(self) -> list[str]:
        out = []
        for record in self.records:
            text = record.getMessage()
            if record.exc_info or not any(p.search(text) for p in self.allowed):
                out.append(f"{record.name}: {text}")
        return out


@pytest.fixture(autouse=True)
def client_errors() -> Iterator[ClientErrors]:
    """Fails the test on any ERROR logged by the IB client that the test did not allow."""
    handler = ClientErrors()
    logger = logging.getLogger(CLIENT)
    logger.addHandler(handler)
    try:
        yield handler
    finally:
        logger.removeHandler(handler)
    bad = handler.unexpected()
    if bad:
        pytest.fail("the IB client logged errors:\n" + "\n".join(bad), pytrace=False)


@pytest.fixture(autouse=True)
def no_engine_left_running() -> Iterator[None]:
    """Stops the live engines a test leaves running (a failed assertion skips its stop()), so
    their reconnect attempts never log errors into the tests after it."""
    yield
    from quantnb.trading.engine import stop_all

    stop_all()


@pytest.fixture
def engines() -> Iterator[list]:
    """Live engines a test makes (append them), stopped before its simulator."""
    made: list = []
    yield made
    for eng in made:
        eng.stop()


@pytest.fixture
def ibc() -> ModuleType:
    """The IB client package under test (ib_async or ib_insync)."""
    return _client


@pytest.fixture
def ib_loop() -> Iterator[asyncio.AbstractEventLoop]:
    """A fresh current event loop for the synchronous client API, closed afterwards."""
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    try:
        yield loop
    finally:
        # clients dropped by the test close their transports now, while the loop is open
        gc.collect()
        loop.run_until_complete(asyncio.sleep(0))
        loop.close()
        asyncio.set_event_loop(None)


@pytest.fixture
def connect(ib_loop: asyncio.AbstractEventLoop) -> Iterator[Callable[..., object]]:
    """``connect(sim, client_id=1)`` → a connected ``IB``; all are disconnected afterwards."""
    made: list[object] = []

    def _connect(sim, client_id: int = 1, **kwargs) -> object:
        ib = _client.IB()
        made.append(ib)
        kwargs.setdefault("timeout", 5)
        ib.connect(sim.host, sim.port, clientId=client_id, **kwargs)
        return ib

    yield _connect
    for ib in made:
        ib.disconnect()


@pytest.fixture
def wait() -> Callable[..., object]:
    """``wait(ib, condition, timeout=5)``: run the client's loop until ``condition()`` holds."""

    def _wait(ib, condition: Callable[[], object], timeout: float = 5.0) -> object:
        return eventually(condition, timeout=timeout, interval=0.005, sleep=ib.sleep)

    return _wait


@pytest.fixture
def ib(ib_sim, connect) -> object:  # noqa: F811
    """A client connected to ``ib_sim`` (manual clock) as client 1."""
    return connect(ib_sim)


@pytest.fixture
def aapl(ib) -> object:
    """AAPL, qualified."""
    (contract,) = ib.qualifyContracts(_client.Stock("AAPL", "SMART", "USD"))
    return contract


@pytest.fixture
def loop_thread():
    """A running LoopThread (the thread and event loop the IB adapters live on)."""
    from quantnb.ib.loop import LoopThread

    lt = LoopThread().start()
    yield lt
    lt.stop()


class OrderLog(list):
    """The order messages a client decodes, in arrival order: ("open", orderId, status),
    ("status", orderId, status, filled), ("exec", orderId, shares), ("commission", execId)."""

    def kinds(self, order_id: int | None = None) -> list[str]:
        """Kinds of the messages (of one order, if given; commissions count for every order)."""
        return [
            m[0] if m[0] != "status" else f"status:{m[2]}"
            for m in self
            if order_id is None or m[0] == "commission" or m[1] == order_id
        ]


@pytest.fixture
def order_log() -> Callable[[object], OrderLog]:
    """``order_log(ib)``: records the openOrder, orderStatus, execDetails and commissionReport
    messages ``ib`` receives from now on, at the client's wrapper (before any Trade logic)."""

    def _record(ib) -> OrderLog:
        log = OrderLog()
        wrapper = ib.wrapper
        open_order, order_status = wrapper.openOrder, wrapper.orderStatus
        exec_details, commission = wrapper.execDetails, wrapper.commissionReport

        def on_open(order_id, contract, order, state):
            log.append(("open", order_id, state.status))
            open_order(order_id, contract, order, state)

        def on_status(order_id, status, filled, *args, **kwargs):
            log.append(("status", order_id, status, float(filled)))
            order_status(order_id, status, filled, *args, **kwargs)

        def on_exec(req_id, contract, execution):
            log.append(("exec", execution.orderId, float(execution.shares)))
            exec_details(req_id, contract, execution)

        def on_commission(report):
            log.append(("commission", report.execId))
            commission(report)

        wrapper.openOrder, wrapper.orderStatus = on_open, on_status
        wrapper.execDetails, wrapper.commissionReport = on_exec, on_commission
        return log

    return _record
