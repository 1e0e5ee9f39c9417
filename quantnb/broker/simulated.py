"""The simulated broker: accepts orders, matches them against later bars, books the fills.

Matching rules live in ``quantnb.domain.matching`` and money in ``quantnb.domain.accounting``;
this module only holds order state and applies buying power, short-selling and risk rules.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping

import pandas as pd

from quantnb.broker.base import BrokerBase
from quantnb.domain.accounting import Portfolio
from quantnb.domain.buying_power import check_buying_power, commitments
from quantnb.domain.costs import CostModel
from quantnb.domain.matching import match, pessimistic_pick
from quantnb.domain.model import Fill, Order, OrderStatus, OrderType, Rejection, Side, TimeInForce
from quantnb.domain.risk import RiskLimits

logger = logging.getLogger(__name__)


class SimulatedBroker(BrokerBase):
    """Implements ``IBroker`` for backtests. The engine tells it the time and prices."""

    def __init__(
        self,
        portfolio: Portfolio,
        costs: CostModel | None = None,
        risk: RiskLimits | None = None,
        *,
        allow_short: bool = False,
        leverage: float = 1.0,
        price: Callable[[str], float] | None = None,
        now: Callable[[], pd.Timestamp] | None = None,
        mark: Callable[[], None] | None = None,
        on_fill: Callable[[Fill], None] | None = None,
    ) -> None:
        self.portfolio = portfolio
        self.costs = costs or CostModel()
        self.risk = risk if risk is not None else RiskLimits()
        self.allow_short = allow_short
        self.leverage = float(leverage)
        self._price = price or (lambda s: portfolio.position(s).last_price)
        self._now = now or (lambda: None)
        self._mark = mark or (lambda: None)
        self.on_fill = on_fill
        self.orders: list[Order] = []
        self.by_id: dict[str, Order] = {}
        self.working: dict[str, list[Order]] = {}
        self.n_working = 0
        self.fills: list[Fill] = []
        self.fill_ticks: list[int] = []
        self.rejections: list[Rejection] = []
        self.day_start_equity: float | None = None
        self.tick = 0

    # ---- IBroker --------------------------------------------------------------------------
    def execute_order(self, order: Order) -> Order:
        """Accept or reject ``order`` now; accepted orders trade from the next bar on."""
        now = self._now()
        order.created = order.updated = now
        self.orders.append(order)
        self.by_id[order.id] = order
        parent = self.by_id.get(order.parent_id) if order.parent_id else None
        if parent is None:
            ref = self._price(order.symbol)
            reason = self._pre_trade(order, ref)
            if reason:
                self._reject(order, reason)
                return order
            if order.type is OrderType.TRAILING_STOP:
                order.trail_ref = ref
            order.status = OrderStatus.SUBMITTED
        elif parent.is_done and parent.status is not OrderStatus.FILLED:
            self._cancel(order, f"parent order {parent.id} is {parent.status}")
            return order
        else:
            order.status = (
                OrderStatus.SUBMITTED
                if parent.status is OrderStatus.FILLED
                else OrderStatus.PENDING
            )
        self.working.setdefault(order.symbol, []).append(order)
        self.n_working += 1
        return order

    def check_buying_power(self, order: Order, price: float) -> tuple[bool, str]:
        """Whether the account can pay for ``order`` at about ``price``, and why not."""
        working = (o for orders in self.working.values() for o in orders)
        selling, reserved = commitments(order, working, self._price, self.costs)
        margin = self.leverage > 1.0 or self.allow_short
        pf = self.portfolio
        if margin:
            available = pf.equity * self.leverage - pf.gross_exposure
        else:
            available = pf.cash
        return check_buying_power(
            order,
            price,
            self.costs,
            margin=margin,
            allow_short=self.allow_short,
            held=pf.position(order.symbol).qty,
            selling=selling,
            reserved=reserved,
            available=available,
        )

    def get_account_value(self) -> float:
        self._mark()
        return self.portfolio.equity

    # ---- order life cycle -----------------------------------------------------------------
    def cancel(self, order: Order, reason: str = "cancelled by the strategy") -> bool:
        if order.is_done:
            return False
        self._cancel(order, reason)
        return True

    def modify(self, order: Order, changes: Mapping[str, float]) -> bool:
        """Change a working order's qty, limit or stop price: it trades so from the next bar."""
        if order.is_done:
            return False
        for name, value in changes.items():
            setattr(order, name, value)
        order.updated = self._now()
        return True

    def open_orders(self, symbol: str | None = None) -> list[Order]:
        if symbol is not None:
            return list(self.working.get(symbol, ()))
        return [o for orders in self.working.values() for o in orders]

    def process(self, symbol: str, o: float, h: float, lo: float, day: object, tick: int) -> None:
        """Match the working orders of ``symbol`` against its bar (o, h, lo) at ``tick``."""
        orders = self.working.get(symbol)
        if not orders:
            return
        self.tick = tick
        activated = self._match_pass(symbol, orders, o, h, lo, day, at_open_only=False)
        if activated:
            # Exits of a bracket whose entry filled at this bar's open see the rest of this bar.
            self._match_pass(symbol, activated, o, h, lo, day, at_open_only=True)

    def _match_pass(self, symbol, orders, o, h, lo, day, at_open_only: bool) -> list[Order]:
        hits: list[tuple[Order, float, bool]] = []
        for order in list(orders):
            if order.status is OrderStatus.PENDING or order.is_done:
                continue
            if order.tif is TimeInForce.DAY:
                if order.day is None:
                    order.day = day
                elif order.day != day:
                    self._finish(order, OrderStatus.EXPIRED, "DAY order expired unfilled")
                    continue
            m = match(order, o, h, lo)
            if m is not None:
                hits.append((order, m[0], m[1]))
        if not hits:
            return []
        groups: dict[str, list[tuple[Order, float, bool]]] = {}
        chosen = []
        for hit in hits:
            if hit[0].oca_group:
                groups.setdefault(hit[0].oca_group, []).append(hit)
            else:
                chosen.append(hit)
        chosen.extend(pessimistic_pick(g) if len(g) > 1 else g[0] for g in groups.values())
        activated: list[Order] = []
        for order, raw, slips in chosen:
            if order.is_done:
                continue
            filled = self._fill(order, raw, slips)
            if filled and not at_open_only:
                at_open = raw == o
                for child in self._children(order):
                    child.status = OrderStatus.SUBMITTED
                    if child.type is OrderType.TRAILING_STOP:
                        child.trail_ref = raw
                    if at_open:
                        activated.append(child)
        return activated

    def _fill(self, order: Order, raw: float, slips: bool) -> bool:
        side = order.side
        price = self.costs.fill_price(raw, side) if slips else raw
        qty = order.remaining
        commission = self.costs.commission(qty, price)
        pos = self.portfolio.position(order.symbol)
        if side is Side.BUY and self.leverage <= 1.0 and not self.allow_short:
            cost = qty * price + commission
            if cost > self.portfolio.cash + 1e-9:
                self._reject(
                    order,
                    f"insufficient buying power at fill: {qty:g} {order.symbol} at "
                    f"{price:,.4f} costs {cost:,.2f} with commission, cash "
                    f"{self.portfolio.cash:,.2f}",
                )
                return False
        if side is Side.SELL and not self.allow_short and qty > pos.qty + 1e-9:
            self._reject(
                order,
                f"short selling is not allowed: selling {qty:g} {order.symbol} with "
                f"{pos.qty:g} held (pass allow_short=True for a margin account)",
            )
            return False
        now = self._now()
        fill = Fill(
            order_id=order.id,
            symbol=order.symbol,
            side=side,
            qty=qty,
            price=price,
            commission=commission,
            time=now,
            exec_id=f"{order.id}.{len(self.fills) + 1}",
            slippage=abs(price - raw) * qty,
        )
        self.portfolio.apply_fill(fill)
        self.fills.append(fill)
        self.fill_ticks.append(self.tick)
        order.filled += qty
        order.avg_price = price
        self._finish(order, OrderStatus.FILLED, "")
        if order.oca_group:
            for sibling in self.working.get(order.symbol, ()):
                if sibling.oca_group == order.oca_group and not sibling.is_done:
                    self._finish(sibling, OrderStatus.CANCELLED, f"OCA: {order.id} filled")
        if self.on_fill is not None:
            self.on_fill(fill)
        return True

    def _children(self, order: Order) -> list[Order]:
        return [
            o
            for o in self.working.get(order.symbol, ())
            if o.parent_id == order.id and o.status is OrderStatus.PENDING
        ]

    def _pre_trade(self, order: Order, ref: float) -> str:
        self._mark()
        reason = self.risk.check(order, ref, self.portfolio, self.day_start_equity)
        if reason:
            return f"risk limit: {reason}"
        ok, why = self.check_buying_power(order, ref)
        return "" if ok else why

    def _reject(self, order: Order, reason: str) -> None:
        self._finish(order, OrderStatus.REJECTED, reason)
        self.rejections.append(Rejection(order.id, order.symbol, order.updated, reason))
        logger.info(
            "order %s %s %g %s rejected: %s", order.id, order.side, order.qty, order.symbol, reason
        )

    def _cancel(self, order: Order, reason: str) -> None:
        self._finish(order, OrderStatus.CANCELLED, reason)

    def _finish(self, order: Order, status: OrderStatus, reason: str) -> None:
        was_working = order in self.working.get(order.symbol, ())
        order.status = status
        order.reason = reason or order.reason
        order.updated = self._now()
        if was_working:
            self.working[order.symbol].remove(order)
            self.n_working -= 1
            if not self.working[order.symbol]:
                del self.working[order.symbol]
        if status is not OrderStatus.FILLED:
            for child in self._children(order):
                self._finish(child, OrderStatus.CANCELLED, f"parent order {order.id} {status}")
