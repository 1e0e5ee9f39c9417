"""A session's own holdings: what its own orders bought and sold on an account others share.

Several sessions (and people in TWS) can trade one IB account. The account's positions are the
gateway's; a session's ``Ledger`` holds only what its own fills made, so ``ctx.position()``,
``ctx.close()`` and the target helpers act on the session's shares and never on anyone else's.
It changes with the session's own fills, and otherwise only when the account holds less than the
session owns: then the holding is cut to what is left (an outside change). It is rebuilt from
the journal after a kernel restart.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import pandas as pd

from quantnb.domain.accounting import Portfolio, Position
from quantnb.domain.instrument import Instrument
from quantnb.domain.model import Fill
from quantnb.trading.journal import fill_from_row

logger = logging.getLogger(__name__)

_EPS = 1e-9


@dataclass(frozen=True, slots=True)
class Cut:
    """A holding cut to what the account still holds, by a change outside the session."""

    symbol: str
    before: float
    after: float


class Ledger:
    """The session's positions, fed by its own fills; ``portfolio.cash`` is its net cash flow."""

    def __init__(self) -> None:
        self.portfolio = Portfolio(0.0)
        self.exec_ids: set[str] = set()

    def __repr__(self) -> str:
        held = {s: p.qty for s, p in self.portfolio.open_positions().items()}
        return f"Ledger({held})"

    def position(self, symbol: str) -> Position:
        """The session's position in ``symbol`` (flat when it holds none)."""
        return self.portfolio.position(symbol)

    def open_positions(self) -> dict[str, Position]:
        return self.portfolio.open_positions()

    def apply(self, fill: Fill) -> bool:
        """Book one of the session's own fills, once; False when it was booked already."""
        if fill.exec_id and fill.exec_id in self.exec_ids:
            return False
        if fill.exec_id:
            self.exec_ids.add(fill.exec_id)
        self.portfolio.apply_fill(fill)
        return True

    def correct(self, booked: Fill, fixed: Fill) -> None:
        """IB's commission replaced the estimate of an own fill."""
        if booked.exec_id in self.exec_ids:
            self.portfolio.correct_commission(booked, fixed.commission)

    def fit(self, symbol: str, account_qty: float) -> Cut | None:
        """Cut the holding of ``symbol`` when the account holds less than the session owns
        (long: fewer shares; short: fewer shares short); None when it is still possible."""
        pos = self.portfolio.positions.get(symbol)
        if pos is None or not pos.qty:
            return None
        if pos.qty > 0 and account_qty < pos.qty - _EPS:
            after = max(float(account_qty), 0.0)
        elif pos.qty < 0 and account_qty > pos.qty + _EPS:
            after = min(float(account_qty), 0.0)
        else:
            return None
        cut = Cut(symbol, pos.qty, after)
        self._set(pos, after)
        return cut

    @staticmethod
    def _set(pos: Position, qty: float) -> None:
        if abs(qty) <= _EPS:
            pos.qty, pos.avg_price, pos.open_commission = 0.0, 0.0, 0.0
            return
        pos.open_commission *= qty / pos.qty
        pos.qty = qty

    def add_instruments(self, instruments: Iterable[Instrument], journal: Any) -> None:
        """Book ``instruments`` (futures, FX) by their own rules: the journal is replayed
        again with them when one is new, so fills booked before count at their multiplier."""
        fresh = [i for i in instruments if i.name not in self.portfolio.instruments]
        if not fresh:
            return
        known = list(self.portfolio.instruments.values()) + fresh
        rebuilt = Ledger.from_journal(journal, known) if journal is not None else Ledger()
        if journal is None:
            for inst in known:
                rebuilt.portfolio.add_instrument(inst)
        self.portfolio, self.exec_ids = rebuilt.portfolio, rebuilt.exec_ids

    @classmethod
    def from_journal(cls, journal: Any, instruments: Iterable[Instrument] = ()) -> Ledger:
        """The ledger a journal describes: the fills of its own orders (with IB's commissions)
        and the cuts, replayed in the order they were journaled."""
        ledger = cls()
        for inst in instruments:
            ledger.portfolio.add_instrument(inst)
        orders = journal.orders(latest=True)
        own = set(orders["order_id"]) if len(orders) else set()
        fills = journal.fills()
        fills = fills[fills["order_id"].isin(own)] if len(fills) else fills
        cuts = journal.holdings()
        events: list[tuple[pd.Timestamp, int, Any]] = []
        events += [(r.recorded, 0, r) for r in fills.itertuples(index=False)]
        events += [(r.recorded, 1, r) for r in cuts.itertuples(index=False)]
        for _, kind, r in sorted(events, key=lambda e: (e[0], e[1])):
            if kind == 0:
                ledger.apply(fill_from_row(r))
            else:
                ledger._set(ledger.position(r.symbol), float(r.qty_after))
        if events:
            logger.info("ledger restored from the journal: %r", ledger)
        return ledger


__all__ = ["Cut", "Ledger"]
