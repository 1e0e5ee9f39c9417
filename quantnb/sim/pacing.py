"""Historical-data pacing as IB documents it: which requests earn error 162.

IB (TWS API "Historical Data Limitations", pacing violations for small bars): a violation is
making identical requests within 15 seconds, six or more requests for the same contract, exchange
and tick type within two seconds, or more than 60 requests within any ten minutes. The rules apply
to bars of 30 seconds or less; larger bars are not refused by them (IB throttles those softly by
answering more slowly, which the simulator does not model). A BID_ASK request counts twice.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

VIOLATION = "Historical data request pacing violation"


@dataclass(frozen=True, slots=True)
class PacingRule:
    """IB's pacing limits; change them to test pacing without waiting out IB's windows.

    ``identical_max`` identical requests are allowed within ``identical_window`` seconds,
    ``group_max`` for one contract, exchange and tick type within ``group_window`` and
    ``total_max`` within ``total_window``; the rules apply to bars of ``bar_seconds_max`` seconds
    or less. ``clock`` gives the time in seconds (injectable for tests).
    """

    identical_max: int = 1
    identical_window: float = 15.0
    group_max: int = 5
    group_window: float = 2.0
    total_max: int = 60
    total_window: float = 600.0
    bar_seconds_max: float = 30.0
    clock: Callable[[], float] = field(default=time.monotonic, compare=False)


@dataclass(frozen=True, slots=True)
class HistoryRequest:
    """What pacing looks at in one historical request."""

    symbol: str
    exchange: str
    what: str
    bar_seconds: float
    key: tuple  # every field that makes two requests identical

    @property
    def weight(self) -> int:
        return 2 if self.what.upper() == "BID_ASK" else 1


class Pacer:
    """Remembers recent historical requests and refuses those that break a ``PacingRule``."""

    def __init__(self, rule: PacingRule | None) -> None:
        self.rule = rule
        self._log: deque[tuple[float, HistoryRequest]] = deque()

    def violation(self, req: HistoryRequest) -> str:
        """Record ``req`` unless it breaks the rule; the reason it does, or ''."""
        rule = self.rule
        if rule is None or req.bar_seconds > rule.bar_seconds_max:
            return ""
        now = rule.clock()
        log = self._log
        keep = max(rule.total_window, rule.identical_window, rule.group_window)
        while log and now - log[0][0] > keep:
            log.popleft()
        identical = group = total = 0
        for t, old in log:
            age = now - t
            if age <= rule.identical_window and old.key == req.key:
                identical += 1
            if age <= rule.group_window and (old.symbol, old.exchange, old.what) == (
                req.symbol,
                req.exchange,
                req.what,
            ):
                group += old.weight
            if age <= rule.total_window:
                total += old.weight
        if (
            identical >= rule.identical_max
            or group + req.weight > rule.group_max
            or total + req.weight > rule.total_max
        ):
            return VIOLATION
        log.append((now, req))
        return ""
