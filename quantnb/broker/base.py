"""What every broker answers the same way from its portfolio and cost model."""

from __future__ import annotations

from quantnb.domain.accounting import Portfolio, Position
from quantnb.domain.costs import CostModel


class BrokerBase:
    """The account queries of ``IBroker`` that need only ``portfolio`` and ``costs``."""

    portfolio: Portfolio
    costs: CostModel

    def calculate_commission(self, qty: float, price: float) -> float:
        return self.costs.commission(qty, price)

    def calculate_slippage(self, price: float, side: str) -> float:
        return self.costs.slippage(price, side)

    def get_positions(self) -> dict[str, Position]:
        return self.portfolio.open_positions()

    def get_position(self, symbol: str) -> Position:
        return self.portfolio.position(symbol)

    def get_cash_balance(self) -> float:
        return self.portfolio.cash
