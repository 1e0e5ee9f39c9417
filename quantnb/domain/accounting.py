"""The one accounting: positions with average price, realized and unrealized P&L, cash, equity.

Used by the simulated broker and, unchanged, by the live broker on IB fills. Invariant at every
step: ``cash + sum(position market value) == equity``.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from quantnb.domain.model import Fill

_EPS = 1e-9


@dataclass(slots=True)
class Position:
    """A holding in one symbol; ``qty`` is signed (negative when short)."""

    symbol: str
    qty: float = 0.0
    avg_price: float = 0.0
    realized_pnl: float = 0.0
    last_price: float = 0.0
    open_commission: float = 0.0  # commissions paid on the shares still held

    def __bool__(self) -> bool:
        return self.qty != 0.0

    @property
    def market_value(self) -> float:
        return self.qty * self.last_price

    @property
    def unrealized_pnl(self) -> float:
        return self.qty * (self.last_price - self.avg_price) if self.qty else 0.0

    @property
    def cost_basis(self) -> float:
        return self.qty * self.avg_price

    @property
    def avg_cost(self) -> float:
        """Average cost per share with the commissions of the shares held, as IB reports it:
        (cost + commissions) / qty long, (proceeds - commissions) / qty short."""
        return self.avg_price + self.open_commission / self.qty if self.qty else 0.0

    def apply(self, signed_qty: float, price: float, commission: float = 0.0) -> float:
        """Add a signed quantity at ``price``; returns the P&L this realizes (before commission).

        ``commission`` of the fill is kept with the shares it opens (for ``avg_cost``).
        """
        old = self.qty
        new = old + signed_qty
        realized = 0.0
        if old == 0.0 or (old > 0) == (signed_qty > 0):
            # opening or adding: the average price moves
            self.avg_price = (old * self.avg_price + signed_qty * price) / new
            self.open_commission += commission
        else:
            closed = min(abs(signed_qty), abs(old))
            realized = closed * (price - self.avg_price) * (1.0 if old > 0 else -1.0)
            if abs(new) <= _EPS:
                new = 0.0
                self.avg_price = 0.0
                self.open_commission = 0.0
            elif (new > 0) != (old > 0):
                # flipped through zero: the remainder opens at the fill price
                self.avg_price = price
                self.open_commission = commission * abs(new) / abs(signed_qty)
            else:
                self.open_commission *= new / old
        self.qty = new
        self.realized_pnl += realized
        self.last_price = price
        return realized


class Portfolio:
    """Cash and positions of one account, changed only by fills and marked by prices."""

    __slots__ = ("cash", "commissions", "fill_count", "initial_cash", "positions", "realized_pnl")

    def __init__(self, cash: float) -> None:
        self.initial_cash = float(cash)
        self.cash = float(cash)
        self.positions: dict[str, Position] = {}
        self.commissions = 0.0
        self.realized_pnl = 0.0
        self.fill_count = 0

    def position(self, symbol: str) -> Position:
        """The position in ``symbol``; a flat one is created on first use and kept."""
        pos = self.positions.get(symbol)
        if pos is None:
            pos = self.positions[symbol] = Position(symbol)
        return pos

    def apply_fill(self, fill: Fill) -> float:
        """Book a fill: move cash, update the position, count commission. Returns realized P&L."""
        signed = fill.qty if fill.side == "BUY" else -fill.qty
        realized = self.position(fill.symbol).apply(signed, fill.price, fill.commission)
        self.cash -= signed * fill.price + fill.commission
        self.commissions += fill.commission
        self.realized_pnl += realized
        self.fill_count += 1
        return realized

    def correct_commission(self, fill: Fill, commission: float) -> Fill:
        """Replace the commission booked with ``fill`` (an estimate) by the real one; returns the
        corrected fill. Cash, equity and the commission total move by the difference only.

        Realized P&L is before commissions here, so it does not change. The shares the fill
        opened and still held take the difference into ``avg_cost`` (pro rata to what is held).
        """
        delta = float(commission) - fill.commission
        if delta:
            self.cash -= delta
            self.commissions += delta
            pos = self.position(fill.symbol)
            if pos.qty and (pos.qty > 0) == (fill.side == "BUY") and fill.qty > 0:
                pos.open_commission += delta * min(1.0, abs(pos.qty) / fill.qty)
        return replace(fill, commission=float(commission))

    def mark(self, symbol: str, price: float) -> None:
        """Set the latest price of ``symbol`` for market value and unrealized P&L."""
        self.position(symbol).last_price = price

    def set_position(self, symbol: str, qty: float, avg_cost: float) -> None:
        """Overwrite a position from an outside source of truth (a gateway's position report).

        ``avg_cost`` is IB's, commissions included: a position that agrees with it is kept as
        booked; one that does not takes it as its average price (its commissions unknown).
        """
        pos = self.position(symbol)
        if abs(pos.qty - qty) <= _EPS and abs(pos.avg_cost - avg_cost) <= 1e-6 * max(
            abs(avg_cost), 1.0
        ):
            return
        pos.qty = float(qty)
        pos.avg_price = float(avg_cost) if qty else 0.0
        pos.open_commission = 0.0

    @property
    def market_value(self) -> float:
        return sum(p.qty * p.last_price for p in self.positions.values() if p.qty)

    @property
    def gross_exposure(self) -> float:
        return sum(abs(p.qty * p.last_price) for p in self.positions.values() if p.qty)

    @property
    def unrealized_pnl(self) -> float:
        return sum(p.unrealized_pnl for p in self.positions.values() if p.qty)

    @property
    def equity(self) -> float:
        return self.cash + self.market_value

    def open_positions(self) -> dict[str, Position]:
        return {s: p for s, p in self.positions.items() if p.qty}
