"""The IB broker: sends orders (``orderRef`` = our id), books fills once, reconciles on reconnect.

Money is booked by the one ``Portfolio``. Orders are bound to IB by ``orderRef``/``permId``,
never by client object identity, because the client forgets everything when the socket drops.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import math
from collections.abc import Awaitable, Callable, Iterable, Iterator, Mapping
from typing import Any

import pandas as pd

from quantnb.broker.base import BrokerBase
from quantnb.data.sample import to_utc
from quantnb.domain import margin as margin_rules
from quantnb.domain import sessions
from quantnb.domain.accounting import Portfolio
from quantnb.domain.auction import check_combination, gtd_expired
from quantnb.domain.buying_power import check_buying_power, commitments
from quantnb.domain.costs import CostModel
from quantnb.domain.instrument import Instrument, Kind
from quantnb.domain.model import Fill, Order, OrderStatus, OrderType, Rejection
from quantnb.domain.risk import RiskLimits
from quantnb.errors import GatewayError, NotConnectedError, OrderError
from quantnb.ib.client import ExecutionFilter, new_ib_order
from quantnb.ib.commitments import CommitmentBook
from quantnb.ib.config import mask_account
from quantnb.ib.connection import ErrorEvent, IBConnection
from quantnb.ib.contracts import stock
from quantnb.ib.instruments import check_tradable, order_price, order_quantity
from quantnb.ib.order_fields import set_ib_extras
from quantnb.ib.place import place_new_order
from quantnb.ib.tables import (
    ORDER_REJECTION_CODES,
    ErrorKind,
    from_ib_side,
    to_ib_action,
    to_ib_order_type,
    to_ib_tif,
    to_order_status,
)

log = logging.getLogger(__name__)

_EPS = 1e-9
# Wait this long for IB's commission report before booking a fill with the cost-model estimate;
# a report that comes later replaces the estimate (``correct_commission``).
COMMISSION_WAIT = 2.0
_UNSET = 1.7e308

# what a modification may change: our Order field -> the IB Order field
_MODIFIABLE = {"qty": "totalQuantity", "limit": "lmtPrice", "stop": "auxPrice"}
_ORDER_KINDS = frozenset(
    {ErrorKind.ORDER_REJECTED, ErrorKind.ORDER_CANCELLED, ErrorKind.ORDER_REQUEST_REFUSED}
)
FillCallback = Callable[[Fill], None]
ErrorCallback = Callable[[Exception | str], None]
OrderCallback = Callable[[Order], None]
CommissionCallback = Callable[[Fill, Fill], None]  # (booked with the estimate, corrected)
PositionCallback = Callable[[str, float, float], None]  # (symbol, ours before, the gateway's)
NOT_SENT = "not sent before the restart"


class LiveBroker(BrokerBase):
    """Implements ``ILiveBroker`` on an ``IBConnection``; callbacks run on the loop thread."""

    def __init__(
        self,
        connection: IBConnection,
        costs: CostModel | None = None,
        risk: RiskLimits | None = None,
        *,
        run_id: str,
        allow_short: bool = False,
        portfolio: Portfolio | None = None,
        price: Callable[[str], float | None] | None = None,
        extended_hours: bool = False,
        market_time: Callable[[], Awaitable[pd.Timestamp]] | None = None,
    ) -> None:
        self.connection = connection
        # the market's time now, asked of the gateway (the simulator's clock on the simulator):
        # whether a GTD order IB cancelled has reached its time
        self.market_time = market_time or _wall_time
        self._ending: set[asyncio.Future[None]] = set()  # GTD cancels waiting for the clock
        self.extended_hours = extended_hours  # limit and stop-limit orders go outsideRth
        self.costs = costs or CostModel()
        self.risk = risk if risk is not None else RiskLimits()
        self.run_id = str(run_id)
        self.allow_short = allow_short
        self.portfolio = portfolio or Portfolio(0.0)
        self.price_source = price
        self.day_start_equity: float | None = None
        self.fills: list[Fill] = []
        self.rejections: list[Rejection] = []
        self._orders: dict[str, Order] = {}
        self._open: dict[str, Order] = {}  # orders not done, oldest first
        self._open_by_symbol: dict[str, dict[str, Order]] = {}
        self._notified: dict[str, tuple[Any, ...]] = {}  # state last told to order callbacks
        self._ib_orders: dict[str, Any] = {}  # our id -> the IB Order object last seen
        self._by_ib_id: dict[int, str] = {}  # IB orderId (this client) -> our id
        self._by_perm_id: dict[int, str] = {}
        self._seen_execs: set[str] = set()
        self._cancelling: set[str] = set()  # our ids with a cancel sent and not yet confirmed
        self._modified: dict[str, dict[str, Any]] = {}  # our id -> values before the last change
        self._pending: dict[str, tuple[Any, asyncio.TimerHandle | None]] = {}
        self._last_exec_time: pd.Timestamp | None = None
        self._account_values: dict[str, float] = {}
        self._base_tags: set[str] = set()  # tags seen with a BASE line
        # the gateway's CashBalance and ExchangeRate per currency other than the base
        self._cash_balances: dict[str, float] = {}
        self._rates: dict[str, float] = {}
        self._fill_callbacks: list[FillCallback] = []
        self._error_callbacks: list[ErrorCallback] = []
        self._order_callbacks: list[OrderCallback] = []
        self._commission_callbacks: list[CommissionCallback] = []
        self._booking_callbacks: list[FillCallback] = []
        self._position_callbacks: list[PositionCallback] = []
        self._estimated: dict[str, Fill] = {}  # exec id -> fill booked with an estimate
        self._restored: set[str] = set()  # of those, booked before a restart (not in portfolio)
        self._reconciled = False
        self._hooked = False
        self._catching_up: asyncio.Task | None = None
        self._catch_up_again = False  # a position came while catching up: once more after
        self._batch: CommitmentBook | None = None  # while the orders of one batch are sent
        connection.add_listener(
            on_connected=self._on_connected,
            on_disconnected=self._on_disconnected,
            on_error=self._on_error,
            priority=0,
        )

    # ---- ILiveBroker: orders ---------------------------------------------------------------
    def execute_order(self, order: Order) -> Order:
        """Send ``order`` (blocking). Refusals are recorded on the order, not raised."""
        if self.connection.loop_thread.in_loop():
            return self._execute_now(order, self._contract(order.symbol), None)
        return self.connection.loop_thread.run(
            self.execute_order_async(order), timeout=self.connection.config.timeout + 5
        )

    async def execute_order_async(self, order: Order) -> Order:
        """Risk and buying-power checks, then ``placeOrder``; returns the order with its status."""
        if order.id in self._orders:
            return self._orders[order.id]  # already sent (or restored): never twice
        _validate(order)
        self._validate_kind(order)
        self._require_ready(order)
        contract = await self.connection.contracts.qualify(order.symbol)
        price = self._reference_price(order)
        if price is None and order.parent_id is None:
            price = await self._snapshot_price(contract)
        return self._execute_now(order, contract, price, checked=True)

    async def execute_bracket_async(self, entry: Order, *exits: Order) -> list[Order]:
        """Send an entry and its exits as one IB bracket (transmitted together, exits OCA)."""
        for child in exits:
            if child.parent_id != entry.id:
                raise OrderError(f"bracket exit {child.id} has parent_id={child.parent_id!r}, "
                                 f"expected {entry.id!r}")  # fmt: skip
        if entry.id in self._orders:
            return [self._orders.get(o.id, o) for o in (entry, *exits)]
        for o in (entry, *exits):
            _validate(o)
            self._validate_kind(o)
        self._require_ready(entry)
        contract = await self.connection.contracts.qualify(entry.symbol)
        price = self._reference_price(entry) or await self._snapshot_price(contract)
        # the exits go out in the same loop turn as the entry: one readiness check covers all
        self._execute_now(entry, contract, price, transmit=not exits, checked=True)
        for i, child in enumerate(exits):
            if entry.status is OrderStatus.REJECTED:
                self._record(child)
                self._finish(child, OrderStatus.CANCELLED, f"parent order {entry.id} rejected")
                continue
            self._execute_now(child, contract, price, transmit=i == len(exits) - 1, checked=True)
        return [entry, *exits]

    def cancel(self, order: Order | str) -> bool:
        """Ask IB to cancel a working order; False when it is already done or unknown."""
        if self.connection.loop_thread.in_loop():
            return self._cancel_now(order)
        return self.connection.loop_thread.run(self.cancel_async(order), timeout=10)

    async def cancel_async(self, order: Order | str) -> bool:
        return self._cancel_now(order)

    def modify(self, order: Order, changes: Mapping[str, float]) -> bool:
        """Ask IB to change a working order's ``qty``, ``limit`` or ``stop``; False when it is
        done, unknown or being cancelled. The order shows the new values at once; if IB refuses
        the change (104, 105) they are put back and the refusal is reported."""
        if self.connection.loop_thread.in_loop():
            return self._modify_now(order, changes)
        return self.connection.loop_thread.run(self._modify_async(order, changes), timeout=10)

    async def _modify_async(self, order: Order, changes: Mapping[str, float]) -> bool:
        return self._modify_now(order, changes)

    @property
    def orders(self) -> dict[str, Order]:
        """Every order of this broker by our id (sent, rejected or restored)."""
        return dict(self._orders)

    def open_orders(self, symbol: str | None = None) -> list[Order]:
        """Orders not yet done, optionally of one symbol: O(working orders), oldest first."""
        pool = self._open if symbol is None else self._open_by_symbol.get(symbol)
        if not pool:
            return []
        out = [o for o in pool.values() if not o.is_done]
        if len(out) < len(pool):  # an order finished outside the broker (e.g. refused unsent)
            for o in [o for o in pool.values() if o.is_done]:
                self._unindex(o.id, o.symbol)
        return out

    def restore(
        self, orders: Iterable[Order], exec_ids: Iterable[str], fills: Iterable[Fill] = ()
    ) -> None:
        """Adopt orders already sent and executions already booked (from a journal).

        ``fills`` of the last day are checked against IB's commission reports still to come:
        any that was booked with an estimate before a restart is corrected when one comes.
        """
        recent = [f for f in fills if f.exec_id and f.exec_id not in self._estimated]
        if recent:
            since = max(f.time for f in recent) - pd.Timedelta(days=1)
            kept = {f.exec_id: f for f in recent if f.time >= since}
            self._estimated.update(kept)
            self._restored.update(kept)
        for order in orders:
            self._orders[order.id] = order
            self._notified[order.id] = _state(order)
            self._index(order)
        self._seen_execs.update(str(e) for e in exec_ids if e)
        log.info("restored %d order(s) and %d execution id(s)", len(self._orders),
                 len(self._seen_execs))  # fmt: skip

    # ---- ILiveBroker: account --------------------------------------------------------------
    def check_buying_power(self, order: Order, price: float) -> tuple[bool, str]:
        """Whether the account can pay for ``order`` at about ``price``: the backtest's rule."""
        if self._batch is not None:
            selling, reserved = self._batch.commitments(order, price)
        else:

            def price_of(symbol: str) -> float | None:
                return price if symbol == order.symbol else self._known_price(symbol)

            selling, reserved = commitments(order, self._working(None), price_of, self.costs)
        return check_buying_power(
            order,
            price,
            self.costs,
            margin=self.allow_short,
            allow_short=self.allow_short,
            held=self.portfolio.position(order.symbol).qty,
            selling=selling,
            reserved=reserved,
            available=self._available_funds(),
        )

    @contextlib.contextmanager
    def batch(self) -> Iterator[None]:
        """Orders sent one after another in one go (no message read in between): the working
        orders' commitments are worked out once, not again for every order."""
        if self._batch is not None or not self.connection.loop_thread.in_loop():
            yield  # off the loop thread messages are read meanwhile: order by order
            return
        self._batch = CommitmentBook(self._working, self._known_price, self.costs)
        try:
            yield
        finally:
            self._batch = None

    def _working(self, symbol: str | None) -> list[Order]:
        # an order with a cancel on its way commits nothing: a cancel-and-replace is not refused
        working = self.open_orders(symbol)
        if self._cancelling:
            working = [o for o in working if o.id not in self._cancelling]
        return working

    def get_account_value(self) -> float:
        """Net liquidation value as the gateway reports it (our own equity before it does)."""
        value = self._account_values.get("NetLiquidation")
        return value if value is not None else self.portfolio.equity

    def mark(self, symbol: str, price: float) -> None:
        """Set the latest price of ``symbol`` (market value, unrealized P&L, risk checks)."""
        if price and price > 0:
            self.portfolio.mark(symbol, float(price))

    def register_fill_callback(self, callback: FillCallback) -> None:
        self._fill_callbacks.append(callback)

    def register_error_callback(self, callback: ErrorCallback) -> None:
        self._error_callbacks.append(callback)

    def register_order_callback(self, callback: OrderCallback) -> None:
        """Call ``callback(order)`` on every change of status, fill or reason of our orders."""
        self._order_callbacks.append(callback)

    def register_booking_callback(self, callback: FillCallback) -> None:
        """Call ``callback(fill)`` as each fill is booked, before its order's status changes:
        for books that must never lag the order's state (the fill callbacks run after it)."""
        self._booking_callbacks.append(callback)

    def register_commission_callback(self, callback: CommissionCallback) -> None:
        """Call ``callback(estimated, corrected)`` when IB's commission report replaces the
        estimate a fill was booked with."""
        self._commission_callbacks.append(callback)

    def register_position_callback(self, callback: PositionCallback) -> None:
        """Call ``callback(symbol, ours, gateway)`` when a position is set to the gateway's
        because no execution seen explains it (a change made outside this session)."""
        self._position_callbacks.append(callback)

    async def sync_account(self) -> None:
        """Book executions the pushes missed and take the gateway's positions and cash (the
        periodic reconcile); does nothing while not connected and reconciled."""
        if self._reconciled and self.connection.is_connected():
            await self._catch_up()

    @property
    def account_values(self) -> dict[str, float]:
        """The latest numeric account values of our account (tag -> value)."""
        return dict(self._account_values)

    @property
    def is_reconciled(self) -> bool:
        return self._reconciled

    # ---- sending ---------------------------------------------------------------------------
    def _execute_now(
        self,
        order: Order,
        contract: Any,
        price: float | None,
        *,
        transmit: bool = True,
        checked: bool = False,
    ) -> Order:
        """Record and send ``order``; ``checked``: the caller has validated it and found the
        connection ready (a socket lost since then still fails ``placeOrder``)."""
        if order.id in self._orders:
            return self._orders[order.id]
        if not checked:
            _validate(order)
            self._validate_kind(order)
            self._require_ready(order)
        self._record(order)
        parent_ib = None
        if order.parent_id is not None:
            parent = self._orders.get(order.parent_id)
            parent_ib = self._ib_orders.get(order.parent_id)
            if parent is None or parent_ib is None:
                self._reject(order, f"parent order {order.parent_id!r} was never sent")
                return order
            if parent.is_done and parent.status is not OrderStatus.FILLED:
                self._finish(order, OrderStatus.CANCELLED, f"parent order {parent.id} is "
                             f"{parent.status}")  # fmt: skip
                return order
        else:
            price = price if price is not None else self._reference_price(order)
            if price is None:
                self._reject(order, f"no price known for {order.symbol} yet, so buying power "
                             "cannot be checked; wait for its first bar")  # fmt: skip
                return order
            reason = self._pre_trade(order, price)
            if reason:
                self._reject(order, reason)
                return order
        ib_order = self._build_ib_order(order, parent_ib, transmit)
        try:
            trade = place_new_order(self.connection.ib, contract, ib_order)
        except (ConnectionError, OSError) as exc:
            del self._orders[order.id]
            self._unindex(order.id, order.symbol)
            self._notified.pop(order.id, None)
            raise NotConnectedError(
                f"order {order.id} was not sent: the connection to the IB gateway dropped "
                f"({exc}); nothing was sent"
            ) from exc
        self._bind(order.id, trade.order)
        order.status = OrderStatus.SUBMITTED
        self._changed(order)
        log.info("sent order %s: %s %g %s %s (IB order %d)", order.id, order.side, order.qty,
                 order.symbol, order.type, trade.order.orderId)  # fmt: skip
        return order

    def _build_ib_order(self, order: Order, parent_ib: Any, transmit: bool) -> Any:
        ib_order = new_ib_order()
        ib_order.action = to_ib_action(order.side)
        inst = self.connection.contracts.instrument(order.symbol)
        ib_order.totalQuantity = order_quantity(inst, order.qty)
        ib_order.orderType = to_ib_order_type(order.type)
        ib_order.tif = to_ib_tif(order.tif)
        ib_order.orderRef = order.id
        ib_order.transmit = transmit
        account = self.connection.account
        if account:
            ib_order.account = account
        if order.type in (OrderType.LIMIT, OrderType.STOP_LIMIT, OrderType.LIMIT_ON_CLOSE):
            ib_order.lmtPrice = order_price(inst, float(order.limit))  # type: ignore[arg-type]
        if order.type in (OrderType.STOP, OrderType.STOP_LIMIT):
            ib_order.auxPrice = order_price(inst, float(order.stop), "stop")  # type: ignore[arg-type]
        if order.type is OrderType.TRAILING_STOP:
            if order.trail_amount is not None:
                ib_order.auxPrice = float(order.trail_amount)
            else:
                ib_order.trailingPercent = float(order.trail_percent)  # type: ignore[arg-type]
            if order.stop is not None:
                ib_order.trailStopPrice = float(order.stop)
        if parent_ib is not None:
            ib_order.parentId = int(parent_ib.orderId)
        if order.oca_group:
            ib_order.ocaGroup = f"{self.run_id}:{order.oca_group}"
            ib_order.ocaType = order.oca_type  # 1 cancels the others, 2 reduces them
        set_ib_extras(ib_order, order)
        ib_order.outsideRth = order.outside_rth = sessions.order_outside_rth(
            order, self.extended_hours
        )
        return ib_order

    def _validate_kind(self, order: Order) -> None:
        """OrderError before anything is sent for what IB refuses of the instrument: an index
        or continuous future, a fraction of a contract, a price off the tick grid (error 110)."""
        inst = self.connection.contracts.instrument(order.symbol)
        if inst.kind is Kind.STOCK:
            return
        check_tradable(inst)
        order_quantity(inst, order.qty)
        for what in ("limit", "stop"):
            value = getattr(order, what)
            if value is not None:
                order_price(inst, value, what)

    def _pre_trade(self, order: Order, price: float) -> str:
        reason = self.risk.check(order, price, self.portfolio, self.day_start_equity)
        if reason:
            return f"risk limit: {reason}"
        inst = self.connection.contracts.instrument(order.symbol)
        if inst.kind is not Kind.STOCK:  # futures and FX: the one margin rule
            working = [o for o in self.open_orders() if o.id not in self._cancelling]
            commission = self._commission(inst, order.qty, price)
            ok, why = margin_rules.check_order(
                order, inst, self.portfolio, working, commission, price, self._available_funds()
            )
            return "" if ok else why
        ok, why = self.check_buying_power(order, price)
        return "" if ok else why

    def _cancel_now(self, order: Order | str) -> bool:
        oid = order if isinstance(order, str) else order.id
        ours = self._orders.get(oid)
        if ours is None or ours.is_done:
            return False
        ib_order = self._ib_orders.get(oid)
        if ib_order is None:
            return False
        if oid in self._cancelling:
            return True  # already asked: a second request would only be refused (10148)
        if not self.connection.is_connected():
            raise NotConnectedError(
                f"cannot cancel order {oid}: not connected to the IB gateway at "
                f"{self.connection.config.address} (state: {self.connection.state})"
            )
        self.connection.ib.cancelOrder(ib_order)
        self._cancelling.add(oid)
        log.info("cancel requested for order %s", oid)
        return True

    def _modify_now(self, order: Order, changes: Mapping[str, float]) -> bool:
        oid = order.id
        ours = self._orders.get(oid)
        ib_order = self._ib_orders.get(oid)
        if ours is None or ours.is_done or ib_order is None or oid in self._cancelling:
            return False
        if not self.connection.is_connected():
            raise NotConnectedError(
                f"cannot modify order {oid}: not connected to the IB gateway at "
                f"{self.connection.config.address} (state: {self.connection.state})"
            )
        unknown = set(changes) - set(_MODIFIABLE)
        if unknown:
            raise OrderError(f"order {oid}: {sorted(unknown)} cannot be modified; only "
                             f"{', '.join(_MODIFIABLE)}")  # fmt: skip
        ib = self.connection.ib
        trade = next((t for t in ib.openTrades() if t.order is ib_order), None)
        contract = trade.contract if trade is not None else self._contract(ours.symbol)
        for name, value in changes.items():  # the client's own order object: IB's way to modify
            setattr(ib_order, _MODIFIABLE[name], float(value))
        ib_order.transmit = True
        ib.placeOrder(contract, ib_order)
        self._modified[oid] = {name: getattr(ours, name) for name in changes}
        for name, value in changes.items():
            setattr(ours, name, float(value))
        ours.updated = pd.Timestamp.now(tz="UTC")
        log.info("modification sent for order %s: %s", oid, dict(changes))
        return True

    def _require_ready(self, order: Order) -> None:
        self.connection.require_connected(f"order {order.id}")
        if not self._reconciled:
            raise NotConnectedError(
                f"cannot send order {order.id}: reconciliation with the IB gateway has not "
                "finished; nothing was sent"
            )

    def _record(self, order: Order) -> None:
        now = pd.Timestamp.now(tz="UTC")
        order.created = order.created or now
        order.updated = now
        self._orders[order.id] = order
        if self._batch is not None:
            self._batch.sent(order)
        self._changed(order)

    def _index(self, order: Order) -> None:
        if order.is_done:
            self._unindex(order.id, order.symbol)
        elif order.id not in self._open:
            self._open[order.id] = order
            self._open_by_symbol.setdefault(order.symbol, {})[order.id] = order

    def _unindex(self, oid: str, symbol: str) -> None:
        if self._open.pop(oid, None) is not None:
            bucket = self._open_by_symbol.get(symbol)
            if bucket is not None:
                bucket.pop(oid, None)
                if not bucket:
                    del self._open_by_symbol[symbol]

    def _changed(self, order: Order) -> None:
        """Keep the working-order index and tell the order callbacks of a new state."""
        self._index(order)
        state = _state(order)
        if self._notified.get(order.id) == state:
            return
        self._notified[order.id] = state
        for callback in list(self._order_callbacks):
            try:
                callback(order)
            except Exception:
                log.exception("order callback %r failed", callback)

    def _bind(self, oid: str, ib_order: Any) -> None:
        self._ib_orders[oid] = ib_order
        if (
            getattr(ib_order, "orderId", 0)
            and ib_order.clientId == self.connection.config.client_id
        ):
            self._by_ib_id[int(ib_order.orderId)] = oid
        if getattr(ib_order, "permId", 0):
            self._by_perm_id[int(ib_order.permId)] = oid

    # ---- prices ----------------------------------------------------------------------------
    def _reference_price(self, order: Order) -> float | None:
        known = self._known_price(order.symbol)
        if known is not None:
            return known
        for candidate in (order.limit, order.stop):
            if candidate:
                return float(candidate)
        return None

    def _known_price(self, symbol: str) -> float | None:
        """The latest price of ``symbol`` from the price source, else its mark; None if unknown."""
        if self.price_source is not None:
            price = self.price_source(symbol)
            if price and price > 0 and math.isfinite(price):
                return float(price)
        return self._mark_price(symbol)

    def _mark_price(self, symbol: str) -> float | None:
        pos = self.portfolio.positions.get(symbol)
        return pos.last_price if pos is not None and pos.last_price > 0 else None

    async def _snapshot_price(self, contract: Any) -> float | None:
        price = await self.connection.market_data.snapshot(contract)
        if price is not None:
            self.mark(self.connection.contracts.name_of(contract), price)
        return price

    def _available_funds(self) -> float:
        for tag in ("AvailableFunds", "TotalCashValue"):
            if tag in self._account_values:
                return self._account_values[tag]
        return self.portfolio.cash

    def _gateway_cash(self) -> float | None:
        """The gateway's cash for ``portfolio.cash``: all of it in the base currency
        (TotalCashValue), less, when the portfolio keeps other currencies apart (in
        ``portfolio.balances``, set here from the gateway's), their value at its rates."""
        total = self._account_values.get("TotalCashValue")
        pf = self.portfolio
        if total is None or not pf.balances:
            return total
        for ccy in pf.balances:
            amount = self._cash_balances.get(ccy, 0.0)
            pf.balances[ccy] = amount
            if amount:
                total -= amount * self._rates.get(ccy, 0.0)
        return total

    def _commission(self, inst: Instrument, qty: float, price: float) -> float:
        """The commission estimated for ``qty`` of ``inst`` at ``price`` (IB's report replaces
        it), by the instrument's kind, in the account's currency."""
        if inst.kind is Kind.STOCK:
            return self.costs.commission(qty, price)
        try:
            rate = self.portfolio.rate(inst.currency)
        except KeyError:
            rate = 1.0  # no rate known yet: an estimate in the price's currency
        return self.costs.commission_for(inst.kind.value, qty, price, rate)

    def _contract(self, symbol: str) -> Any:
        return self.connection.contracts.get(symbol) or stock(symbol)

    # ---- order life cycle from IB ----------------------------------------------------------
    def _our_id(self, ib_order: Any) -> str | None:
        ref = getattr(ib_order, "orderRef", "") or ""
        if ref in self._orders:
            return ref
        perm = getattr(ib_order, "permId", 0)
        if perm and perm in self._by_perm_id:
            return self._by_perm_id[perm]
        return None

    def _on_order_status(self, trade: Any) -> None:
        oid = self._our_id(trade.order)
        if oid is None:
            return
        order = self._orders[oid]
        self._bind(oid, trade.order)
        st = trade.orderStatus
        try:
            status = to_order_status(st.status, st.filled, st.remaining)
        except GatewayError:
            log.warning("order %s: unknown IB status %r", oid, st.status)
            return
        self._apply_status(order, status, trade)

    def _apply_status(self, order: Order, status: OrderStatus, trade: Any) -> None:
        if order.is_done:
            return
        if status in (OrderStatus.FILLED, OrderStatus.PARTIALLY_FILLED):
            return  # fills set these, once they are booked
        if status is OrderStatus.REJECTED:
            self._reject(order, _last_message(trade) or "IB marked the order inactive")
            return
        if status is OrderStatus.CANCELLED:
            entry = _last_entry(trade)
            if entry is not None and entry.errorCode in ORDER_REJECTION_CODES:
                # the client marks a refused order cancelled before it reports the error
                self._reject(order, str(entry.message))
                return
            reason = _last_message(trade) or "cancelled"
            if self._may_have_expired(order):
                task = asyncio.ensure_future(self._end_unasked(order, reason))
                self._ending.add(task)  # kept until done: a task nobody holds may be collected
                task.add_done_callback(self._ending.discard)
                return
            self._finish(order, status, reason)
            return
        if order.filled > _EPS:
            status = OrderStatus.PARTIALLY_FILLED
        if order.status is not status:
            order.status = status
            order.updated = pd.Timestamp.now(tz="UTC")
            self._changed(order)

    def _may_have_expired(self, order: Order) -> bool:
        """Whether IB's cancel of ``order`` may be its GTD time ending (IB reports an expired
        GTD order as cancelled; a backtest, and so the journal, say expired): a GTD order, not
        a cancel we asked for, nor one of an OCA group or a bracket."""
        return (
            order.good_till is not None
            and order.id not in self._cancelling
            and not order.oca_group
            and order.parent_id is None
        )

    async def _end_unasked(self, order: Order, reason: str) -> None:
        """End a GTD order IB cancelled unasked: expired once the gateway's clock has reached
        its time, else cancelled with IB's reason."""
        try:
            now = await self.market_time()
        except Exception as exc:  # no answer: the wall clock is the market's on a real gateway
            log.info("no gateway time for order %s (%s); using the wall clock", order.id, exc)
            now = pd.Timestamp.now(tz="UTC")
        if order.is_done:
            return
        if now >= order.good_till:  # type: ignore[operator]
            self._finish(order, OrderStatus.EXPIRED, gtd_expired(order.good_till))  # type: ignore[arg-type]
        else:
            self._finish(order, OrderStatus.CANCELLED, reason)

    def _on_error(self, event: ErrorEvent) -> None:
        if event.kind not in _ORDER_KINDS:
            return
        oid = self._by_ib_id.get(event.req_id)
        if oid is None:
            return
        order = self._orders[oid]
        if event.kind is ErrorKind.ORDER_CANCELLED:
            if not order.is_done:
                self._finish(order, OrderStatus.CANCELLED, event.message)
            return
        if event.kind is ErrorKind.ORDER_REQUEST_REFUSED:
            # a refused cancel or modification: the order itself is unaffected
            before = self._modified.pop(oid, None) if event.code in (104, 105) else None
            for name, value in (before or {}).items():
                setattr(order, name, value)
            self._report(OrderError(f"order {oid}: IB error {event.code}: {event.message}"))
            return
        # the client cancels a refused order locally before the error arrives: still a rejection
        if not order.is_done or (order.status is OrderStatus.CANCELLED and order.filled <= _EPS):
            self._reject(order, f"IB error {event.code}: {event.message}")

    def _reject(self, order: Order, reason: str) -> None:
        if order.status is OrderStatus.REJECTED:
            return
        self._finish(order, OrderStatus.REJECTED, reason)
        self.rejections.append(Rejection(order.id, order.symbol, order.updated, reason))
        log.warning("order %s %s %g %s rejected: %s", order.id, order.side, order.qty,
                    order.symbol, reason)  # fmt: skip
        self._report(OrderError(f"order {order.id} ({order.side} {order.qty:g} {order.symbol}) "
                                f"rejected: {reason}"))  # fmt: skip

    def _finish(self, order: Order, status: OrderStatus, reason: str) -> None:
        order.status = status
        order.reason = reason or order.reason
        order.updated = pd.Timestamp.now(tz="UTC")
        self._changed(order)

    def _report(self, error: Exception | str) -> None:
        for callback in list(self._error_callbacks):
            try:
                callback(error)
            except Exception:
                log.exception("error callback %r failed", callback)

    # ---- fills -----------------------------------------------------------------------------
    def _on_exec_details(self, trade: Any, ib_fill: Any) -> None:
        exec_id = ib_fill.execution.execId
        if exec_id in self._seen_execs or exec_id in self._pending:
            return
        if not self._is_our_account(ib_fill.execution.acctNumber):
            return
        report = ib_fill.commissionReport
        if report is not None and report.execId == exec_id:
            self._book(ib_fill, report.commission)
            return
        loop = asyncio.get_running_loop()
        timer = loop.call_later(COMMISSION_WAIT, self._book_pending, exec_id)
        self._pending[exec_id] = (ib_fill, timer)

    def _on_commission(self, trade: Any, ib_fill: Any, report: Any) -> None:
        exec_id = report.execId or ib_fill.execution.execId
        pending = self._pending.pop(exec_id, None)
        if pending is None:
            self._correct(exec_id, report.commission)
            return
        if pending[1] is not None:
            pending[1].cancel()
        self._book(pending[0], report.commission)

    def _correct(self, exec_id: str, commission: float) -> None:
        """IB's report for a fill booked with an estimate: book the difference, once."""
        booked = self._estimated.get(exec_id)
        if booked is None or not _is_commission(commission):
            return
        del self._estimated[exec_id]
        if abs(float(commission) - booked.commission) <= 1e-9:
            return  # the estimate was right (or the journal had IB's already)
        if exec_id in self._restored:  # booked by an earlier run: only its books change
            self._restored.discard(exec_id)
            fixed = dataclasses.replace(booked, commission=float(commission))
        else:
            fixed = self.portfolio.correct_commission(booked, commission)
        for i in range(len(self.fills) - 1, -1, -1):
            if self.fills[i].exec_id == exec_id:
                self.fills[i] = fixed
                break
        log.info("commission of execution %s: IB's %.4f replaces the estimate %.4f", exec_id,
                 fixed.commission, booked.commission)  # fmt: skip
        for callback in list(self._commission_callbacks):
            try:
                callback(booked, fixed)
            except Exception:
                log.exception("commission callback %r failed", callback)

    def _book_pending(self, exec_id: str) -> None:
        pending = self._pending.pop(exec_id, None)
        if pending is not None:
            log.info("no commission report for execution %s; booking an estimate", exec_id)
            self._book(pending[0], None)

    def _book(self, ib_fill: Any, commission: float | None) -> Fill | None:
        """Turn one IB execution into one ``Fill``, book it once, tell the callbacks."""
        ex = ib_fill.execution
        if ex.execId in self._seen_execs:
            return None
        self._seen_execs.add(ex.execId)
        symbol = self.connection.contracts.name_of(ib_fill.contract)
        side = from_ib_side(ex.side)
        qty, price = float(ex.shares), float(ex.price)
        estimated = not _is_commission(commission)
        if estimated:
            inst = self.connection.contracts.instrument(symbol)
            commission = self._commission(inst, qty, price)
        oid = ex.orderRef if ex.orderRef in self._orders else None
        if oid is None and ex.permId in self._by_perm_id:
            oid = self._by_perm_id[ex.permId]
        time = to_utc(ex.time, "execution time") if ex.time else pd.Timestamp.now(tz="UTC")
        fill = Fill(
            order_id=oid or ex.orderRef or f"ib-{ex.permId}",
            symbol=symbol,
            side=side,
            qty=qty,
            price=price,
            commission=float(commission),
            time=time,
            exec_id=ex.execId,
            source="ib" if oid is not None else "outside",
        )
        self.portfolio.apply_fill(fill)
        self.fills.append(fill)
        if estimated:
            self._estimated[ex.execId] = fill
        for callback in list(self._booking_callbacks):
            try:
                callback(fill)
            except Exception:
                log.exception("booking callback %r failed", callback)
        if self._last_exec_time is None or time > self._last_exec_time:
            self._last_exec_time = time
        if oid is not None:
            order = self._orders[oid]
            total = order.filled + qty
            order.avg_price = (order.avg_price * order.filled + price * qty) / total
            order.filled = total
            if order.remaining <= _EPS:
                self._finish(order, OrderStatus.FILLED, "")
            elif not order.is_done:
                order.status = OrderStatus.PARTIALLY_FILLED
                self._changed(order)
            if ex.permId:
                self._by_perm_id[int(ex.permId)] = oid
        log.info("fill %s: %s %g %s @ %.4f (order %s)", ex.execId, side, qty, symbol, price,
                 fill.order_id)  # fmt: skip
        for callback in list(self._fill_callbacks):
            try:
                callback(fill)
            except Exception:
                log.exception("fill callback %r failed", callback)
        return fill

    def _is_our_account(self, account: str) -> bool:
        ours = self.connection.account
        return not account or not ours or account == ours

    # ---- account values --------------------------------------------------------------------
    def _on_account_value(self, value: Any) -> None:
        if not self._is_our_account(value.account):
            return
        try:
            number = float(value.value)
        except (TypeError, ValueError):
            return
        if value.currency not in ("BASE", "", self.portfolio.base_currency):
            if value.tag == "CashBalance":
                self._cash_balances[value.currency] = number
            elif value.tag == "ExchangeRate":
                self._rates[value.currency] = number
        if value.currency not in ("USD", "BASE", ""):
            return
        # a tag IB reports per currency (CashBalance, RealizedPnL, ...) has a USD line with the
        # dollars alone and a BASE line with the account's total: keep the total
        if value.currency == "BASE":
            self._base_tags.add(value.tag)
        elif value.tag in self._base_tags:
            return
        self._account_values[value.tag] = number

    def _on_portfolio_item(self, item: Any) -> None:
        if self._is_our_account(item.account) and item.marketPrice and item.marketPrice > 0:
            self.mark(self.connection.contracts.name_of(item.contract), float(item.marketPrice))

    def _on_position(self, position: Any) -> None:
        """A position we cannot explain (a trade made in TWS or by another client) makes us
        book the executions we missed; our own fills always arrive before their position."""
        if not self._reconciled or not self._is_our_account(position.account):
            return
        symbol = self.connection.contracts.name_of(position.contract)
        if abs(self.portfolio.position(symbol).qty - float(position.position)) <= _EPS:
            return
        names = self.connection.contracts.name_of
        if any(names(f.contract) == symbol for f, _ in self._pending.values()):
            return  # our fill waits for its commission report
        if self._catching_up is None or self._catching_up.done():
            self._catching_up = asyncio.ensure_future(self._catch_up())
        else:
            self._catch_up_again = True  # its answers may predate this position

    async def _catch_up(self) -> None:
        """Book the executions we missed, then take the gateway's positions: only from a
        snapshot no fill was booked around (else it would count twice), asking again if one was."""
        ib = self.connection.ib
        missed = 0
        try:
            missed += self._book_missed(await ib.reqExecutionsAsync(self._executions_filter()))
            for _ in range(3):
                booked = self.portfolio.fill_count
                positions = await ib.reqPositionsAsync()
                missed += self._book_missed(await ib.reqExecutionsAsync(self._executions_filter()))
                if self.portfolio.fill_count == booked:
                    await self._reconcile_positions(positions)
                    break
        except (ConnectionError, OSError) as exc:
            log.info("catching up with the account's executions failed: %s", exc)
            return
        cash = self._gateway_cash()
        if cash is not None:
            self.portfolio.cash = cash
        if missed:
            self._report(f"{missed} execution(s) made outside this session were booked")
        if self._catch_up_again and self._reconciled:
            self._catch_up_again = False
            self._catching_up = asyncio.ensure_future(self._catch_up())

    # ---- connection life cycle -------------------------------------------------------------
    def _hook(self) -> None:
        if self._hooked:
            return
        ib = self.connection.ib
        ib.orderStatusEvent += self._on_order_status
        ib.execDetailsEvent += self._on_exec_details
        ib.commissionReportEvent += self._on_commission
        ib.accountValueEvent += self._on_account_value
        ib.updatePortfolioEvent += self._on_portfolio_item
        ib.positionEvent += self._on_position
        self._hooked = True

    async def _on_connected(self, reconnected: bool) -> None:
        self._hook()
        await self.reconcile()

    def _on_disconnected(self) -> None:
        self._reconciled = False

    async def reconcile(self) -> None:
        """Match our state to the gateway's before anything is sent (every connect/reconnect).

        Open orders are re-bound by orderRef/permId, missed executions are booked once, and
        positions and cash are set to the gateway's, with any difference logged.
        """
        self._reconciled = False
        self._cancelling.clear()  # the gateway's state decides; a cancel may be asked again
        self._hook()
        ib = self.connection.ib
        for value in ib.accountValues(self.connection.account or ""):
            self._on_account_value(value)
        open_trades = await ib.reqAllOpenOrdersAsync()
        bound = 0
        known: set[str] = set()
        # the client's trades include the open orders just reported: visit each trade once
        for trade in {id(t): t for t in [*open_trades, *ib.trades()]}.values():
            oid = self._our_id(trade.order)
            if oid is None:
                continue
            bound += 1
            known.add(oid)
            self._bind(oid, trade.order)
            try:
                status = to_order_status(
                    trade.orderStatus.status, trade.orderStatus.filled, trade.orderStatus.remaining
                )
            except GatewayError:
                continue
            self._apply_status(self._orders[oid], status, trade)
        ib_fills = await ib.reqExecutionsAsync(self._executions_filter())
        known.update(f.execution.orderRef for f in ib_fills)
        missed = self._book_missed(ib_fills)
        reported = {f.execution.execId for f in ib_fills}
        for exec_id in [e for e in self._estimated if e not in reported]:
            del self._estimated[exec_id]  # too old for the gateway: no report will come
            self._restored.discard(exec_id)
        self._resolve_unknown(known)
        await self._reconcile_positions(await ib.reqPositionsAsync())
        cash = self._gateway_cash()
        if cash is not None:
            if abs(cash - self.portfolio.cash) > 0.01:
                log.info("cash set to the gateway's %.2f (ours was %.2f)", cash,
                         self.portfolio.cash)  # fmt: skip
            self.portfolio.cash = cash
            if self.portfolio.fill_count == 0 and not self.fills:
                self.portfolio.initial_cash = cash
        if self.day_start_equity is None:
            self.day_start_equity = self.get_account_value()
        self._reconciled = True
        log.info("reconciled with account %s: %d order(s) bound, %d missed fill(s) booked, "
                 "%d open position(s)", mask_account(self.connection.account), bound, missed,
                 len(self.portfolio.open_positions()))  # fmt: skip

    def _executions_filter(self) -> Any:
        flt = ExecutionFilter(acctCode=self.connection.account or "")
        times = [f.time for f in self._estimated.values()]  # still waiting for their reports
        if self._last_exec_time is not None:
            times.append(self._last_exec_time)
        if times:
            since = min(times) - pd.Timedelta(seconds=1)
            flt.time = since.strftime("%Y%m%d-%H:%M:%S")
        return flt

    def _book_missed(self, ib_fills: list[Any]) -> int:
        """Book the executions among ``ib_fills`` not booked yet; returns how many."""
        missed = 0
        for ib_fill in sorted(ib_fills, key=lambda f: f.time):
            exec_id = ib_fill.execution.execId
            if not self._is_our_account(ib_fill.execution.acctNumber):
                continue
            report = ib_fill.commissionReport
            commission = report.commission if report and report.execId == exec_id else None
            if exec_id in self._seen_execs:
                if commission is not None:
                    self._correct(exec_id, commission)
                continue
            pending = self._pending.pop(exec_id, None)
            if pending is not None and pending[1] is not None:
                pending[1].cancel()
            if self._book(ib_fill, commission) is not None:
                missed += 1
        return missed

    def _resolve_unknown(self, known: set[str]) -> None:
        """Close our working orders the gateway knows nothing of; never resend them."""
        for order in [o for o in self._open.values() if o.id not in known and not o.is_done]:
            sent = order.id in self._ib_orders or order.status is not OrderStatus.PENDING
            if not sent:
                log.info("order %s was %s", order.id, NOT_SENT)
                self._finish(order, OrderStatus.CANCELLED, NOT_SENT)
                continue
            reason = (
                "unknown to the IB gateway after reconnecting: no open order, execution or "
                f"completed order has orderRef {order.id}; marked cancelled, not resent"
            )
            log.warning("order %s %s %g %s: %s", order.id, order.side, order.qty, order.symbol,
                        reason)  # fmt: skip
            self._finish(order, OrderStatus.CANCELLED, reason)
            self._report(OrderError(f"order {order.id} ({order.side} {order.qty:g} "
                                    f"{order.symbol}): {reason}"))  # fmt: skip

    async def _reconcile_positions(self, positions: list[Any]) -> None:
        theirs: dict[str, tuple[float, float]] = {}
        for p in positions:
            if not self._is_our_account(p.account):
                continue
            kind = p.contract.secType
            if kind in ("FUT", "CASH"):  # by our name; a future's avgCost is per contract
                per = float(getattr(p.contract, "multiplier", "") or 1) if kind == "FUT" else 1.0
                name = self.connection.contracts.name_of(p.contract)
                theirs[name] = (float(p.position), float(p.avgCost) / per)
                continue
            if kind not in ("STK", ""):
                continue
            theirs[p.contract.symbol] = (float(p.position), float(p.avgCost))
            self.connection.contracts.put(p.contract.symbol, p.contract)
        for symbol in set(theirs) | set(self.portfolio.open_positions()):
            qty, avg = theirs.get(symbol, (0.0, 0.0))
            ours = self.portfolio.position(symbol)
            before = ours.qty
            if abs(before - qty) > _EPS:
                log.warning("position %s: ours %g, gateway %g; taking the gateway's", symbol,
                            before, qty)  # fmt: skip
            self.portfolio.set_position(symbol, qty, avg)
            if ours.last_price <= 0 and avg > 0:
                ours.last_price = avg
            if abs(before - qty) > _EPS:
                for callback in list(self._position_callbacks):
                    try:
                        callback(symbol, before, qty)
                    except Exception:
                        log.exception("position callback %r failed", callback)


def _validate(order: Order) -> None:
    if not isinstance(order.qty, int | float) or not order.qty > 0 or not math.isfinite(order.qty):
        raise OrderError(f"order {order.id}: quantity must be positive, got {order.qty!r}")
    kind = order.type
    if kind in (OrderType.LIMIT, OrderType.STOP_LIMIT) and not order.limit:
        raise OrderError(f"order {order.id}: a {kind.name} order needs limit=")
    if kind in (OrderType.STOP, OrderType.STOP_LIMIT) and not order.stop:
        raise OrderError(f"order {order.id}: a {kind.name} order needs stop=")
    if kind is OrderType.TRAILING_STOP and not (order.trail_amount or order.trail_percent):
        raise OrderError(f"order {order.id}: a trailing stop needs trail_amount= or trail_percent=")
    if kind is OrderType.LIMIT_ON_CLOSE and not order.limit:
        raise OrderError(f"order {order.id}: a limit-on-close order needs limit=")
    check_combination(order)


def _is_commission(value: Any) -> bool:
    """A commission IB actually reported (not missing, NaN or its "unset" marker)."""
    return value is not None and math.isfinite(value) and value < _UNSET


def _state(order: Order) -> tuple[Any, ...]:
    return (order.status, order.filled, order.reason)


def _last_message(trade: Any) -> str:
    for entry in reversed(getattr(trade, "log", []) or []):
        if entry.message:
            return str(entry.message)
    return ""


def _last_entry(trade: Any) -> Any:
    log_ = getattr(trade, "log", None)
    return log_[-1] if log_ else None


__all__ = ["LiveBroker"]


async def _wall_time() -> pd.Timestamp:
    return pd.Timestamp.now(tz="UTC")
