"""Risk limits: one object checked by a broker before it accepts an order, backtest and live.

Everything is off by default except a sanity cap on order notional.
"""

from __future__ import annotations

from dataclasses import dataclass

from quantnb.domain.accounting import Portfolio
from quantnb.domain.model import Order, Side
from quantnb.errors import ConfigError

DEFAULT_MAX_ORDER_NOTIONAL = 1_000_000.0


@dataclass(frozen=True, slots=True)
class RiskLimits:
    """Pre-trade limits; ``None`` switches a limit off. Money in account currency."""

    max_order_qty: float | None = None
    max_order_notional: float | None = DEFAULT_MAX_ORDER_NOTIONAL
    max_position: float | None = None
    max_gross_exposure: float | None = None
    max_daily_loss: float | None = None

    def __post_init__(self) -> None:
        for name in (
            "max_order_qty",
            "max_order_notional",
            "max_position",
            "max_gross_exposure",
            "max_daily_loss",
        ):
            value = getattr(self, name)
            if value is not None and not value > 0:
                raise ConfigError(
                    f"{name}={value!r}: a limit must be positive, or None for no limit"
                )

    @classmethod
    def off(cls) -> RiskLimits:
        """No limits at all, not even the notional sanity cap."""
        return cls(max_order_notional=None)

    def check(
        self, order: Order, price: float, portfolio: Portfolio, day_start_equity: float | None
    ) -> str | None:
        """The reason ``order`` breaks a limit at ``price``, or None when it may go."""
        qty = order.qty
        pos = portfolio.position(order.symbol)
        after = pos.qty + (qty if order.side is Side.BUY else -qty)  # order.signed_qty
        reduces = abs(after) < abs(pos.qty) and (after == 0 or (after > 0) == (pos.qty > 0))
        if self.max_daily_loss is not None and day_start_equity is not None:
            loss = day_start_equity - portfolio.equity
            if loss >= self.max_daily_loss and not reduces:
                return (
                    f"daily loss {loss:,.2f} reached max_daily_loss={self.max_daily_loss:,.2f}: "
                    "only orders that reduce a position are accepted until the next day"
                )
        if self.max_order_qty is not None and qty > self.max_order_qty:
            return f"quantity {qty:g} exceeds max_order_qty={self.max_order_qty:g}"
        notional = portfolio.notional(order.symbol, qty, price)
        if self.max_order_notional is not None and notional > self.max_order_notional:
            return (
                f"notional {notional:,.2f} ({qty:g} x {price:,.4f}) exceeds "
                f"max_order_notional={self.max_order_notional:,.2f}"
            )
        if self.max_position is not None and abs(after) > self.max_position and not reduces:
            return (
                f"position in {order.symbol} would be {after:g}, beyond "
                f"max_position={self.max_position:g}"
            )
        if self.max_gross_exposure is not None and not reduces:
            value = portfolio.notional
            gross = (
                portfolio.gross_exposure
                - abs(value(order.symbol, pos.qty, price))
                + abs(value(order.symbol, after, price))
            )
            if gross > self.max_gross_exposure:
                return (
                    f"gross exposure would be {gross:,.2f}, beyond "
                    f"max_gross_exposure={self.max_gross_exposure:,.2f}"
                )
        return None
