"""Fixtures for tests that drive the gateway simulator with IB's own client, ``ibapi`` 9.81.

ibapi reads the socket on a thread of its own (``EClient.run``) and reports through ``EWrapper``
callbacks; ``IbapiClient`` collects every callback in order and lets a test wait for one. A test
fails on any ``error()`` code it did not expect, on any ERROR the ``ibapi`` loggers write (its
decoder logs and drops what it cannot read) and on any exception in the reader thread.
"""

from __future__ import annotations

import importlib.util
import logging
from collections.abc import Callable, Iterator
from typing import Any

import pytest

if importlib.util.find_spec("ibapi") is None:  # ibapi is installed beside ib_async only
    collect_ignore_glob = ["test_*.py"]
else:
    from tests.ibapi.harness import IbapiClient


_NOTICES = (2104, 2106, 2158)  # farm status notices every connection gets


class IbapiErrors(logging.Handler):
    """ERROR records of the ``ibapi`` loggers."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[logging.LogRecord] = []
        self.allowed: set[int] = set(_NOTICES)

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)

    def allow(self, *codes: int) -> None:
        """Error codes the test expects through ``error()``."""
        self.allowed.update(codes)


@pytest.fixture
def ibapi_errors() -> Iterator[IbapiErrors]:
    handler = IbapiErrors()
    logger = logging.getLogger("ibapi")
    logger.addHandler(handler)
    try:
        yield handler
    finally:
        logger.removeHandler(handler)
    bad = [f"{r.name}: {r.getMessage()}" for r in handler.records]
    if bad:
        pytest.fail("ibapi logged errors:\n" + "\n".join(bad), pytrace=False)


@pytest.fixture
def ibapi_connect(ibapi_errors: IbapiErrors) -> Iterator[Callable[..., Any]]:
    """``ibapi_connect(sim, client_id=1)`` → a connected ``IbapiClient``, disconnected after;
    the test fails on any unexpected ``error()`` code or a dead reader thread."""
    made: list[Any] = []

    def _connect(sim: Any, client_id: int = 1) -> Any:
        client = IbapiClient(sim.host, sim.port, client_id)
        made.append(client)
        return client

    yield _connect
    problems = []
    for client in made:
        client.disconnect()
        if client.failure is not None:
            problems.append(f"the reader thread died: {client.failure!r}")
        problems += [
            f"error {args[1]} about {args[0]}: {args[2]}"
            for args in client.all("error")
            if args[1] not in ibapi_errors.allowed
        ]
    if problems:
        pytest.fail("ibapi reported:\n" + "\n".join(problems), pytrace=False)
