"""Cost models shared by the backtest and live P&L estimates: commission and slippage.

Each model has one method to implement and a ``__repr__`` that shows its parameters.
"""

from __future__ import annotations

import numbers
from dataclasses import dataclass, field, replace

from quantnb.errors import ConfigError


def _check(
    name: str, value: float, *, allow_zero: bool = True, below: float | None = None
) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ConfigError(f"{name}={value!r} is not a number: use a non-negative number")
    value = float(value)
    if value < 0 or (value == 0 and not allow_zero) or value != value or value == float("inf"):
        raise ConfigError(f"{name}={value!r} is not allowed: use a non-negative number")
    if below is not None and value >= below:
        raise ConfigError(
            f"{name}={value!r} is {value:.0%} of the price: a rate is a fraction, "
            "e.g. 0.001 for 0.1%"
        )
    return value


def _share_of_value(rate: float, minimum: float, qty: float, price: float) -> float:
    """``max(minimum, rate * |qty| * price)``; nothing for no quantity."""
    if qty == 0:
        return 0.0
    return max(minimum, rate * abs(qty) * price)


@dataclass(frozen=True, slots=True)
class PercentCommission:
    """A share of notional with a minimum per order: ``max(minimum, rate * |qty| * price)``."""

    rate: float = 0.001
    minimum: float = 1.0

    def __post_init__(self) -> None:
        _check("rate", self.rate, below=1.0)
        _check("minimum", self.minimum)

    def commission(self, qty: float, price: float) -> float:
        return _share_of_value(self.rate, self.minimum, qty, price)


@dataclass(frozen=True, slots=True)
class PerShareCommission:
    """IBKR-style fixed pricing: per share, with a minimum and a cap as a share of notional."""

    per_share: float = 0.005
    minimum: float = 1.0
    max_percent: float = 0.01

    def __post_init__(self) -> None:
        _check("per_share", self.per_share)
        _check("minimum", self.minimum)
        _check("max_percent", self.max_percent, below=1.0)

    def commission(self, qty: float, price: float) -> float:
        if qty == 0:
            return 0.0
        fee = max(self.minimum, self.per_share * abs(qty))
        cap = self.max_percent * abs(qty) * price
        return min(fee, cap) if cap > 0 else fee


@dataclass(frozen=True, slots=True)
class NoCommission:
    """Zero commission, for comparisons."""

    def commission(self, qty: float, price: float) -> float:
        return 0.0


@dataclass(frozen=True, slots=True)
class PercentSlippage:
    """Adverse slippage as a share of price: buys pay more, sells receive less."""

    rate: float = 0.0005

    def __post_init__(self) -> None:
        _check("rate", self.rate, below=1.0)

    def adjust(self, price: float, side: str) -> float:
        return price * (1.0 + self.rate) if side == "BUY" else price * (1.0 - self.rate)


@dataclass(frozen=True, slots=True)
class FixedSlippage:
    """Adverse slippage of a fixed amount per share (e.g. one tick)."""

    amount: float = 0.01

    def __post_init__(self) -> None:
        _check("amount", self.amount)

    def adjust(self, price: float, side: str) -> float:
        return price + self.amount if side == "BUY" else max(price - self.amount, 0.0)


@dataclass(frozen=True, slots=True)
class PerContractCommission:
    """Futures: a fee per contract, ``(per_contract + fees) * |qty|``.

    IBKR's fixed rate for US futures is USD 0.85 per contract (up to 1,000 a month), plus the
    exchange and regulatory fees it passes on (``fees``: about USD 1.40 for CME E-minis, 1.38
    exchange + 0.02 NFA). Source: interactivebrokers.com/en/pricing/commissions-futures.php.
    """

    per_contract: float = 0.85
    fees: float = 1.40

    def __post_init__(self) -> None:
        _check("per_contract", self.per_contract)
        _check("fees", self.fees)

    def commission(self, qty: float, price: float) -> float:
        return (self.per_contract + self.fees) * abs(qty)


@dataclass(frozen=True, slots=True)
class FxCommission:
    """Spot FX on IDEALPRO: ``max(minimum, rate * trade value)``, trade value in the account's
    currency (the caller converts). IBKR: 0.20 basis points of trade value, minimum USD 2.00 per
    order (first tier). Source: interactivebrokers.com/en/pricing/commissions-spot-currencies.php.
    """

    rate: float = 0.00002
    minimum: float = 2.0

    def __post_init__(self) -> None:
        _check("rate", self.rate, below=1.0)
        _check("minimum", self.minimum)

    def commission(self, qty: float, price: float) -> float:
        return _share_of_value(self.rate, self.minimum, qty, price)


CommissionModel = PercentCommission | PerShareCommission | NoCommission
SlippageModel = PercentSlippage | FixedSlippage


@dataclass(frozen=True, slots=True)
class CostModel:
    """Commission plus slippage: the one cost object the backtest and live engines share."""

    commission_model: CommissionModel = field(default_factory=PercentCommission)
    slippage_model: SlippageModel = field(default_factory=PercentSlippage)
    # futures and FX have their own commission; stocks use ``commission_model``
    futures_model: PerContractCommission = field(default_factory=PerContractCommission)
    fx_model: FxCommission = field(default_factory=FxCommission)

    @classmethod
    def from_args(cls, commission: object = None, slippage: object = None) -> CostModel:
        """Build from plain numbers (rates) or model objects; ``None`` keeps the default.

        A ``PerContractCommission`` sets the futures commission and an ``FxCommission`` the FX
        one (stocks keep the default); a whole ``CostModel`` is taken as is.
        """
        if isinstance(commission, CostModel):
            if slippage is None:
                return commission
            return replace(commission, slippage_model=_slippage(slippage))
        if isinstance(commission, PerContractCommission):
            return cls(PercentCommission(), _slippage(slippage), futures_model=commission)
        if isinstance(commission, FxCommission):
            return cls(PercentCommission(), _slippage(slippage), fx_model=commission)
        return cls(_commission(commission), _slippage(slippage))

    def commission(self, qty: float, price: float) -> float:
        return self.commission_model.commission(qty, price)

    def commission_for(self, kind: str, qty: float, price: float, rate: float = 1.0) -> float:
        """Commission in the account's currency for an instrument ``kind`` ("stock", "future",
        "fx"); ``rate`` converts the price's currency to the account's (FX trade value)."""
        if kind == "future":
            return self.futures_model.commission(qty, price)
        if kind == "fx":
            return self.fx_model.commission(qty, price * rate)
        return self.commission_model.commission(qty, price)

    def fill_price(self, price: float, side: str) -> float:
        return self.slippage_model.adjust(price, side)

    def slippage(self, price: float, side: str) -> float:
        """Slippage per share in currency (always ≥ 0)."""
        return abs(self.slippage_model.adjust(price, side) - price)


def _commission(value: object) -> CommissionModel:
    if value is None:
        return PercentCommission()
    if isinstance(value, int | float) and not isinstance(value, bool):
        return PercentCommission(rate=float(value)) if value else NoCommission()
    if hasattr(value, "commission"):
        return value  # type: ignore[return-value]
    raise ConfigError(
        f"commission={value!r} is not understood: pass a rate such as 0.001 or a model such as "
        "PerShareCommission()"
    )


def _slippage(value: object) -> SlippageModel:
    if value is None:
        return PercentSlippage()
    if isinstance(value, int | float) and not isinstance(value, bool):
        return PercentSlippage(rate=float(value))
    if hasattr(value, "adjust"):
        return value  # type: ignore[return-value]
    raise ConfigError(
        f"slippage={value!r} is not understood: pass a rate such as 0.0005 or a model such as "
        "FixedSlippage(0.01)"
    )
