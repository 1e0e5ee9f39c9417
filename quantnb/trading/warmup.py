"""The warm-up of a live run: the history to ask for at the start, and no ``on_data`` before it.

The same rule as a backtest (``quantnb.engine.warmup``): ``on_data`` is first called at the bar
where every traded symbol holds the strategy's warm-up bars (history included). The history asked
for at the start covers the warm-up (``lookback_days`` overrides it), so normally the first
streamed bar is already past it; when IB refused the history, the strategy waits until enough has
been streamed or the history arrives.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

import pandas as pd

from quantnb.domain.interval import Interval
from quantnb.engine.warmup import Warmup
from quantnb.trading.lookback import bars_wanted, lookback_days

logger = logging.getLogger(__name__)


class LiveWarmup:
    """Holds ``on_data`` back until every symbol has ``warmup.bars`` bars."""

    def __init__(self, warmup: Warmup) -> None:
        self.warmup = warmup
        self._ready = warmup.bars <= 0
        self._told = False

    def ready(self, series: dict[str, Any], symbols: Iterable[str]) -> bool:
        """True once every one of ``symbols`` has the warm-up bars (it stays true)."""
        if self._ready:
            return True
        counts = {s: len(series[s]) for s in symbols if s in series}
        short = {s: n for s, n in counts.items() if n < self.warmup.bars}
        if not short and counts:
            self._ready = True
            logger.info("warm-up of %s done: on_data from now on", self.warmup)
            return True
        if not self._told:
            self._told = True
            listed = ", ".join(f"{s} has {n}" for s, n in short.items())
            logger.warning(
                "warming up: on_data starts when every symbol has the strategy's warm-up of %s "
                "(%s)",
                self.warmup,
                listed,
            )
        return False


def history_days(
    warmup: Warmup,
    override: float | None,
    interval: Interval,
    now: pd.Timestamp,
    calendars: Iterable[str] = ("XNYS",),
    extended: bool = False,
) -> float:
    """Days of history to ask for at the start: ``override`` when given, else the warm-up's
    through the sessions of ``calendars`` (the instruments' trading calendars)."""
    if override is not None:
        return float(override)
    days = lookback_days(warmup.bars, interval, now, extended, calendars)
    logger.info("history for a warm-up of %s: %d bars, %.3g days back from %s", warmup,
                bars_wanted(warmup.bars), days, now)  # fmt: skip
    return days


def history_progress(feed: Any, retry: Any) -> dict[str, Any] | None:
    """``status["history_progress"]``: the feed's downloads under way, else the history that IB
    refused and that is asked again later; None when neither."""
    progress = getattr(feed, "history_progress", None)
    snap = progress.snapshot() if progress is not None else None
    if snap is not None:
        return snap
    missing = retry.missing if retry is not None else []
    if missing:
        return {
            "done": 0,
            "total": len(missing),
            "waiting": "IB refused the history (pacing, error 162): asked again",
            "resume_in": retry.wait_seconds(),
        }
    return None


__all__ = ["LiveWarmup", "history_days", "history_progress"]
