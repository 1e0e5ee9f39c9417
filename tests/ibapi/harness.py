"""A small harness around IB's own client, ``ibapi`` 9.81: a wrapper that records callbacks and
a client whose reader runs on a thread, with waits that time out."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from ibapi.client import EClient
from ibapi.contract import Contract
from ibapi.wrapper import EWrapper

_CALLBACKS = frozenset(n for n in dir(EWrapper) if not n.startswith("_") and n != "logAnswer")


class Recorder(EWrapper):
    """Every callback ibapi makes, as ``(name, args)`` in arrival order."""

    def __init__(self) -> None:
        super().__init__()
        self.events: list[tuple[str, tuple]] = []
        self.changed = threading.Condition()

    def __getattribute__(self, name: str) -> Any:
        if name in _CALLBACKS:
            return lambda *args: object.__getattribute__(self, "_record")(name, args)
        return object.__getattribute__(self, name)

    def _record(self, name: str, args: tuple) -> None:
        with self.changed:
            self.events.append((name, args))
            self.changed.notify_all()


class IbapiClient:
    """An ``EClient`` connected to the simulator, its reader running on a thread."""

    def __init__(self, host: str, port: int, client_id: int) -> None:
        self.wrapper = Recorder()
        self.client = EClient(self.wrapper)
        self.failure: BaseException | None = None
        self.client.connect(host, port, client_id)
        self.thread = threading.Thread(target=self._run, name="ibapi-reader", daemon=True)
        self.thread.start()
        self.next_id = self.wait_for("nextValidId")[0]

    def _run(self) -> None:
        try:
            self.client.run()
        except BaseException as exc:  # the reader thread dies: the test must fail
            self.failure = exc

    def mark(self) -> int:
        """The number of callbacks so far: wait for later ones with ``since=mark()``."""
        return len(self.wrapper.events)

    def wait_for(
        self,
        name: str,
        where: Callable[..., bool] = lambda *args: True,
        since: int = 0,
        timeout: float = 5.0,
    ) -> tuple:
        """The args of the first ``name`` callback from ``since`` on that ``where`` accepts."""
        deadline = time.monotonic() + timeout
        with self.wrapper.changed:
            while True:
                for event, args in self.wrapper.events[since:]:
                    if event == name and where(*args):
                        return args
                left = deadline - time.monotonic()
                if left <= 0 or self.failure is not None:
                    seen = [e for e, _ in self.wrapper.events[since:]][-20:]
                    raise AssertionError(f"no {name} callback in {timeout} s; last: {seen}")
                self.wrapper.changed.wait(min(left, 0.05))

    def all(self, name: str, since: int = 0) -> list[tuple]:
        return [args for event, args in self.wrapper.events[since:] if event == name]

    def take_id(self) -> int:
        self.next_id += 1
        return self.next_id - 1

    def disconnect(self) -> None:
        self.client.disconnect()
        self.thread.join(2)


def stock(symbol: str = "AAPL") -> Contract:
    c = Contract()
    c.symbol, c.secType, c.exchange, c.currency = symbol, "STK", "SMART", "USD"
    return c
