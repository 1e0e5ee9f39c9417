"""The simulated broker: accepts orders, matches them against later bars, books the fills.

Matching rules live in ``quantnb.domain.matching`` and money in ``quantnb.domain.accounting``;
this module only holds order state and applies buying power, short-selling and risk rules.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping

import numpy as np
import pandas as pd

from quantnb.broker.base import BrokerBase
from quantnb.domain import margin as margin_rules
from quantnb.domain import oca, sessions
from quantnb.domain.accounting import Portfolio
from quantnb.domain.auction import AUCTION_TYPES, PLAIN_TIFS, SessionBars, refusal, special_match
from quantnb.domain.buying_power import check_buying_power, commitments
from quantnb.domain.costs import CostModel
from quantnb.domain.instrument import Kind
from quantnb.domain.matching import match, pessimistic_pick, within_bar
from quantnb.domain.model import (
    DONE_STATES,
    Fill,
    Order,
    OrderStatus,
    OrderType,
    Rejection,
    Side,
    TimeInForce,
)
from quantnb.domain.order_rules import tick_refusal
from quantnb.domain.risk import RiskLimits

logger = logging.getLogger(__name__)

BarPrices = tuple[str, float, float, float, float]  # symbol, open, high, low, close


def _sells_first(order: Order) -> bool:
    return order.side is Side.BUY


def _open_sells_first(hit: tuple[Order, float, bool, BarPrices]) -> tuple[int, int]:
    """Sort key: fills at the open before fills inside the bar; at the open, sells first."""
    order, raw, _, bar = hit
    if raw == bar[1]:
        return 0, order.side is Side.BUY
    return 1, 0


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
        # the models' own methods, one call less per use than CostModel's
        plain = type(self.costs) is CostModel
        self._fill_price = self.costs.slippage_model.adjust if plain else self.costs.fill_price
        self._stock_commission = (
            self.costs.commission_model.commission if plain else self.costs.commission
        )
        self.risk = risk if risk is not None else RiskLimits()
        self.allow_short = allow_short
        self.leverage = float(leverage)
        self._price = price or (lambda s: portfolio.position(s).last_price)
        self._now = now or (lambda: None)
        self._mark = mark
        self.on_fill = on_fill
        self.orders: list[Order] = []
        self.by_id: dict[str, Order] = {}
        self.working: dict[str, list[Order]] = {}
        self.n_working = 0
        self.fills: list[Fill] = []
        self.fill_ticks: list[int] = []
        self.rejections: list[Rejection] = []
        self.queued: list[Order] = []  # placed, not yet settled
        # while settling several orders (``settle``): each working buy's reserved cash by id,
        # and what each working order frees at the open
        self._memo: dict | None = None
        self._freed: dict[Order, float] | None = None
        self.day_start_equity: float | None = None
        self.tick = 0
        # auction and time-bound orders: the clock's session bars (built on first use) and the
        # tick a decision is made on; set by the engine
        self.session_bars: Callable[[], SessionBars] | None = None
        self.decision_tick: Callable[[], int] = lambda: self.tick
        self._session_bars: SessionBars | None = None
        # an extended session: each tick's phase (sessions.bar_phases), set by the engine
        self.phases: np.ndarray | None = None
        # futures and FX on intraday bars: each tick's trade date per symbol, for DAY orders
        # (``calendar.trade_dates``; stocks use the New York day ``process`` is given)
        self.trade_days: dict[str, np.ndarray] = {}

    # ---- IBroker --------------------------------------------------------------------------
    def execute_order(self, order: Order) -> Order:
        """Take ``order``; ``settle`` accepts or rejects it when the strategy's call returns,
        together with the orders decided with it. Accepted orders trade from the next bar on."""
        now = self._now()
        order.created = order.updated = now
        self.orders.append(order)
        self.by_id[order.id] = order
        parent = self.by_id.get(order.parent_id) if order.parent_id else None
        if parent is None:
            self._price(order.symbol)  # no price yet is the caller's error, raised here
            order.status = OrderStatus.PENDING
            self.queued.append(order)
        elif parent.is_done and parent.status is not OrderStatus.FILLED:
            self._cancel(order, f"parent order {parent.id} is {parent.status}")
            return order
        else:
            order.status = (
                OrderStatus.SUBMITTED
                if parent.status is OrderStatus.FILLED
                else OrderStatus.PENDING
            )
        orders = self.working.get(order.symbol)
        if orders is None:
            self.working[order.symbol] = [order]
        else:
            orders.append(order)
        self.n_working += 1
        return order

    def settle(self) -> None:
        """Accept or reject the orders placed since the last call, as one decision: sells
        first, so the cash (or exposure) a rebalance's sells free pays for its buys."""
        queued, self.queued = self.queued, []
        if len(queued) > 1:
            queued.sort(key=_sells_first)
            # nothing fills while they are settled: what each working order commits or frees
            # is worked out once for all of them
            self._memo, self._freed = {}, {}
        try:
            for order in queued:
                if order.status in DONE_STATES:
                    continue
                ref = self._price(order.symbol)
                special = order.tif not in PLAIN_TIFS or order.type in AUCTION_TYPES  # is_special
                reason = self._special_refusal(order) if special else ""
                reason = reason or self._pre_trade(order, ref)
                if reason:
                    self._reject(order, reason)
                    continue
                if order.type is OrderType.TRAILING_STOP:
                    order.trail_ref = ref
                order.status = OrderStatus.SUBMITTED
        finally:
            self._memo = self._freed = None

    def check_buying_power(self, order: Order, price: float) -> tuple[bool, str]:
        """Whether the account can pay for ``order`` at about ``price``, and why not."""
        # orders not yet settled commit nothing: they are checked after this one, if at all
        others = [
            o
            for orders in self.working.values()
            for o in orders
            if o.status is not OrderStatus.PENDING or o.parent_id is not None
        ]
        inst = self.portfolio.instruments.get(order.symbol)
        if inst is not None and inst.kind is not Kind.STOCK:
            # futures and FX: margin, by the one rule in quantnb.domain.margin
            commission = self._commission(order.symbol, order.qty, price)
            return margin_rules.check_order(order, inst, self.portfolio, others, commission, price)
        margin = self.leverage > 1.0 or self.allow_short
        pf = self.portfolio
        if margin:
            available = pf.equity * self.leverage - pf.gross_exposure
        else:
            available = pf.cash
        if others:
            selling, reserved = commitments(order, others, self._price, self.costs, self._memo)
            available += self._freed_at_open(others, margin)
        else:
            # nothing else working: nothing committed, nothing freed at the open
            selling = reserved = 0.0
        if pf.instruments:
            available -= margin_rules.margin_in_use(pf)  # futures margin is not spendable
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

    def _freed_at_open(self, working: list[Order], margin: bool) -> float:
        """What the working market orders that shrink positions free when the next open fills
        them, before the buys decided with them: net sale proceeds (cash) or exposure (margin).
        """
        memo = self._freed
        freed = 0.0
        for o in working:
            if o.type is not OrderType.MARKET or o.status is not OrderStatus.SUBMITTED:
                continue
            if memo is not None:
                cached = memo.get(o)
                if cached is not None:
                    freed += cached  # adding the 0.0 of an order that frees nothing is exact
                    continue
            held = self.portfolio.position(o.symbol).qty
            if held * o.side.sign >= 0:
                value = 0.0
            else:
                qty = min(o.remaining, abs(held))
                price = self._price(o.symbol)
                if margin:
                    value = qty * price
                else:
                    est = self.costs.fill_price(price, o.side)
                    value = qty * est - self.costs.commission(qty, est)
                freed += value
            if memo is not None:
                memo[o] = value
        return freed

    def get_account_value(self) -> float:
        if self._mark is not None:
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

    def process(self, bars: list[BarPrices], day: object, tick: int) -> None:
        """Match the working orders against the bars of one tick, ``(symbol, o, h, lo, c)`` each.

        Every order is matched before any fills, so an order placed from ``on_fill`` trades
        from the next bar on. Fills at the open come first, sells before buys, so the cash a
        rebalance's sells free pays for its buys; fills inside the bars follow.
        """
        self.tick = tick
        hits: list[tuple[Order, float, bool, BarPrices]] = []
        for bar in bars:
            orders = self.working.get(bar[0])
            if orders:
                hits += self._hits(orders, bar, day)
        if not hits:
            return
        if len(hits) > 1:
            hits.sort(key=_open_sells_first)
        activated: list[tuple[Order, BarPrices]] = []
        for order, raw, slips, bar in hits:
            if order.status in DONE_STATES or not self._fill(order, raw, slips, bar):
                continue
            if order.symbol not in self.working:
                continue  # no working order left that could be its child
            for child in self._children(order):
                child.status = OrderStatus.SUBMITTED
                if child.type is OrderType.TRAILING_STOP:
                    child.trail_ref = raw
                if raw == bar[1]:
                    activated.append((child, bar))
        # Exits of a bracket whose entry filled at this bar's open see the rest of this bar.
        if not activated:
            return
        late: list[tuple[Order, float, bool, BarPrices]] = []
        for child, bar in activated:
            late += self._hits([child], bar, day)
        for order, raw, slips, bar in self._pick(late):
            if not order.is_done:
                self._fill(order, raw, slips, bar)

    def _hits(
        self, orders: list[Order], bar: BarPrices, day: object
    ) -> list[tuple[Order, float, bool, BarPrices]]:
        """The orders that trade in ``bar``, one per OCA group (the worst for the holder)."""
        _, o, h, lo, c = bar
        hits: list[tuple[Order, float, bool, BarPrices]] = []
        for order in list(orders):
            if order.status is OrderStatus.PENDING or order.status in DONE_STATES:
                continue
            if self.phases is not None and self._waits(order):
                continue
            if order.tif is TimeInForce.DAY:
                if self.trade_days and order.symbol in self.trade_days:
                    day = self.trade_days[order.symbol].item(self.tick)
                if order.day is None:
                    order.day = day
                elif order.day != day:
                    self._finish(order, OrderStatus.EXPIRED, "DAY order expired unfilled")
                    continue
            if order.tif not in PLAIN_TIFS or order.type in AUCTION_TYPES:  # _special
                m, ends = special_match(order, o, h, lo, c, self._bars(), self.tick)
                if ends is not None:
                    self._finish(order, *ends)
                    continue
            else:
                m = match(order, o, h, lo, c)
            if m is not None:
                hits.append((order, m[0], m[1], bar))
        return self._pick(hits)

    @staticmethod
    def _pick(
        hits: list[tuple[Order, float, bool, BarPrices]],
    ) -> list[tuple[Order, float, bool, BarPrices]]:
        if len(hits) < 2:
            return hits
        groups: dict[str, list[tuple[Order, float, bool, BarPrices]]] = {}
        chosen = []
        for hit in hits:
            if hit[0].oca_group:
                groups.setdefault(hit[0].oca_group, []).append(hit)
            else:
                chosen.append(hit)
        for g in groups.values():
            if len(g) == 1:
                chosen.append(g[0])
                continue
            order, _, _ = pessimistic_pick([(o, p, sl) for o, p, sl, _ in g])
            chosen.extend(x for x in g if x[0] is order)
        return chosen

    def _fill(self, order: Order, raw: float, slips: bool, bar: BarPrices) -> bool:
        side = order.side
        price = within_bar(self._fill_price(raw, side), bar[2], bar[3]) if slips else raw
        qty = order.qty - order.filled
        symbol = order.symbol
        pf = self.portfolio
        stock = symbol not in pf.instruments
        if stock:
            commission = self._stock_commission(qty, price)  # what _commission gives a stock
        else:
            commission = self._commission(symbol, qty, price)
        pos = pf.position(symbol)
        if stock and side is Side.BUY and self.leverage <= 1.0 and not self.allow_short:
            cost = qty * price + commission
            if cost > self.portfolio.cash + 1e-9:
                self._reject(
                    order,
                    f"insufficient buying power at fill: {qty:g} {order.symbol} at "
                    f"{price:,.4f} costs {cost:,.2f} with commission, cash "
                    f"{self.portfolio.cash:,.2f}",
                )
                return False
        if stock and side is Side.SELL and not self.allow_short and qty > pos.qty + 1e-9:
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
        self._finish(order, OrderStatus.FILLED, "", now)
        if order.oca_group:
            self._oca_fill(order, qty)
        if self.on_fill is not None:
            self.on_fill(fill)
        return True

    def _oca_fill(self, order: Order, qty: float) -> None:
        """Cancel (or reduce) the other working orders of the filled order's OCA group; a
        group may span symbols."""
        pool = self.working.get(order.symbol, ()) if order.parent_id else self.open_orders()
        group = [o for o in pool if o.oca_group == order.oca_group and not o.is_done]
        left = oca.after_fill(order.oca_type, qty, [o.remaining for o in group])
        for sibling, rest in zip(group, left, strict=True):
            if rest is None:
                self._finish(sibling, OrderStatus.CANCELLED, f"OCA: {order.id} filled")
            else:
                sibling.qty = sibling.filled + rest
                sibling.updated = self._now()

    def _waits(self, order: Order) -> bool:
        """Whether a stock order waits out this tick: outside regular hours, not of a type
        that trades there (``sessions.may_trade``)."""
        phase = int(self.phases[self.tick])  # type: ignore[index]
        stock = order.symbol not in self.portfolio.instruments
        return stock and not sessions.may_trade(order, True, phase)

    def _bars(self) -> SessionBars:
        bars = self._session_bars
        if bars is None:
            if self.session_bars is None:
                raise RuntimeError("auction and time-bound orders need the engine's session bars")
            bars = self._session_bars = self.session_bars()
        return bars

    def _special_refusal(self, order: Order) -> str:
        """IB's refusal of an auction or GTD order decided now (cut-off, GTD in the past)."""
        return refusal(order, self._bars().decision_ns(self.decision_tick()))

    def _children(self, order: Order) -> list[Order]:
        return [
            o
            for o in self.working.get(order.symbol, ())
            if o.parent_id == order.id and o.status is OrderStatus.PENDING
        ]

    def _commission(self, symbol: str, qty: float, price: float) -> float:
        """The commission of a fill, by the instrument's kind (stocks: the stock model)."""
        inst = self.portfolio.instruments.get(symbol)
        if inst is None:
            return self._stock_commission(qty, price)
        value = self.portfolio.notional(symbol, qty, price)  # in the account's currency
        return self.costs.commission_for(inst.kind.value, qty, price, value / (qty * price))

    def _pre_trade(self, order: Order, ref: float) -> str:
        if self._mark is not None:
            self._mark()
        inst = self.portfolio.instruments.get(order.symbol)
        if inst is not None:
            refusal = tick_refusal(inst, order)
            if refusal:
                return refusal
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

    def _finish(
        self, order: Order, status: OrderStatus, reason: str, now: pd.Timestamp | None = None
    ) -> None:
        """Move ``order`` to a final ``status`` at ``now`` (the engine's time when not given)."""
        was_working = order in self.working.get(order.symbol, ())
        order.status = status
        order.reason = reason or order.reason
        order.updated = self._now() if now is None else now
        if was_working:
            self.working[order.symbol].remove(order)
            self.n_working -= 1
            if not self.working[order.symbol]:
                del self.working[order.symbol]
        if status is not OrderStatus.FILLED:
            for child in self._children(order):
                self._finish(child, OrderStatus.CANCELLED, f"parent order {order.id} {status}")
