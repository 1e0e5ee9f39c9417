"""The simulated account's futures and FX: positions, cash per currency, margin and P&L.

A future moves no cash when traded: its P&L is multiplier × price change × contracts, paid into
cash at each daily settlement (``settle``: variation margin, IB's daily mark to market) and on
closing, and it holds initial/maintenance margin per contract (the Instrument's).
An FX trade exchanges currencies: buying EUR.USD adds EUR and pays USD. Commissions: a fixed
amount per futures contract, and IB's IDEALPRO rate (0.2 basis points of the value, at least
USD 2). Values are converted to the USD base at the last price of the pairs served.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from quantnb.domain.costs import FxCommission, PerContractCommission
from quantnb.sim.contracts import SimContract

FUTURE_COMMISSION = PerContractCommission()  # IB's fixed rate with exchange fees (USD 2.25)
FX_COMMISSION = FxCommission()  # IB's spot FX: 0.20 basis points, USD 2.00 at the least


@dataclass(slots=True)
class Holding:
    """A futures or FX position: contracts (or base units) at an average price."""

    contract: SimContract
    qty: float = 0.0
    avg_price: float = 0.0
    last: float = 0.0
    realized: float = 0.0
    open_commission: float = 0.0
    settled: float = 0.0  # futures: the price up to which the P&L was paid into cash
    settled_at: int = 0  # futures: ns of the last settlement or of opening the position

    @property
    def is_future(self) -> bool:
        return self.contract.sec_type == "FUT"

    @property
    def market_value(self) -> float:
        return self.qty * self.last * self.contract.point_value

    @property
    def unrealized(self) -> float:
        return self.qty * (self.last - self.avg_price) * self.contract.point_value

    @property
    def variation(self) -> float:
        """A future's P&L since its last daily settlement (or its trade), not yet in cash."""
        return self.qty * (self.last - self.settled) * self.contract.point_value

    @property
    def avg_cost(self) -> float:
        """IB's average cost per contract (price × multiplier) with its commission: (cost +
        commissions) / qty long, (proceeds - commissions) / qty short."""
        per = self.open_commission / self.qty if self.qty else 0.0
        return self.avg_price * self.contract.point_value + per


@dataclass
class Ledger:
    holdings: dict[str, Holding] = field(default_factory=dict)
    cash: dict[str, float] = field(default_factory=dict)  # beside the stock portfolio's USD
    commissions: float = 0.0

    def commission(self, c: SimContract, qty: float, price: float, usd: float) -> float:
        """The commission of a trade in USD; ``usd`` converts one unit of its currency."""
        if c.sec_type == "FUT":
            return round(FUTURE_COMMISSION.commission(qty, price), 4)
        value = qty * price * usd if c.currency != "USD" else qty * price
        if c.instrument is not None and c.instrument.symbol == "USD":
            value = qty  # USD.JPY: the base is dollars
        return round(FX_COMMISSION.commission(value, 1.0), 4)

    def book(self, c: SimContract, signed_qty: float, price: float, commission: float) -> float:
        """Book a trade; returns the P&L it realized (in the contract's currency)."""
        h = self.holdings.setdefault(c.symbol, Holding(c))
        self.commissions += commission
        self._add("USD", -commission)
        if c.sec_type == "CASH":
            inst = c.instrument
            assert inst is not None
            self._add(inst.symbol, signed_qty)
            self._add(c.currency, -signed_qty * price)
        realized = 0.0
        old = h.qty
        new = old + signed_qty
        if old == 0 or (old > 0) == (signed_qty > 0):
            h.avg_price = (old * h.avg_price + signed_qty * price) / new
            h.settled = (old * h.settled + signed_qty * price) / new
            h.open_commission += commission
        else:
            closed = min(abs(signed_qty), abs(old))
            side = 1 if old > 0 else -1
            realized = closed * (price - h.avg_price) * side * c.point_value
            if c.sec_type == "FUT":  # what was settled before is in cash already
                self._add(c.currency, closed * (price - h.settled) * side * c.point_value)
            h.open_commission *= (abs(old) - closed) / abs(old)
            if abs(new) > 1e-12 and (new > 0) != (old > 0):
                h.avg_price = h.settled = price
                h.open_commission = commission * abs(new) / abs(signed_qty)
            elif abs(new) <= 1e-12:
                h.avg_price = h.settled = 0.0
            h.realized += realized
        h.qty = new
        h.last = price
        return realized

    def _add(self, currency: str, amount: float) -> None:
        self.cash[currency] = self.cash.get(currency, 0.0) + amount

    def mark(self, symbol: str, price: float) -> None:
        h = self.holdings.get(symbol)
        if h is not None:
            h.last = price

    def settle(self, symbol: str, price: float, at: int) -> float:
        """Mark a future to market at its daily settlement ``price``: the P&L since the last
        settlement moves into cash (variation margin). Returns the amount moved."""
        h = self.holdings[symbol]
        h.last = price
        amount = h.variation
        self._add(h.contract.currency, amount)
        h.settled, h.settled_at = price, at
        return amount

    def adjust(self, values: dict[str, float], rate: Callable[[str], float], leverage: float,
               margin: bool) -> dict[str, float]:  # fmt: skip
        """The stock account's ``values`` with the futures and FX added, in USD; per-currency
        cash as ``CashBalance:EUR`` and ``ExchangeRate:EUR``."""
        cash = sum(amount * rate(cur) for cur, amount in self.cash.items())
        futures = [h for h in self.holdings.values() if h.is_future]
        unrealized = sum(h.unrealized * rate(h.contract.currency) for h in futures)
        variation = sum(h.variation * rate(h.contract.currency) for h in futures)
        init = sum(abs(h.qty) * _margin(h, True) for h in futures)
        maint = sum(abs(h.qty) * _margin(h, False) for h in futures)
        realized = sum(h.realized * rate(h.contract.currency) for h in self.holdings.values())
        equity = cash + variation  # the P&L settled daily is in cash already
        out = dict(values)
        for tag in ("NetLiquidation", "EquityWithLoanValue", "RegTEquity"):
            out[tag] += equity
        for tag in ("TotalCashValue", "SettledCash", "CashBalance"):
            out[tag] += cash
        for prefix in ("", "Full", "LookAhead"):
            out[f"{prefix}InitMarginReq"] += init
            out[f"{prefix}MaintMarginReq"] += maint
            out[f"{prefix}AvailableFunds"] += equity - init
            out[f"{prefix}ExcessLiquidity"] += equity - maint
        if margin:
            out["BuyingPower"] = max(out["AvailableFunds"] * leverage, 0.0)
        else:
            out["BuyingPower"] = max(out["AvailableFunds"], 0.0)
        nl = out["NetLiquidation"]
        out["Cushion"] = out["ExcessLiquidity"] / nl if nl > 0 else 0.0
        out["HighestSeverity"] = 0 if out["ExcessLiquidity"] >= 0 else 1
        out["UnrealizedPnL"] += unrealized
        out["RealizedPnL"] += realized - self.commissions
        out["FuturesPNL"] = variation
        # per currency, each in its own: the dollars beside the stock account's, the others
        out["CashBalance:USD"] = values["CashBalance"] + self.cash.get("USD", 0.0)
        out["ExchangeRate:USD"] = 1.0
        for cur, amount in self.cash.items():
            if cur != "USD":
                out[f"CashBalance:{cur}"] = amount
                out[f"ExchangeRate:{cur}"] = rate(cur)
        for cur in {h.contract.currency for h in self.holdings.values()} | {"USD"}:
            held = [h for h in self.holdings.values() if h.contract.currency == cur]
            fut = sum(h.unrealized for h in held if h.is_future)
            gained = sum(h.realized for h in held) - (self.commissions if cur == "USD" else 0.0)
            out[f"FuturesPNL:{cur}"] = sum(h.variation for h in held if h.is_future)
            out[f"UnrealizedPnL:{cur}"] = fut + (values["UnrealizedPnL"] if cur == "USD" else 0)
            out[f"RealizedPnL:{cur}"] = gained + (values["RealizedPnL"] if cur == "USD" else 0)
        return out


def _margin(h: Holding, initial: bool) -> float:
    inst = h.contract.instrument
    if inst is None:
        return 0.0
    value = inst.margin_initial if initial else inst.margin_maintenance
    return float(value or 0.0)
