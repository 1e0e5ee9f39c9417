"""Pytest helpers for users' own tests: a running gateway simulator in one line, and ``eventually``.

Registered as a pytest plugin (entry point ``pytest11``), so ``def test_x(ib_sim): ...`` just
works. The simulator is imported only when a test asks for it.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from quantnb.sim import GatewaySimulator


def eventually(
    condition: Callable[[], Any],
    timeout: float = 5.0,
    interval: float = 0.01,
    sleep: Callable[[float], Any] = time.sleep,
) -> Any:
    """Poll ``condition`` until it returns a truthy value and return that value.

    Raises ``AssertionError`` when ``timeout`` seconds pass first. Polls instead of sleeping a
    fixed time, so tests are as fast as the event they wait for. Pass ``sleep=ib.sleep`` when
    the condition needs a synchronous IB client's event loop to run meanwhile.
    """
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() >= deadline:
            name = getattr(condition, "__name__", repr(condition))
            raise AssertionError(f"condition {name} still false after {timeout} s")
        sleep(interval)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "ib_sim(**settings): settings for the ib_sim fixture's GatewaySimulator"
    )


@pytest.fixture
def ib_sim(request: pytest.FixtureRequest) -> Iterator[GatewaySimulator]:
    """A gateway simulator on a free loopback port, stopped after the test.

    Manual clock by default (the market moves on ``ib_sim.step()``); change any setting with a
    marker: ``@pytest.mark.ib_sim(mode="realtime", speed=60, symbols=["AAPL"])``, faults that
    are settings too (``market_data="delayed"``). Other faults are methods of the simulator
    (``ib_sim.stall_stream()``, ``ib_sim.nightly_restart()``, ...): see docs/simulator.md.
    """
    from quantnb.sim import GatewaySimulator

    marker = request.node.get_closest_marker("ib_sim")
    settings = {"mode": "manual", **(marker.kwargs if marker else {})}
    with GatewaySimulator(**settings) as sim:
        yield sim
