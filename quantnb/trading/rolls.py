"""Continuous futures in a live session: the contract month each trades now, and the roll as two
market orders (close the old month, open the new one) when a bar passes the roll date, by the
rule a backtest uses (``quantnb.domain.rolls``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable

import pandas as pd

from quantnb.domain.instrument import Instrument, future
from quantnb.domain.model import Order, market_orders
from quantnb.domain.rolls import ROLL_TAG, month_at, roll_legs

log = logging.getLogger(__name__)

ROLL_DAYS = 5  # the backtest's default (``qn.data.continuous``)


class RollWatch:
    """The current month of each continuous future of a session, moved on at its roll."""

    def __init__(self, instruments: Iterable[Instrument], roll_days: int = ROLL_DAYS) -> None:
        self.roots = {i.name: i.symbol for i in instruments if i.continuous}
        self.roll_days = int(roll_days)
        self.current: dict[str, Instrument] = {}

    def month_at(self, name: str, when: pd.Timestamp) -> Instrument:
        """The contract month the continuous ``name`` trades at ``when``."""
        root = self.roots[name]
        return future(root, month_at(root, when, self.roll_days))

    def start(self, when: pd.Timestamp) -> dict[str, Instrument]:
        """The months traded from ``when`` on, by continuous name."""
        self.current = {n: self.month_at(n, when) for n in self.roots}
        return dict(self.current)

    def due(self, when: pd.Timestamp) -> list[tuple[str, Instrument, Instrument]]:
        """(name, old month, new month) for each continuous future whose roll a bar at ``when``
        has passed; the new month is current from now on."""
        out = []
        for name in self.roots:
            new = self.month_at(name, when)
            old = self.current.get(name)
            if old is not None and new.name != old.name:
                out.append((name, old, new))
                log.info("%s rolls from %s to %s at %s", name, old.name, new.name, when)
            self.current[name] = new
        return out


def roll_orders(old: str, new: str, qty: float, next_id: Callable[[], str]) -> list[Order]:
    """The two market orders of a roll of ``qty`` (signed) contracts from ``old`` to ``new``."""
    return market_orders(roll_legs(old, new, qty), ROLL_TAG, next_id)


__all__ = ["ROLL_DAYS", "RollWatch", "roll_orders"]
