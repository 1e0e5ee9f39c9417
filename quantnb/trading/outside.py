"""Changes to the account made outside the session: told apart, logged, and squared with its ledger.

The broker books every execution of the account and takes the gateway's positions; this decides
which fills are the session's own (they feed its ``Ledger``), logs every other change as an
"outside change" in the journal's error log, journals IB's commission when it replaces an
estimate, and cuts a holding the account can no longer cover.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from quantnb.domain.model import Fill
from quantnb.errors import JournalError
from quantnb.trading.ledger import Cut, Ledger

logger = logging.getLogger(__name__)

OUTSIDE = "outside"  # the error-log kind of an outside change


class OutsideWatch:
    """Wires a session's ledger to its broker. ``record(kind, message, symbol=...)`` logs.

    Outside changes are logged once ``armed`` (after the first reconcile): what the first
    reconcile finds was there before the session and is no change to it.
    """

    def __init__(
        self,
        ledger: Ledger,
        broker: Any,
        journal: Any,
        record: Callable[..., None],
        now: Callable[[], Any] = lambda: None,
    ) -> None:
        self.ledger, self.broker, self.journal = ledger, broker, journal
        self.record, self.now = record, now
        self.armed = False

    def is_own(self, fill: Fill) -> bool:
        """A fill of one of the session's orders (sent now or restored from its journal)."""
        return fill.order_id in self.broker.orders

    def book(self, fill: Fill) -> None:
        """A fill as the broker books it: an own one goes to the ledger at once, so that the
        session's holding has it before its order shows as filled."""
        if self.is_own(fill):
            self.ledger.apply(fill)

    def on_fill(self, fill: Fill) -> bool:
        """A newly journaled fill: the ledger's when own, else logged. Returns whether own."""
        own = self.is_own(fill)
        if own:
            self.ledger.apply(fill)  # booked already unless it comes from elsewhere
        elif self.armed:
            self._log(
                f"outside change: {fill.side} {fill.qty:g} {fill.symbol} @ {fill.price:.4f} "
                f"(execution {fill.exec_id}, order {fill.order_id}: not this session's); the "
                "account's positions include it, this session's do not",
                fill.symbol,
            )
        self.fit(fill.symbol)
        return own

    def on_position(self, symbol: str, before: float, after: float) -> None:
        """The broker took the gateway's position where no execution seen explained it."""
        if self.armed:
            self._log(
                f"outside change: the account holds {after:g} {symbol}, {before:g} before by "
                "the executions seen; taking the gateway's",
                symbol,
            )
        self.fit(symbol)

    def on_commission(self, booked: Fill, fixed: Fill) -> None:
        """IB's commission report replaced the estimate a fill was booked with."""
        if self.journal is not None and not self.journal.closed:
            try:
                self.journal.record_commission(fixed.exec_id, fixed.commission, booked.commission)
            except JournalError as exc:
                logger.error("%s", exc)
        self.ledger.correct(booked, fixed)

    def fit(self, symbol: str) -> Cut | None:
        """Cut the session's holding of ``symbol`` if the account holds less."""
        if not self.broker.is_reconciled:
            return None  # the account's table is being rebuilt
        account = self.broker.portfolio.position(symbol).qty
        cut = self.ledger.fit(symbol, account)
        if cut is None:
            return None
        reason = (
            f"outside change: the account holds {account:g} {symbol}, less than the "
            f"{cut.before:g} this session bought; its holding is cut to {cut.after:g}"
        )
        if self.journal is not None and not self.journal.closed:
            try:
                self.journal.record_holding(symbol, cut.before, cut.after, reason, self.now())
            except JournalError as exc:
                logger.error("%s", exc)
        self._log(reason, symbol)
        return cut

    def fit_all(self) -> list[Cut]:
        """Square every holding with the account (after a reconcile)."""
        cuts = [self.fit(s) for s in list(self.ledger.open_positions())]
        return [c for c in cuts if c is not None]

    def _log(self, message: str, symbol: str) -> None:
        self.record(OUTSIDE, message, symbol=symbol)


__all__ = ["OUTSIDE", "OutsideWatch"]
