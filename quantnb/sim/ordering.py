"""Placing, changing and cancelling orders: the order desk of the simulated account.

New orders are checked with the backtest's money rule (``quantnb.domain.buying_power``), held
while untransmitted, answered without trading when they are what-if orders, and then matched by
the account. Every operation returns the events it caused, in the order IB sends them.
"""

from __future__ import annotations

import math
from dataclasses import replace
from typing import TYPE_CHECKING

import pandas as pd

from quantnb.domain import oca
from quantnb.domain.auction import parse_ib_good_till
from quantnb.domain.buying_power import check_buying_power, commitments
from quantnb.domain.model import Order, OrderStatus, OrderType, Side, TimeInForce
from quantnb.sim import order_rules
from quantnb.sim.ledger import Ledger
from quantnb.sim.market import EXCHANGE_TZ
from quantnb.sim.placement import OrderRequest
from quantnb.sim.records import (
    CANCELLED,
    FILLED,
    INACTIVE,
    PRE_SUBMITTED,
    SUBMITTED,
    OrderRecord,
)
from quantnb.sim.whatif import what_if

if TYPE_CHECKING:
    from quantnb.domain.accounting import Portfolio
    from quantnb.domain.costs import CostModel
    from quantnb.sim.config import SimConfig
    from quantnb.sim.market import Market
    from quantnb.sim.transmit import Untransmitted

_EPS = 1e-9
_TIFS = frozenset(t.value for t in TimeInForce)
_ORDER_TYPES = {
    "MKT": OrderType.MARKET,
    "LMT": OrderType.LIMIT,
    "STP": OrderType.STOP,
    "STP LMT": OrderType.STOP_LIMIT,
    "TRAIL": OrderType.TRAILING_STOP,
    "MOC": OrderType.MARKET_ON_CLOSE,
    "LOC": OrderType.LIMIT_ON_CLOSE,
}
_LIMITED = ("LMT", "STP LMT", "LOC")
# IB: outside regular hours is "not available for IOC, OPG (MOO and LOO), FOK, MOC or LOC orders"
_REGULAR_ONLY_TIFS = frozenset({"IOC", "FOK", "OPG"})

_IGNORED_OUTSIDE_RTH = (
    "Order Event Warning: Attribute 'Outside Regular Trading Hours' is ignored based on the "
    "order type and destination. PlaceOrder is now being processed."
)

# Events: ("open", rec) openOrder+orderStatus; ("status", rec); ("fill", rec, execution);
# ("whatif", rec, state) a what-if answer; ("exec", execution) a fill of an order made outside
# the API; ("error", client_id, req_id, code, text); ("position", symbol). ``rec`` is a copy
# taken when the event happened, so each message says what was true at that moment.
Event = tuple


def extended_hours(order_type: str, outside_rth: bool, tif: str = "DAY") -> bool:
    """Whether an order may trade outside regular hours: IB takes only limit-type orders there,
    and not IOC, FOK or OPG ones; the flag is ignored on the others (warning 2109)."""
    return outside_rth and order_type in ("LMT", "STP LMT") and tif not in _REGULAR_ONLY_TIFS


def open_event(rec: OrderRecord) -> Event:
    return ("open", replace(rec))


def status_event(rec: OrderRecord) -> Event:
    return ("status", replace(rec))


class OrderDesk:
    """The order half of ``Account``: the state it works on is the account's own."""

    id: str
    config: SimConfig
    market: Market
    portfolio: Portfolio
    costs: CostModel
    orders: dict[tuple[int, int], OrderRecord]
    working: dict[str, list[OrderRecord]]
    max_order_id: dict[int, int]
    next_order_id: int
    untransmitted: Untransmitted
    ledger: Ledger
    _perm_seq: int

    def place(self, client_id: int, req: OrderRequest) -> list[Event]:
        """Answer a placeOrder: a what-if, an order held until transmitted, or the orders a
        transmission sends (accepted, modified or refused, and matched at once)."""
        if req.what_if:
            return what_if(self, client_id, req)
        key = (client_id, req.order_id)
        if (
            key not in self.orders
            and key not in self.untransmitted
            and req.order_id <= self.max_order_id.get(client_id, 0)
        ):
            return [("error", client_id, req.order_id, 103, f"Duplicate order id {req.order_id}")]
        if not req.transmit:
            self.untransmitted.hold(client_id, req)
            self._use_id(client_id, req.order_id)
            return []
        events: list[Event] = []
        for r in self.untransmitted.release(client_id, req):
            events += self._place_one(client_id, r)
        return events

    def place_then_reject(self, client_id: int, req: OrderRequest, reason: str) -> list[Event]:
        """Acknowledge an order (openOrder/orderStatus Submitted), then reject it as IB does
        after a late check: error 201 and status Inactive; nothing trades."""
        if req.what_if or (client_id, req.order_id) in self.orders:
            return self.place(client_id, req)
        rec = self._accept(client_id, req)
        if not isinstance(rec, OrderRecord):
            return rec
        self.orders[(client_id, req.order_id)] = rec
        events = [open_event(rec)]
        self._finish(rec, INACTIVE, f"Rejected: {reason}")
        events.append(("error", client_id, req.order_id, 201, f"Order rejected - reason:{reason}"))
        events.append(status_event(rec))
        return events

    def check(self, client_id: int, req: OrderRequest) -> str:
        """Why a new order would be refused, or ''."""
        return self._check(client_id, req, None)

    def domain_order(self, client_id: int, req: OrderRequest) -> Order:
        """The domain order the matching rules work on for a new request."""
        order = Order(
            id=req.order_ref or f"{client_id}-{req.order_id}",
            symbol=req.contract.symbol,
            side=Side.BUY if req.action == "BUY" else Side.SELL,
            qty=req.qty,
            type=_ORDER_TYPES[req.order_type],
            limit=req.lmt_price if req.order_type in _LIMITED else None,
            stop=req.aux_price if req.order_type in ("STP", "STP LMT") else None,
            tif=TimeInForce(req.tif) if req.tif in _TIFS else TimeInForce.DAY,
            created=self.market.now(),
            tag=req.order_ref,
            status=OrderStatus.SUBMITTED,
            good_till=parse_ib_good_till(req.good_till) if req.tif == "GTD" else None,
            oca_type=req.oca_type or oca.CANCEL,
            algo=req.algo,
            algo_priority=dict(req.algo_params).get("adaptivePriority", "") if req.algo else "",
        )
        self._set_trail(order, req)
        return order

    def _use_id(self, client_id: int, order_id: int) -> None:
        self.max_order_id[client_id] = max(self.max_order_id.get(client_id, 0), order_id)
        self.next_order_id = max(self.next_order_id, order_id + 1)

    def _accept(self, client_id: int, req: OrderRequest) -> OrderRecord | list[Event]:
        """A new order's record, or the error that refuses it."""
        problem = self._check(client_id, req, None)
        if problem:
            return [("error", client_id, req.order_id, 201, f"Order rejected - reason:{problem}")]
        self._use_id(client_id, req.order_id)
        self._perm_seq += 1
        return self.record(client_id, req, self._new_perm_id())

    def record(self, client_id: int, req: OrderRequest, perm_id: int) -> OrderRecord:
        """The gateway's record of order ``req`` as it would start working now."""
        order = self.domain_order(client_id, req)
        tif = req.tif if req.tif in _TIFS else "DAY"
        return OrderRecord(
            client_id=client_id,
            order_id=req.order_id,
            perm_id=perm_id,
            contract=req.contract,
            action=req.action,
            qty=req.qty,
            order_type=req.order_type,
            lmt_price=order.limit,
            aux_price=req.aux_price if req.order_type == "TRAIL" else order.stop,
            tif=tif,
            order_ref=req.order_ref,
            account=self.id,
            order=order,
            parent_id=req.parent_id,
            oca_group=req.oca_group,
            outside_rth=req.outside_rth,
            status=PRE_SUBMITTED
            if order.type in (OrderType.STOP, OrderType.STOP_LIMIT)
            else SUBMITTED,
            day=self.market.session_of_next_trade(
                not extended_hours(req.order_type, req.outside_rth, req.tif)
            ),
            day_end=self.market.day_order_end(req.contract.symbol) if tif == "DAY" else None,
        )

    def _place_one(self, client_id: int, req: OrderRequest) -> list[Event]:
        """Accept, modify or refuse one transmitted order, and match it against the price now."""
        key = (client_id, req.order_id)
        existing = self.orders.get(key)
        if existing is not None:
            return self._modify(existing, req)
        rec = self._accept(client_id, req)
        if not isinstance(rec, OrderRecord):
            return rec
        parent = self.orders.get((client_id, req.parent_id)) if req.parent_id else None
        if parent is not None and parent.status != FILLED:
            if parent.is_done:
                why = "Order rejected - reason:the parent order is no longer working"
                return [("error", client_id, req.order_id, 201, why)]
            rec.held = True
            rec.status = PRE_SUBMITTED
        self.orders[key] = rec
        self.working.setdefault(rec.contract.symbol, []).append(rec)
        events: list[Event] = [open_event(rec), *self._hours_warnings(rec)]
        if not rec.held:
            events += self._match_now(rec)
        return events

    def _hours_warnings(self, rec: OrderRecord) -> list[Event]:
        """IB's warnings about market hours on a new order: 2109 when outsideRth cannot apply to
        its type, 399 when a regular-hours order must wait for the next open."""
        out: list[Event] = []
        extended = extended_hours(rec.order_type, rec.outside_rth, rec.tif)
        if rec.outside_rth and not extended:
            out.append(("error", rec.client_id, rec.order_id, 2109, _IGNORED_OUTSIDE_RTH))
        if rec.contract.is_stock and not extended and not self.market.trading_now(False):
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
            names = ", ".join(_ORDER_TYPES)
            return f"order type {req.order_type!r} is not supported ({names})"
        refused = order_rules.refusal(self, req, existing)
        if refused:
            return refused
        if not (req.qty > 0 and math.isfinite(req.qty)):
            return f"order quantity {req.qty!r} must be a positive, finite number of shares"
        for name, price in (("limit", req.lmt_price), ("aux", req.aux_price)):
            if price is not None and not math.isfinite(price):
                return f"{name} price {price!r} must be a finite number"
        if req.action not in ("BUY", "SELL"):
            return f"action {req.action!r} must be BUY or SELL"
        if req.order_type in _LIMITED and not (req.lmt_price or 0) > 0:
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
        if not req.contract.is_stock:
            return self._margin_check(req, qty, side)
        order = Order("check", symbol, side, qty)
        ok, why = self._buying_power(client_id, order, price, req, existing)
        return "" if ok else why

    def _margin_check(self, req: OrderRequest, qty: float, side: Side) -> str:
        """A futures order that adds contracts needs their initial margin in available funds
        (IB's check); FX and orders that reduce a position pass."""
        c = req.contract
        if c.sec_type != "FUT" or c.instrument is None:
            return ""
        h = self.ledger.holdings.get(c.symbol)
        held = h.qty if h is not None else 0.0
        after = held + (qty if side is Side.BUY else -qty)
        added = max(abs(after) - abs(held), 0.0)
        need = added * float(c.instrument.margin_initial or 0.0)
        available = self.values()["AvailableFunds"]
        if need > available + 1e-6:
            return (
                f"YOUR ORDER IS NOT ACCEPTED. IN ORDER TO OBTAIN THE DESIRED POSITION YOUR "
                f"AVAILABLE FUNDS [{available:.2f} USD] MUST EXCEED THE INITIAL MARGIN "
                f"[{need:.2f} USD]"
            )
        return ""

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
        order.limit = rec.lmt_price = req.lmt_price if req.order_type in _LIMITED else None
        order.stop = rec.aux_price = req.aux_price if req.order_type in ("STP", "STP LMT") else None
        self._set_trail(order, req)
        if req.order_type == "TRAIL":
            rec.aux_price = req.aux_price
        order.tif = TimeInForce(req.tif) if req.tif in _TIFS else TimeInForce.DAY
        rec.tif = order.tif.value
        order.good_till = parse_ib_good_till(req.good_till) if req.tif == "GTD" else None
        if req.order_ref:
            rec.order_ref = order.tag = req.order_ref
        if order.type not in (OrderType.STOP, OrderType.STOP_LIMIT) or order.triggered:
            rec.status = SUBMITTED
        events: list[Event] = [open_event(rec)]
        events += self._match_now(rec)
        return events

    def cancel(self, client_id: int, order_id: int) -> list[Event]:
        """Cancel a working order: orderStatus Cancelled, then error 202."""
        rec = self.orders.get((client_id, order_id))
        if rec is None and self.untransmitted.drop(client_id, order_id):
            return [("error", client_id, order_id, 202, "Order Canceled - reason:")]
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
            status_event(rec), ("error", client_id, order_id, 202, "Order Canceled - reason:")
        ]  # fmt: skip
        for child in self._children(rec):
            if not child.is_done:
                self._finish(child, CANCELLED, "Parent cancelled")
                events.append(status_event(child))
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

    # --- provided by the account ---

    def _match_now(self, rec: OrderRecord) -> list[Event]:
        raise NotImplementedError

    def values(self) -> dict[str, float]:
        raise NotImplementedError
