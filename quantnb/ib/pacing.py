"""Keeps historical-data requests inside IB's pacing limits: our own traffic never earns error 162.

IB's rules (TWS API "Historical Data Limitations") are for bars of 30 seconds or less: no
identical request within 15 s, fewer than six requests for one contract, exchange and tick type
within 2 s, at most 60 requests in any 10 minutes; a BID_ASK request counts twice. Larger bars are
not refused by them, so they are sent at once. The guard waits (asyncio) instead of failing,
merges identical requests in flight, and serves a recent identical result from memory.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable, Hashable
from typing import Any, TypeVar

log = logging.getLogger(__name__)

T = TypeVar("T")

SMALL_BAR_SECONDS = 30  # IB's pacing rules apply to bars of this many seconds or less


class PacingGuard:
    """Rate limiter and request merger for IB historical data; clock and sleep are injectable."""

    def __init__(
        self,
        max_requests: int = 60,
        window: float = 600.0,
        identical_interval: float = 15.0,
        max_per_group: int = 5,
        group_window: float = 2.0,
        *,
        time_fn: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep,
    ) -> None:
        self.max_requests = int(max_requests)
        self.window = float(window)
        self.identical_interval = float(identical_interval)
        self.max_per_group = int(max_per_group)
        self.group_window = float(group_window)
        self._time = time_fn
        self._sleep = sleep
        self._sent: deque[float] = deque()
        self._group_sent: dict[Hashable, deque[float]] = {}
        self._last_sent: dict[Hashable, float] = {}
        self._in_flight: dict[Hashable, asyncio.Future[Any]] = {}
        self._recent: dict[Hashable, tuple[float, Any]] = {}
        self._lock: asyncio.Lock | None = None
        self.requests = 0  # sent to IB
        self.merged = 0  # answered by a request in flight
        self.served = 0  # answered from a recent result
        self.waited = 0.0  # seconds spent waiting for a slot
        # told (reason, seconds) while a request is held back, then (None, 0) when it goes
        self.on_wait: Callable[[str | None, float], None] | None = None
        self.report_every = 1.0  # seconds between two such reports during one wait

    async def fetch(
        self,
        key: Hashable,
        request: Callable[[], Awaitable[T]],
        group: Hashable = None,
        *,
        paced: bool = True,
        weight: int = 1,
    ) -> T:
        """The result of ``request()`` for ``key``, sent only when pacing allows and needed.

        ``paced=False`` for requests IB's pacing rules leave alone (bars over 30 seconds);
        ``weight`` is how many requests IB counts (2 for BID_ASK).
        """
        self._forget_old()
        recent = self._recent.get(key)
        if recent is not None:
            self.served += 1
            return recent[1]
        pending = self._in_flight.get(key)
        if pending is not None:
            self.merged += 1
            return await asyncio.shield(pending)
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._in_flight[key] = future
        try:
            if paced:
                await self._acquire(key, group, weight)
            else:
                self.requests += 1
            result = await request()
        except asyncio.CancelledError:
            future.cancel()
            raise
        except BaseException as exc:
            future.set_exception(exc)
            future.exception()  # mark it retrieved: merged waiters re-raise it themselves
            raise
        else:
            self._recent[key] = (self._time(), result)
            future.set_result(result)
            return result
        finally:
            self._in_flight.pop(key, None)

    def clear(self) -> None:
        """Forget recent results (e.g. after a reconnect, when data may have changed)."""
        self._recent.clear()

    async def _acquire(self, key: Hashable, group: Hashable, weight: int) -> None:
        if self._lock is None:
            self._lock = asyncio.Lock()
        async with self._lock:
            waited = False
            while True:
                delay, reason = self._delay(key, group, weight)
                if delay <= 0:
                    break
                log.debug("historical data pacing: waiting %.2f s before %r", delay, key)
                if self.on_wait is not None:
                    self.on_wait(reason, delay)
                waited = True
                # in steps, so whoever shows the wait can count it down
                pause = min(delay, self.report_every)
                self.waited += pause
                await self._sleep(pause)
            if waited and self.on_wait is not None:
                self.on_wait(None, 0.0)
            now = self._time()
            self._sent.extend([now] * weight)
            if group is not None:
                self._group_sent.setdefault(group, deque()).extend([now] * weight)
            self._last_sent[key] = now
            self.requests += 1

    def _delay(self, key: Hashable, group: Hashable, weight: int) -> tuple[float, str]:
        """Seconds before a request may go, and the rule that holds it back."""
        now = self._time()
        while self._sent and now - self._sent[0] >= self.window:
            self._sent.popleft()
        delay, reason = 0.0, ""
        # room for ``weight`` more: the oldest entries that must leave the window first
        over = len(self._sent) + weight - self.max_requests
        if over > 0:
            delay = self._sent[min(over, len(self._sent)) - 1] + self.window - now
            reason = f"IB pacing: {self.max_requests} requests per {_span(self.window)}"
        last = self._last_sent.get(key)
        if last is not None and last + self.identical_interval - now > delay:
            delay = last + self.identical_interval - now
            reason = f"IB pacing: no identical request within {_span(self.identical_interval)}"
        if group is not None:
            sent = self._group_sent.get(group)
            if sent:
                while sent and now - sent[0] >= self.group_window:
                    sent.popleft()
                over = len(sent) + weight - self.max_per_group
                if over > 0:
                    wait = sent[min(over, len(sent)) - 1] + self.group_window - now
                    if wait > delay:
                        delay = wait
                        reason = (
                            f"IB pacing: {self.max_per_group} requests per contract in "
                            f"{_span(self.group_window)}"
                        )
        return delay, reason

    def _forget_old(self) -> None:
        now = self._time()
        stale = [k for k, (t, _) in self._recent.items() if now - t >= self.identical_interval]
        for k in stale:
            del self._recent[k]
        old = [k for k, t in self._last_sent.items() if now - t >= self.identical_interval]
        for k in old:
            del self._last_sent[k]


def _span(seconds: float) -> str:
    """``600`` as "10 minutes", ``15`` as "15 s"."""
    if seconds >= 60 and seconds % 60 == 0:
        minutes = int(seconds // 60)
        return f"{minutes} minute{'s' if minutes != 1 else ''}"
    return f"{seconds:g} s"
