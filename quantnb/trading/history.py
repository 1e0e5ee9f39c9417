"""History that IB refused at the start (pacing, error 162), asked again until it arrives.

After a few restarts within minutes IB refuses historical data for a while. The engine then
starts on the bars it streams, and this asks for the lookback again after IB's pacing window
(doubling up to a cap), adding it to the strategy's history once it arrives, so ``ctx.history``
and ``ctx.indicator`` see the full lookback from then on. The wait is shown in the status.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import pandas as pd

from quantnb.errors import PacingError

logger = logging.getLogger(__name__)

RETRY_DELAY = 15.0  # seconds before the first try again: IB's identical-request window
MAX_DELAY = 300.0  # seconds: the longest wait between two tries

Loaded = Callable[[str, pd.DataFrame], int]  # (symbol, frame) -> bars added
Refused = Callable[[str, Exception, float], None]  # (symbol, error, seconds until next try)


@dataclass(slots=True)
class _Wait:
    delay: float
    due: float  # time.monotonic() of the next try
    timer: asyncio.TimerHandle | None = None
    tries: int = 1


class HistoryRetry:
    """Asks again for the history of symbols whose history request IB refused."""

    def __init__(
        self,
        feed: Any,
        connected: Callable[[], bool],
        loaded: Loaded,
        refused: Refused,
        *,
        delay: float | None = None,
        max_delay: float = MAX_DELAY,
    ) -> None:
        self.feed = feed
        self.connected = connected
        self.loaded = loaded
        self.refused = refused
        self.delay = float(RETRY_DELAY if delay is None else delay)
        self.max_delay = float(max_delay)
        self.lookback_days = 0.0
        self.interval = ""
        self._waiting: dict[str, _Wait] = {}
        self._tasks: set[asyncio.Task[Any]] = set()

    def configure(self, lookback_days: float, interval: str) -> None:
        """The lookback and bar size to ask for (those of the run being started)."""
        self.lookback_days, self.interval = float(lookback_days), str(interval)

    # ---- state -----------------------------------------------------------------------------
    @property
    def missing(self) -> list[str]:
        """Symbols whose history is still to come."""
        return sorted(self._waiting)

    def wait_seconds(self) -> float | None:
        """Seconds until the next try, None when no history is missing."""
        if not self._waiting:
            return None
        return max(0.0, min(w.due for w in self._waiting.values()) - time.monotonic())

    # ---- life cycle ------------------------------------------------------------------------
    def refused_at_start(self, symbol: str, error: Exception) -> None:
        """``symbol``'s history was refused: ask again after IB's window."""
        self._schedule(symbol, error, self.delay)

    def cancel(self, symbols: Iterable[str] | None = None) -> None:
        """Stop asking (for ``symbols``, else for all)."""
        for symbol in list(self._waiting if symbols is None else symbols):
            wait = self._waiting.pop(symbol, None)
            if wait is not None and wait.timer is not None:
                wait.timer.cancel()
        if symbols is None:
            for task in list(self._tasks):
                task.cancel()

    def _schedule(self, symbol: str, error: Exception, delay: float) -> None:
        delay = min(max(delay, 0.0), self.max_delay)
        old = self._waiting.get(symbol)
        wait = _Wait(delay, time.monotonic() + delay, tries=old.tries + 1 if old else 1)
        loop = asyncio.get_running_loop()
        wait.timer = loop.call_later(delay, self._due, symbol)
        self._waiting[symbol] = wait
        self.refused(symbol, error, delay)

    def _due(self, symbol: str) -> None:
        task = asyncio.get_running_loop().create_task(self._ask(symbol))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _ask(self, symbol: str) -> None:
        wait = self._waiting.get(symbol)
        if wait is None:
            return
        if not self.connected():
            # the cache would answer instead of IB: wait for the gateway, at the same pace
            wait.due = time.monotonic() + wait.delay
            wait.timer = asyncio.get_running_loop().call_later(wait.delay, self._due, symbol)
            return
        try:
            frame = await self.feed.get_recent_history_async(
                symbol, self.lookback_days, self.interval
            )
        except PacingError as exc:
            if symbol in self._waiting:
                self._schedule(symbol, exc, wait.delay * 2)
            return
        except Exception as exc:
            logger.warning("history of %s asked again failed: %s; not asked again", symbol, exc)
            self._waiting.pop(symbol, None)
            return
        if self._waiting.pop(symbol, None) is None:
            return  # cancelled meanwhile
        added = self.loaded(symbol, frame)
        logger.info("history of %s arrived after %d tries: %d bars added", symbol, wait.tries,
                    added)  # fmt: skip


__all__ = ["HistoryRetry"]
