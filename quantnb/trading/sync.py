"""The periodic reconcile: every few seconds, ask the gateway for what its pushes may have missed.

IB pushes position and execution updates, but a push can be lost (a busy client, a gateway
hiccup). ``AccountSync`` asks for the executions and positions every ``interval`` seconds, so the
account's table follows the gateway even then, and calls ``after()`` once each round is booked.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

logger = logging.getLogger(__name__)


class AccountSync:
    """Runs ``sync()`` then ``after()`` every ``interval`` seconds on the running loop."""

    def __init__(
        self,
        sync: Callable[[], Awaitable[None]],
        after: Callable[[], None],
        interval: float,
    ) -> None:
        self.sync, self.after, self.interval = sync, after, float(interval)
        self.rounds = 0
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Start the rounds (on the loop thread); a second call does nothing."""
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._run())

    def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            self._task = None

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            try:
                await self.sync()
                self.rounds += 1
                self.after()
            except Exception:
                logger.exception("the periodic reconcile failed; trying again in %g s",
                                 self.interval)  # fmt: skip


__all__ = ["AccountSync"]
