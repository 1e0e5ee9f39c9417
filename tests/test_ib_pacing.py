"""PacingGuard on a fake clock: limits hold, identical requests merge, nothing really sleeps."""

from __future__ import annotations

import asyncio

import pytest

from quantnb.ib.pacing import PacingGuard


class FakeClock:
    """A clock that moves only when the guard sleeps."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.slept: list[float] = []

    def time(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds
        await asyncio.sleep(0)


def make(clock: FakeClock, **kw) -> PacingGuard:
    return PacingGuard(time_fn=clock.time, sleep=clock.sleep, **kw)


def run(coro):
    return asyncio.run(coro)


def test_identical_requests_in_flight_are_merged() -> None:
    clock = FakeClock()
    guard = make(clock)
    calls = []

    async def request():
        calls.append(1)
        await asyncio.sleep(0)
        return "bars"

    async def main():
        return await asyncio.gather(*(guard.fetch("k", request) for _ in range(5)))

    assert run(main()) == ["bars"] * 5
    assert len(calls) == 1
    assert guard.requests == 1 and guard.merged == 4
    assert clock.slept == []


def test_recent_identical_result_served_from_memory_then_refetched() -> None:
    clock = FakeClock()
    guard = make(clock)
    calls = []

    async def request():
        calls.append(clock.now)
        return len(calls)

    async def main():
        first = await guard.fetch("k", request)
        clock.now += 14.0
        second = await guard.fetch("k", request)
        clock.now += 1.0
        third = await guard.fetch("k", request)
        return first, second, third

    assert run(main()) == (1, 1, 2)
    assert guard.served == 1 and guard.requests == 2
    assert clock.slept == []


def test_window_limit_waits_instead_of_failing() -> None:
    clock = FakeClock()
    guard = make(clock, max_requests=3, window=600.0, max_per_group=100)
    sent = []

    async def main():
        for i in range(7):

            async def request(i=i):
                sent.append((i, clock.now))
                return i

            assert await guard.fetch(("k", i), request) == i

    run(main())
    times = [t for _, t in sent]
    assert times[:3] == [1000.0] * 3
    assert times[3:6] == [1600.0] * 3
    assert times[6] == 2200.0
    # never more than 3 in any 600 s window
    for t in times:
        assert sum(1 for u in times if t <= u < t + 600.0) <= 3
    assert guard.waited == pytest.approx(1200.0)


def test_identical_request_after_a_failure_waits_15_seconds() -> None:
    clock = FakeClock()
    guard = make(clock)
    attempts = []

    async def failing():
        attempts.append(clock.now)
        raise RuntimeError("boom")

    async def ok():
        attempts.append(clock.now)
        return "ok"

    async def main():
        with pytest.raises(RuntimeError):
            await guard.fetch("k", failing)
        clock.now += 5.0
        return await guard.fetch("k", ok)

    assert run(main()) == "ok"
    assert attempts == [1000.0, 1015.0]


def test_failure_reaches_every_merged_caller() -> None:
    clock = FakeClock()
    guard = make(clock)

    async def failing():
        await asyncio.sleep(0)
        raise ValueError("no data")

    async def main():
        return await asyncio.gather(
            guard.fetch("k", failing), guard.fetch("k", failing), return_exceptions=True
        )

    results = run(main())
    assert all(isinstance(r, ValueError) for r in results)
    assert guard.requests == 1


def test_per_contract_burst_limit() -> None:
    clock = FakeClock()
    guard = make(clock, max_per_group=2, group_window=2.0)
    sent = []

    async def main():
        for i in range(5):

            async def request(i=i):
                sent.append(clock.now)
                return i

            await guard.fetch(("AAPL", i), request, group="AAPL")
        await guard.fetch(("MSFT", 0), _const(clock, sent), group="MSFT")

    run(main())
    assert sent[:5] == [1000.0, 1000.0, 1002.0, 1002.0, 1004.0]
    assert sent[5] == 1004.0  # another contract is not held back


def test_clear_forgets_results() -> None:
    clock = FakeClock()
    guard = make(clock, identical_interval=0.0)
    calls = []

    async def request():
        calls.append(1)
        return 1

    async def main():
        await guard.fetch("k", request)
        guard.clear()
        await guard.fetch("k", request)

    run(main())
    assert len(calls) == 2


def _const(clock: FakeClock, sent: list):
    async def request():
        sent.append(clock.now)
        return 0

    return request


def test_bars_over_30_seconds_are_not_held_back() -> None:
    """IB's pacing rules are for bars of 30 s or less: a long one-minute lookback never waits."""
    clock = FakeClock()
    guard = make(clock, max_requests=3, window=600.0)
    sent = []

    async def main():
        for i in range(10):
            await guard.fetch(("AAPL", i), _const(clock, sent), group="AAPL", paced=False)

    run(main())
    assert sent == [1000.0] * 10
    assert guard.requests == 10 and clock.slept == []


def test_a_bid_ask_request_counts_twice() -> None:
    clock = FakeClock()
    guard = make(clock, max_requests=4, window=600.0, max_per_group=100)
    sent = []

    async def main():
        for i in range(3):
            await guard.fetch(("AAPL", i), _const(clock, sent), weight=2)

    run(main())
    assert sent == [1000.0, 1000.0, 1600.0]  # 2 + 2 fill the window; the third waits
