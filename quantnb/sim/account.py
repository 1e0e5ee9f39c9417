"""The simulated account: orders, matching, fills, executions, positions and account values.

Fills are decided by ``quantnb.domain.matching.match``, priced by ``CostModel`` and booked in a
``Portfolio``: the backtest's own rules, not a second copy. Every operation returns the events
it caused, in the order IB sends them; the server turns events into messages. No sockets here,
so the account outlives disconnects and restarts (and pickles for subprocess mode).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import pandas as pd

from quantnb.domain.accounting import Portfolio
from quantnb.domain.buying_power import check_buying_power, commitments
from quantnb.domain.costs import CostModel
from quantnb.domain.matching import match, pessimistic_pick
from quantnb.domain.model import Fill, Order, OrderStatus, OrderType, Side, TimeInForce
from quantnb.sim.config import SimConfig
from quantnb.sim.contracts import SimContract
from quantnb.sim.market import EXCHANGE_TZ, POST, REGULAR, Market, Slice
from quantnb.sim.records import (
    CANCELLED,
    FILLED,
    INACTIVE,
    PRE_SUBMITTED,
    SUBMITTED,
    ExecutionRecord,
    OrderRecord,
)

_EPS = 1e-9
_ORDER_TYPES = {
    "MKT": OrderType.MARKET,
    "LMT": OrderType.LIMIT,
    "STP": OrderType.STOP,
    "STP LMT": OrderType.STOP_LIMIT,
    "TRAIL": OrderType.TRAILING_STOP,
}

_IGNORED_OUTSIDE_RTH = (
    "Order Event Warning: Attribute 'Outside Regular Trading Hours' is ignored based on the "
    "order type and destination. PlaceOrder is now being processed."
)

# Events: ("open", rec) openOrder+orderStatus; ("status", rec); ("fill", rec, execution);
# ("error", client_id, req_id, code, text); ("position", symbol).
Event = tuple


@dataclass(frozen=True, slots=True)
class OrderRequest:
    """The head of a placeOrder message: everything the simulator acts on."""

    order_id: int
    contract: SimContract
    action: str
    qty: float
    order_type: str
    lmt_price: float | None
    aux_price: float | None
    tif: str
    order_ref: str = ""
    oca_group: str = ""
    parent_id: int = 0
    trailing_percent: float | None = None
    outside_rth: bool = False


class Account:
    """One IB account: cash and positions (a ``Portfolio``), orders and executions."""

    def __init__(self, config: SimConfig, market: Market) -> None:
        self.id = config.account
        self.config = config
        self.market = market
        self.portfolio = Portfolio(config.cash)
        self.costs = CostModel.from_args(config.commission, config.slippage)
        self.orders: dict[tuple[int, int], OrderRecord] = {}
        self.working: dict[str, list[OrderRecord]] = {}
        self.executions: list[ExecutionRecord] = []
        self.max_order_id: dict[int, int] = {}
        self.next_order_id = 1
        self._perm_seq = 0
        self._exec_seq = 0
        self._used: dict[str, tuple[int, float]] = {}  # symbol -> (bar index, qty filled)

    # --- orders ---

    def place(self, client_id: int, req: OrderRequest) -> list[Event]:
        """Accept, modify or refuse an order, and match it at once against the current price."""
        key = (client_id, req.order_id)
        existing = self.orders.get(key)
        if existing is not None:
            return self._modify(existing, req)
        if req.order_id <= self.max_order_id.get(client_id, 0):
            return [("error", client_id, req.order_id, 103, f"Duplicate order id {req.order_id}")]
        problem = self._check(client_id, req, None)
        if problem:
            return [("error", client_id, req.order_id, 201, f"Order rejected - reason:{problem}")]
        self.max_order_id[client_id] = max(self.max_order_id.get(client_id, 0), req.order_id)
        self.next_order_id = max(self.next_order_id, req.order_id + 1)
        self._perm_seq += 1
        side = Side.BUY if req.action == "BUY" else Side.SELL
        now = self.market.now()
        order = Order(
            id=req.order_ref or f"{client_id}-{req.order_id}",
            symbol=req.contract.symbol,
            side=side,
            qty=req.qty,
            type=_ORDER_TYPES[req.order_type],
            limit=req.lmt_price if req.order_type in ("LMT", "STP LMT") else None,
            stop=req.aux_price if req.order_type in ("STP", "STP LMT") else None,
            tif=TimeInForce.GTC if req.tif == "GTC" else TimeInForce.DAY,
            created=now,
            tag=req.order_ref,
            status=OrderStatus.SUBMITTED,
        )
        self._set_trail(order, req)
        rec = OrderRecord(
            client_id=client_id,
            order_id=req.order_id,
            perm_id=self._new_perm_id(),
            contract=req.contract,
            action=req.action,
            qty=req.qty,
            order_type=req.order_type,
            lmt_price=order.limit,
            aux_price=req.aux_price if req.order_type == "TRAIL" else order.stop,
            tif="GTC" if req.tif == "GTC" else "DAY",
            order_ref=req.order_ref,
            account=self.id,
            order=order,
            parent_id=req.parent_id,
            oca_group=req.oca_group,
            outside_rth=req.outside_rth,
            status=PRE_SUBMITTED
            if order.type in (OrderType.STOP, OrderType.STOP_LIMIT)
            else SUBMITTED,
            day=self.market.session_of_next_trade(not _extended(req.order_type, req.outside_rth)),
        )
        parent = self.orders.get((client_id, req.parent_id)) if req.parent_id else None
        if parent is not None and parent.status != FILLED:
            if parent.is_done:
                why = "Order rejected - reason:the parent order is no longer working"
                return [("error", client_id, req.order_id, 201, why)]
            rec.held = True
            rec.status = PRE_SUBMITTED
        self.orders[key] = rec
        self.working.setdefault(rec.contract.symbol, []).append(rec)
        events: list[Event] = [("open", rec), *self._hours_warnings(rec)]
        if not rec.held:
            events += self._match_now(rec)
        return events

    def _hours_warnings(self, rec: OrderRecord) -> list[Event]:
        """IB's warnings about market hours on a new order: 2109 when outsideRth cannot apply to
        its type, 399 when a regular-hours order must wait for the next open."""
        out: list[Event] = []
        extended = _extended(rec.order_type, rec.outside_rth)
        if rec.outside_rth and not extended:
            out.append(("error", rec.client_id, rec.order_id, 2109, _IGNORED_OUTSIDE_RTH))
        if not extended and not self.market.trading_now(False):
            opens = pd.Timestamp(self.market.next_open_ns(), tz="UTC").tz_convert(EXCHANGE_TZ)
            text = (
                f"Order Message:\n{rec.action} {rec.qty:g} {rec.contract.symbol} "
                f"{rec.contract.exchange}\nWarning: your order will not be placed at the "
                f"exchange until {opens:%Y-%m-%d %H:%M:%S} US/Eastern"
            )
            out.append(("error", rec.client_id, rec.order_id, 399, text))
        return out

    def _set_trail(self, order: Order, req: OrderRequest) -> None:
        """A TRAIL order trails by an amount (auxPrice) or a percentage, from the price now."""
        if req.order_type != "TRAIL":
            order.trail_amount = order.trail_percent = order.trail_ref = None
            return
        percent = req.trailing_percent if (req.trailing_percent or 0) > 0 else None
        order.trail_percent = percent
        order.trail_amount = None if percent is not None else req.aux_price
        if order.trail_ref is None:
            order.trail_ref = self.market.last[order.symbol]

    def _new_perm_id(self) -> int:
        return 1_000_000_000 + self._perm_seq * 7

    def _check(self, client_id: int, req: OrderRequest, existing: OrderRecord | None) -> str:
        """Why the order cannot be accepted, or ''."""
        if req.order_type not in _ORDER_TYPES:
            return f"order type {req.order_type!r} is not supported (MKT, LMT, STP, STP LMT, TRAIL)"
        if not req.qty > 0 or math.isnan(req.qty):
            return f"order quantity {req.qty!r} must be positive"
        if req.action not in ("BUY", "SELL"):
            return f"action {req.action!r} must be BUY or SELL"
        if req.order_type in ("LMT", "STP LMT") and not (req.lmt_price or 0) > 0:
            return "a limit order needs a positive limit price"
        if req.order_type in ("STP", "STP LMT") and not (req.aux_price or 0) > 0:
            return "a stop order needs a positive stop price (auxPrice)"
        if req.order_type == "TRAIL" and not (
            (req.aux_price or 0) > 0 or (req.trailing_percent or 0) > 0
        ):
            return "a trailing stop needs a trailing amount (auxPrice) or trailingPercent"
        symbol = req.contract.symbol
        price = req.lmt_price if req.order_type == "LMT" else self.market.last[symbol]
        if price is None or math.isnan(price):
            return f"no market price for {symbol} yet"
        qty = req.qty - (existing.filled if existing is not None else 0.0)
        if qty <= _EPS:
            return ""
        side = Side.BUY if req.action == "BUY" else Side.SELL
        order = Order("check", symbol, side, qty)
        ok, why = self._buying_power(client_id, order, price, req, existing)
        return "" if ok else why

    def _buying_power(
        self,
        client_id: int,
        order: Order,
        price: float,
        req: OrderRequest,
        existing: OrderRecord | None,
    ) -> tuple[bool, str]:
        """The money rule of the backtest broker, fed with what this account commits.

        Working orders commit shares (sells) and cash (buys); held bracket children, the order
        being modified and orders one-cancels-all ties to the new one commit nothing extra. A
        child of a working parent is judged as if its parent had filled.
        """
        symbol = order.symbol
        held = self.portfolio.position(symbol).qty
        parent = self.orders.get((client_id, req.parent_id))
        if req.parent_id and parent is not None and not parent.is_done:
            held += parent.remaining if parent.action == "BUY" else -parent.remaining

        def tied(r: OrderRecord) -> bool:  # one-cancels-all with the new order
            if r.client_id != client_id:
                return False
            return bool(req.oca_group and r.oca_group == req.oca_group) or bool(
                req.parent_id and r.parent_id == req.parent_id
            )

        working = [
            r.order
            for recs in self.working.values()
            for r in recs
            if not (r.held or r is existing or tied(r))
        ]
        selling, reserved = commitments(order, working, self.market.last.get, self.costs)
        margin = self.config.account_type != "cash"
        values = self.values()
        return check_buying_power(
            order,
            price,
            self.costs,
            margin=margin,
            allow_short=margin,
            held=held,
            selling=selling,
            reserved=reserved,
            available=values["BuyingPower"] if margin else values["AvailableFunds"],
        )

    def _modify(self, rec: OrderRecord, req: OrderRequest) -> list[Event]:
        if rec.status == FILLED:
            return [("error", rec.client_id, rec.order_id, 104, "Can't modify a filled order.")]
        if rec.is_done:
            return [
                ("error", rec.client_id, rec.order_id, 103, f"Duplicate order id {req.order_id}")
            ]
        if req.contract.con_id != rec.contract.con_id or req.action != rec.action:
            return [
                ("error", rec.client_id, rec.order_id, 201,
                 "Order rejected - reason:a modification cannot change the contract or side"),
            ]  # fmt: skip
        problem = self._check(rec.client_id, req, rec)
        if not problem and req.qty < rec.filled - _EPS:
            problem = f"quantity {req.qty} is below the {rec.filled} already filled"
        if problem:
            return [
                ("error", rec.client_id, rec.order_id, 201, f"Order rejected - reason:{problem}")
            ]
        order = rec.order
        order.qty = rec.qty = req.qty
        order.type = _ORDER_TYPES[req.order_type]
        rec.order_type = req.order_type
        order.limit = rec.lmt_price = (
            req.lmt_price if req.order_type in ("LMT", "STP LMT") else None
        )
        order.stop = rec.aux_price = req.aux_price if req.order_type in ("STP", "STP LMT") else None
        self._set_trail(order, req)
        if req.order_type == "TRAIL":
            rec.aux_price = req.aux_price
        order.tif = TimeInForce.GTC if req.tif == "GTC" else TimeInForce.DAY
        rec.tif = order.tif.value
        if req.order_ref:
            rec.order_ref = order.tag = req.order_ref
        if order.type not in (OrderType.STOP, OrderType.STOP_LIMIT) or order.triggered:
            rec.status = SUBMITTED
        events: list[Event] = [("open", rec)]
        events += self._match_now(rec)
        return events

    def cancel(self, client_id: int, order_id: int) -> list[Event]:
        """Cancel a working order: orderStatus Cancelled, then error 202."""
        rec = self.orders.get((client_id, order_id))
        if rec is None:
            return [("error", client_id, order_id, 135, f"Can't find order with id ={order_id}")]
        if rec.is_done:
            text = (
                f"OrderId {order_id} that needs to be cancelled cannot be cancelled, "
                f"state: {rec.status}."
            )
            return [("error", client_id, order_id, 10148, text)]
        self._finish(rec, CANCELLED, "Cancelled by the client")
        events: list[Event] = [
            ("status", rec), ("error", client_id, order_id, 202, "Order Canceled - reason:")
        ]  # fmt: skip
        for child in self._children(rec):
            if not child.is_done:
                self._finish(child, CANCELLED, "Parent cancelled")
                events.append(("status", child))
        return events

    def _children(self, rec: OrderRecord) -> list[OrderRecord]:
        return [
            r for r in self.orders.values()
            if r.parent_id == rec.order_id and r.client_id == rec.client_id
        ]  # fmt: skip

    def _siblings(self, rec: OrderRecord) -> list[OrderRecord]:
        """Working orders that one-cancels-all ties to ``rec``: its OCA group, or the other
        children of its bracket parent."""
        out = []
        for recs in self.working.values():
            for r in recs:
                if r is rec or r.client_id != rec.client_id:
                    continue
                if (rec.oca_group and r.oca_group == rec.oca_group) or (
                    rec.parent_id and r.parent_id == rec.parent_id
                ):
                    out.append(r)
        return out

    def cancel_all(self) -> list[Event]:
        """Global cancel: every working order of every client."""
        events: list[Event] = []
        for recs in list(self.working.values()):
            for rec in list(recs):
                events += self.cancel(rec.client_id, rec.order_id)
        return events

    def _finish(self, rec: OrderRecord, status: str, why: str) -> None:
        rec.status = status
        rec.order.status = {
            FILLED: OrderStatus.FILLED,
            CANCELLED: OrderStatus.CANCELLED,
            INACTIVE: OrderStatus.REJECTED,
        }[status]
        rec.completed_time = self.market.now()
        rec.completed_status = why
        recs = self.working.get(rec.contract.symbol, [])
        if rec in recs:
            recs.remove(rec)

    def open_orders(self, client_id: int | None = None) -> list[OrderRecord]:
        """Working orders, of one client or all."""
        return [
            r
            for recs in self.working.values()
            for r in recs
            if client_id is None or r.client_id == client_id
        ]

    def completed_orders(self) -> list[OrderRecord]:
        return [r for r in self.orders.values() if r.is_done]

    # --- matching ---

    def _match_now(self, rec: OrderRecord) -> list[Event]:
        """Match a new or modified order against the current price, as a one-price bar, when
        the market is open for it."""
        if rec.held or not self.market.trading_now(_extended(rec.order_type, rec.outside_rth)):
            return []
        last = self.market.last[rec.contract.symbol]
        return self._try(rec, last, last, last)

    def on_slices(self, slices: list[Slice]) -> list[Event]:
        """Expire DAY orders whose session is over, then match working orders against each
        slice: outside regular hours only the orders allowed to trade there."""
        events: list[Event] = []
        for s in slices:
            recs = self.working.get(s.symbol)
            if not recs:
                continue
            if s.new_day or s.phase == POST:
                events += self._expire(recs, self.market.days[s.symbol].key, s.phase == POST)
            if s.phase != REGULAR:
                recs = [r for r in recs if _extended(r.order_type, r.outside_rth)]
            events += self._match_slice(recs, s.open, s.high, s.low)
        return events

    def _expire(self, recs: list[OrderRecord], day: int, after_close: bool) -> list[Event]:
        """DAY orders end with their session: regular-hours ones at its close, the ones that
        trade outside regular hours when the after-hours session ends."""
        events: list[Event] = []
        for rec in list(recs):
            if rec.tif != "DAY" or rec.day > day:
                continue
            if rec.day < day or (after_close and not _extended(rec.order_type, rec.outside_rth)):
                self._finish(rec, CANCELLED, "DAY order expired")
                events.append(("status", rec))
        return events

    def _match_slice(self, recs: list[OrderRecord], o: float, h: float, lo: float) -> list[Event]:
        """Match working orders against one slice. When several orders that cancel each other
        (an OCA group, or the exits of one bracket) all trade in it, OHLC cannot say which came
        first: ``pessimistic_pick`` chooses, as the backtest broker does."""
        hits: list[tuple[Order, float, bool]] = []
        owner: dict[int, OrderRecord] = {}
        for rec in list(recs):
            if rec.is_done or rec.held:
                continue
            hit = self._match(rec, o, h, lo)
            if hit is not None:
                hits.append((rec.order, *hit))
                owner[id(rec.order)] = rec
        if not hits:
            return []
        groups: dict[tuple, list[tuple[Order, float, bool]]] = {}
        for hit in hits:
            rec = owner[id(hit[0])]
            if rec.oca_group:
                key: tuple = (rec.client_id, "oca", rec.oca_group)
            elif rec.parent_id:
                key = (rec.client_id, "parent", rec.parent_id)
            else:
                key = (id(rec),)
            groups.setdefault(key, []).append(hit)
        chosen = {id((pessimistic_pick(g) if len(g) > 1 else g[0])[0]) for g in groups.values()}
        events: list[Event] = []
        for order, price, slips in hits:
            rec = owner[id(order)]
            if id(order) in chosen and not rec.is_done:
                events += self._take(rec, price, slips)
        return events

    def _capacity(self, symbol: str) -> float:
        limit = self.config.liquidity
        if limit is None:
            return math.inf
        index, used = self._used.get(symbol, (self.market.index, 0.0))
        if index != self.market.index:
            used = 0.0
        return max(limit - used, 0.0)

    def _match(self, rec: OrderRecord, o: float, h: float, lo: float) -> tuple[float, bool] | None:
        hit = match(rec.order, o, h, lo)
        if rec.order.triggered and rec.status == PRE_SUBMITTED:
            rec.status = SUBMITTED
        return hit

    def _try(self, rec: OrderRecord, o: float, h: float, lo: float) -> list[Event]:
        hit = self._match(rec, o, h, lo)
        return [] if hit is None else self._take(rec, *hit)

    def _take(self, rec: OrderRecord, price: float, slips: bool) -> list[Event]:
        """Fill what the liquidity left in this bar allows of an order that traded."""
        qty = min(rec.remaining, self._capacity(rec.contract.symbol))
        if qty <= _EPS:
            return []
        return self._fill(rec, qty, price, slips)

    def _fill(self, rec: OrderRecord, qty: float, price: float, slips: bool) -> list[Event]:
        symbol = rec.contract.symbol
        side = rec.order.side
        fill_price = round(self.costs.fill_price(price, side.value), 4) if slips else price
        commission = round(self.costs.commission(qty, fill_price), 4)
        now = self.market.now()
        self._exec_seq += 1
        exec_id = f"{rec.perm_id:08x}.{self._exec_seq:08x}.01.01"
        fill = Fill(
            order_id=rec.order.id,
            symbol=symbol,
            side=side,
            qty=qty,
            price=fill_price,
            commission=commission,
            time=now,
            exec_id=exec_id,
            slippage=abs(fill_price - price),
            source="sim",
        )
        before = self.portfolio.position(symbol).qty
        realized = self.portfolio.apply_fill(fill)
        self.portfolio.mark(symbol, self.market.last[symbol])
        index, used = self._used.get(symbol, (self.market.index, 0.0))
        self._used[symbol] = (self.market.index, (used if index == self.market.index else 0) + qty)
        total = rec.filled + qty
        rec.avg_price = (rec.avg_price * rec.filled + fill_price * qty) / total
        rec.filled = total
        rec.last_fill_price = fill_price
        rec.order.filled, rec.order.avg_price = total, rec.avg_price
        closing = before != 0 and (before > 0) != (side is Side.BUY)
        execution = ExecutionRecord(
            exec_id=exec_id,
            client_id=rec.client_id,
            order_id=rec.order_id,
            perm_id=rec.perm_id,
            contract=rec.contract,
            side="BOT" if side is Side.BUY else "SLD",
            shares=qty,
            price=fill_price,
            time=now,
            account=self.id,
            cum_qty=total,
            avg_price=rec.avg_price,
            order_ref=rec.order_ref,
            commission=commission,
            realized_pnl=round(realized - commission, 4) if closing else None,
        )
        self.executions.append(execution)
        events: list[Event] = [("fill", rec, execution), ("position", symbol)]
        for sibling in self._siblings(rec):
            self._finish(sibling, CANCELLED, "OCA group filled")
            events.append(("status", sibling))
        if rec.remaining <= _EPS:
            self._finish(rec, FILLED, "Filled")
            for child in self._children(rec):
                if child.held:
                    child.held = False
                    stop = child.order_type in ("STP", "STP LMT")
                    child.status = PRE_SUBMITTED if stop else SUBMITTED
                    events.append(("status", child))
                    events += self._match_now(child)
        else:
            rec.status = SUBMITTED
            rec.order.status = OrderStatus.PARTIALLY_FILLED
        return events

    def mark(self, slices: list[Slice]) -> None:
        for s in slices:
            pos = self.portfolio.positions.get(s.symbol)
            if pos is not None:
                pos.last_price = s.close

    # --- reports ---

    def executions_matching(
        self, client_id: int, account: str, since: pd.Timestamp | None, symbol: str, side: str
    ) -> list[ExecutionRecord]:
        """Executions passing an IB execution filter (0/empty fields match everything)."""
        out = []
        for e in self.executions:
            if client_id and e.client_id != client_id:
                continue
            if account and account != self.id:
                continue
            if since is not None and e.time < since:
                continue
            if symbol and e.contract.symbol != symbol.upper():
                continue
            if side and e.side != {"BUY": "BOT", "SELL": "SLD"}.get(side.upper(), side.upper()):
                continue
            out.append(e)
        return out

    def values(self) -> dict[str, float]:
        """Account values IB reports, from the one accounting."""
        p = self.portfolio  # positions are marked at every slice and fill
        unrealized, realized = self.pnl()
        equity = p.equity
        gross = p.gross_exposure
        if self.config.account_type == "cash":
            init = maint = 0.0
            available = p.cash
            buying_power = max(p.cash, 0.0)
        else:
            init = gross / self.config.leverage
            maint = gross / (2 * self.config.leverage)
            available = equity - init
            buying_power = max(available * self.config.leverage, 0.0)
        return {
            "NetLiquidation": equity,
            "EquityWithLoanValue": equity,
            "TotalCashValue": p.cash,
            "CashBalance": p.cash,
            "SettledCash": p.cash,
            "AvailableFunds": available,
            "ExcessLiquidity": equity - maint,
            "BuyingPower": buying_power,
            "GrossPositionValue": gross,
            "StockMarketValue": p.market_value,
            "InitMarginReq": init,
            "MaintMarginReq": maint,
            "FullInitMarginReq": init,
            "FullMaintMarginReq": maint,
            "UnrealizedPnL": unrealized,
            "RealizedPnL": realized,
        }

    def pnl(self) -> tuple[float, float]:
        """Unrealized and realized P&L of the account; realized is net of commissions."""
        p = self.portfolio
        return p.unrealized_pnl, p.realized_pnl - p.commissions

    def positions(self) -> list[tuple[SimContract, float, float]]:
        """(contract, qty, average cost) of every symbol ever held, flat ones included."""
        return [
            (self.market.contracts[s], pos.qty, pos.avg_price)
            for s, pos in self.portfolio.positions.items()
            if s in self.market.contracts
        ]


def _extended(order_type: str, outside_rth: bool) -> bool:
    """Whether an order may trade outside regular hours: IB takes only limit-type orders there;
    the flag is ignored on the others (warning 2109)."""
    return outside_rth and order_type in ("LMT", "STP LMT")
