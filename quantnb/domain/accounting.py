"""The one accounting: positions with average price, realized and unrealized P&L, cash, equity.

Used by the simulated broker and, unchanged, by the live broker on IB fills. Invariant at every
step: ``cash + sum(position market value) == equity``.

Beyond US stocks (instruments registered in ``Portfolio.instruments``), in the account's base
currency: a future moves cash by its realized P&L (multiplier × price change × contracts) and
its commission, never by its notional, and adds its unrealized P&L to equity; an FX fill moves
the cash of its two currencies (quantity in the base currency, price in quote per base), and
every foreign balance counts in equity at the latest rate (``Portfolio.rates``).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from quantnb.domain.instrument import Instrument, Kind
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
    multiplier: float = 1.0  # a future's P&L per point and contract

    def __bool__(self) -> bool:
        return self.qty != 0.0

    @property
    def market_value(self) -> float:
        return self.qty * self.last_price * self.multiplier

    @property
    def unrealized_pnl(self) -> float:
        if not self.qty:
            return 0.0
        return self.qty * (self.last_price - self.avg_price) * self.multiplier

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
            realized *= self.multiplier
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

    __slots__ = (
        "balances",
        "base_currency",
        "cash",
        "commissions",
        "fill_count",
        "initial_cash",
        "instruments",
        "positions",
        "rates",
        "realized_pnl",
    )

    def __init__(self, cash: float, base_currency: str = "USD") -> None:
        self.initial_cash = float(cash)
        self.cash = float(cash)  # in ``base_currency``
        self.positions: dict[str, Position] = {}
        self.commissions = 0.0
        self.realized_pnl = 0.0
        self.fill_count = 0
        self.base_currency = base_currency
        # futures, FX and foreign instruments by name; plain US stocks are not listed
        self.instruments: dict[str, Instrument] = {}
        self.balances: dict[str, float] = {}  # cash in other currencies
        self.rates: dict[str, float] = {}  # value of one unit of a currency in base currency

    def add_instrument(self, inst: Instrument) -> None:
        """Book ``inst`` by its own rules from now on (a plain US stock needs no call)."""
        if inst.kind is Kind.STOCK and inst.currency == self.base_currency:
            return
        self.instruments[inst.name] = inst
        self.position(inst.name).multiplier = inst.multiplier if inst.kind is Kind.FUTURE else 1.0
        for ccy in (inst.currency, inst.symbol if inst.kind is Kind.FX else None):
            if ccy and ccy != self.base_currency:
                self.balances.setdefault(ccy, 0.0)

    def rate(self, currency: str) -> float:
        """Value of one unit of ``currency`` in the base currency, at the latest rate known."""
        if currency == self.base_currency:
            return 1.0
        try:
            return self.rates[currency]
        except KeyError:
            raise KeyError(
                f"no {currency}/{self.base_currency} rate yet: add an FX pair that has both "
                f"(e.g. {currency}{self.base_currency}) to the data"
            ) from None

    def set_rate(self, inst: Instrument, price: float) -> None:
        """Take the rate between an FX pair's two currencies from its price."""
        if inst.symbol == self.base_currency:
            self.rates[inst.currency] = 1.0 / price
        elif inst.currency == self.base_currency:
            self.rates[inst.symbol] = price

    def notional(self, symbol: str, qty: float, price: float) -> float:
        """What ``qty`` of ``symbol`` at ``price`` is worth in the base currency (a future's
        notional is multiplier × price × contracts; an FX pair's is in its quote currency)."""
        inst = self.instruments.get(symbol) if self.instruments else None
        if inst is None:
            return qty * price
        if inst.kind is Kind.FX and inst.symbol == self.base_currency:
            return qty  # USDJPY: the quantity is in the base currency already
        mult = inst.multiplier if inst.kind is Kind.FUTURE else 1.0
        return qty * price * mult * self.rate(inst.currency)

    def _credit(self, currency: str, amount: float) -> None:
        if currency == self.base_currency:
            self.cash += amount
        else:
            self.balances[currency] = self.balances.get(currency, 0.0) + amount

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
        inst = self.instruments.get(fill.symbol) if self.instruments else None
        if inst is None:
            self.cash -= signed * fill.price + fill.commission
        else:
            realized = self._book(inst, signed, fill.price, realized)
            self.cash -= fill.commission
        self.commissions += fill.commission
        self.realized_pnl += realized
        self.fill_count += 1
        return realized

    def _book(self, inst: Instrument, signed: float, price: float, realized: float) -> float:
        """Move the cash of a fill on ``inst`` (commission aside); returns realized P&L in the
        base currency."""
        if inst.kind is Kind.FUTURE:
            realized *= self.rate(inst.currency)  # a future's cash moves by its P&L only
            self.cash += realized
            return realized
        if inst.kind is Kind.FX:
            self.set_rate(inst, price)
            self._credit(inst.symbol, signed)
        else:
            signed *= inst.multiplier
        self._credit(inst.currency, -signed * price)
        return realized * self.rate(inst.currency)

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
        if self.instruments:
            return self._value()[0]
        return sum(p.qty * p.last_price for p in self.positions.values() if p.qty)

    @property
    def gross_exposure(self) -> float:
        if self.instruments:
            return self._value()[1]
        return sum(abs(p.qty * p.last_price) for p in self.positions.values() if p.qty)

    def _value(self) -> tuple[float, float]:
        """(what positions and foreign cash add to the base cash, gross notional), in the base
        currency: stocks their market value, futures their unrealized P&L, FX nothing (their
        value is the balances)."""
        value = gross = 0.0
        for s, p in self.positions.items():
            if not p.qty:
                continue
            inst = self.instruments.get(s)
            if inst is not None and inst.continuous:
                continue  # the current month's position, counted under its own name
            if inst is None:
                value += p.qty * p.last_price
                gross += abs(p.qty * p.last_price)
                continue
            rate = self.rate(inst.currency)
            if inst.kind is Kind.FUTURE:
                value += p.unrealized_pnl * rate
            elif inst.kind is not Kind.FX:
                value += p.market_value * rate
            gross += abs(p.market_value) * rate
        for ccy, amount in self.balances.items():
            if amount:
                value += amount * self.rate(ccy)
        return value, gross

    def cash_by_currency(self) -> dict[str, float]:
        """Cash in each currency, the base currency first."""
        return {self.base_currency: self.cash, **self.balances}

    @property
    def unrealized_pnl(self) -> float:
        return sum(p.unrealized_pnl for p in self.positions.values() if p.qty)

    @property
    def equity(self) -> float:
        return self.cash + self.market_value

    def open_positions(self) -> dict[str, Position]:
        if self.instruments:  # a continuous future's position is its current month's
            skip = {s for s, i in self.instruments.items() if i.continuous}
            return {s: p for s, p in self.positions.items() if p.qty and s not in skip}
        return {s: p for s, p in self.positions.items() if p.qty}
