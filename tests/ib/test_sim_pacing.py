"""Historical-data pacing as IB documents it, on a clock the test moves (no waiting)."""

from __future__ import annotations

import pytest

from quantnb.sim import PacingRule

pytestmark = [pytest.mark.ib, pytest.mark.timeout(60)]

PACING = "Historical Market Data Service error message:Historical data request pacing violation"


class Clock:
    """The pacing rule's clock: moves only when a test says so."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


CLOCK = Clock()
# IB's windows, applied to the simulator's 1-minute bars (IB: 30-second bars or smaller)
ON_MINUTES = PacingRule(bar_seconds_max=60, clock=CLOCK)


@pytest.fixture(autouse=True)
def clock(client_errors) -> Clock:
    client_errors.allow(162)
    CLOCK.now = 1000.0
    return CLOCK


@pytest.fixture
def errors(ib) -> list[tuple[int, str]]:
    got: list[tuple[int, str]] = []
    ib.errorEvent += lambda req_id, code, text, contract: got.append((code, text))
    return got


def _bars(ib, contract, duration="1800 S", size="1 min", what="TRADES"):
    return list(ib.reqHistoricalData(contract, "", duration, size, what, True, 1, False))


@pytest.mark.ib_sim(pacing=ON_MINUTES)
def test_an_identical_request_within_15_seconds_is_refused(ib, aapl, clock, errors):
    assert _bars(ib, aapl)
    clock.now += 14.9
    assert _bars(ib, aapl) == []
    assert errors == [(162, PACING)]
    assert _bars(ib, aapl, duration="3600 S")  # not identical
    clock.now += 0.2  # 15.1 s after the first
    assert _bars(ib, aapl)


@pytest.mark.ib_sim(pacing=ON_MINUTES)
def test_six_requests_for_one_contract_and_tick_type_within_2_seconds(ib, aapl, clock, errors):
    for i in range(5):
        assert _bars(ib, aapl, duration=f"{1800 + 60 * i} S")
        clock.now += 0.1
    assert _bars(ib, aapl, duration="7200 S") == []  # the sixth within 2 s
    assert errors == [(162, PACING)]
    assert _bars(ib, aapl, what="MIDPOINT")  # another tick type
    clock.now += 2.0
    assert _bars(ib, aapl, duration="7200 S")


@pytest.mark.ib_sim(pacing=ON_MINUTES, spread=0.001)
def test_a_bid_ask_request_counts_twice(ib, aapl, clock, errors):
    assert _bars(ib, aapl, what="BID_ASK") and _bars(ib, aapl, "3600 S", what="BID_ASK")
    assert _bars(ib, aapl, "5400 S", what="BID_ASK") == []  # 2 + 2 + 2 = 6 within 2 s
    assert errors == [(162, PACING)]


@pytest.mark.ib_sim(pacing=ON_MINUTES)
def test_more_than_60_requests_in_ten_minutes_are_refused(ib, aapl, clock, errors):
    for i in range(60):
        assert _bars(ib, aapl, duration=f"{1800 + 60 * i} S"), i
        clock.now += 1.0  # slower than the 2-second rule
    assert _bars(ib, aapl, duration="86400 S") == []
    assert errors == [(162, PACING)]
    clock.now = 1000.0 + 600.5  # the first request left the window
    assert _bars(ib, aapl, duration="86400 S")


@pytest.mark.ib_sim(pacing=PacingRule(clock=CLOCK))
def test_bars_over_30_seconds_are_never_refused_by_the_pacing_rules(ib, aapl, errors):
    """IB's rules are for bars of 30 s or less: a 30-day one-minute lookback is not refused."""
    for _ in range(3):
        assert _bars(ib, aapl, "1 D", "1 hour")  # identical, at once
    for i in range(61):
        assert _bars(ib, aapl, f"{1800 + 60 * i} S", "1 min"), i
    assert errors == []


@pytest.mark.ib_sim(pacing=PacingRule(clock=CLOCK))
def test_thirty_second_bars_are_paced(ib, aapl, errors):
    """The simulator's bars are one minute, so 30-second bars are refused either way; the second
    identical request within 15 s is refused for pacing before it is looked at."""
    assert _bars(ib, aapl, size="30 secs") == []
    assert _bars(ib, aapl, size="30 secs") == []
    assert [code for code, _ in errors] == [162, 162]
    assert "finer than" in errors[0][1] and errors[1][1] == PACING
