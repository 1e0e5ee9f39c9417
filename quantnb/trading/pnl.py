"""A session's own P&L (gross, commissions, net) and the last price it knows of each symbol.

The session's ledger is rebuilt from the journal at every connect, so what it shows is kept
across ``stop()``/``start()``; the broker's account portfolio starts again at each connect.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

import pandas as pd

from quantnb.domain.accounting import Portfolio
from quantnb.domain.model import Fill, Side

QUOTE_COLUMNS = ["symbol", "price", "time"]


@dataclass(frozen=True, slots=True)
class Pnl:
    """Realized and unrealized P&L before commissions, the commissions paid, and their sums."""

    realized: float
    unrealized: float
    commissions: float

    @property
    def gross(self) -> float:
        return self.realized + self.unrealized

    @property
    def net(self) -> float:
        return self.gross - self.commissions

    def series(self) -> pd.Series:
        """As a Series: realized, unrealized, gross, commissions, net."""
        return pd.Series(
            {**asdict(self), "gross": self.gross, "net": self.net},
            name="pnl",
        )[["realized", "unrealized", "gross", "commissions", "net"]]


def pnl_of(portfolio: Portfolio) -> Pnl:
    """The P&L of a portfolio's fills, its open positions marked at their last prices."""
    return Pnl(
        float(portfolio.realized_pnl), float(portfolio.unrealized_pnl), float(portfolio.commissions)
    )


def pnl_from_fills(fills: pd.DataFrame, prices: Mapping[str, float] | None = None) -> Pnl:
    """Replay a fills table (symbol, side, qty, price, commission; oldest first) and mark what
    is still held at ``prices`` (else at its last fill)."""
    pf = Portfolio(0.0)
    if len(fills):
        rows = fills.sort_values("time", kind="stable") if "time" in fills else fills
        for r in rows.itertuples(index=False):
            side = Side(str(r.side).upper().rsplit(".", 1)[-1])
            commission = float(getattr(r, "commission", 0.0) or 0.0)
            when = getattr(r, "time", None)
            pf.apply_fill(
                Fill("", str(r.symbol), side, float(r.qty), float(r.price), commission, when)
            )
    for symbol, price in (prices or {}).items():
        if symbol in pf.positions and price is not None and not pd.isna(price):
            pf.mark(symbol, float(price))
    return pnl_of(pf)


def last_quotes(ctx: Any) -> pd.DataFrame:
    """The last bar close of each symbol a context holds bars of, with the bar's time."""
    series = getattr(ctx, "series", None) or {}
    rows = [(s, float(v.last.close), v.last.time) for s, v in series.items() if v.last is not None]
    return pd.DataFrame(rows, columns=QUOTE_COLUMNS)


__all__ = ["QUOTE_COLUMNS", "Pnl", "last_quotes", "pnl_from_fills", "pnl_of"]
