"""The simulated account: orders, matching, fills, executions, positions and account values.

Fills are decided by ``quantnb.domain.matching.match``, priced by ``CostModel`` and booked in a
``Portfolio``: the backtest's own rules, not a second copy. Every operation returns the events
it caused, in the order IB sends them; the server turns events into messages. No sockets here,
so the account outlives disconnects and restarts (and pickles for subprocess mode).
"""

from __future__ import annotations

import logging
import math
from dataclasses import replace

import numpy as np
import pandas as pd

from quantnb.domain import oca
from quantnb.domain.accounting import Portfolio
from quantnb.domain.auction import OPEN, auction_of, auction_price
from quantnb.domain.costs import CostModel
from quantnb.domain.matching import match, pessimistic_pick
from quantnb.domain.model import Fill, Order, OrderStatus, Side
from quantnb.errors import ConfigError, GatewayError
from quantnb.sim import account_values, order_rules
from quantnb.sim.config import SimConfig
from quantnb.sim.contracts import SimContract
from quantnb.sim.ledger import Ledger
from quantnb.sim.market import NS, POST, REGULAR, Market, Slice
from quantnb.sim.ordering import Event, OrderDesk, extended_hours, open_event, status_event
from quantnb.sim.placement import OrderRequest
from quantnb.sim.records import (
    CANCELLED,
    FILLED,
    PRE_SUBMITTED,
    SUBMITTED,
    ExecutionRecord,
    OrderRecord,
)
from quantnb.sim.settlement import last_settlement
from quantnb.sim.transmit import Untransmitted

log = logging.getLogger(__name__)

_EPS = 1e-9

__all__ = ["Account", "Event", "OrderRequest"]


def _in_auction(rec: OrderRecord) -> bool:
    return rec.order_type in ("MOC", "LOC") or rec.tif == "OPG"


class Account(OrderDesk):
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
        self.untransmitted = Untransmitted()
        self.ledger = Ledger()  # futures and FX: margin, P&L and cash per currency
        self.previous_day_equity = self.portfolio.equity  # at the last session's close

    # --- matching ---

    def _match_now(self, rec: OrderRecord) -> list[Event]:
        """Match a new or modified order against the current price, as a one-price bar, when
        the market is open for it (futures and FX: their own hours); auction orders wait for
        their auction, IOC/FOK orders trade now or are cancelled (placed while the market is
        closed for them, at its first price when it opens: IB's "as soon as it becomes
        available in the market")."""
        if rec.held or _in_auction(rec):
            return []
        if rec.contract.is_stock:
            extended = extended_hours(rec.order_type, rec.outside_rth, rec.tif)
            trading = self.market.trading_now(extended)
        else:  # a future or pair trades its own hours (not in the daily halt or at weekends)
            trading = self.market.trades_now(rec.contract.symbol)
        if rec.tif in ("IOC", "FOK") and trading:
            return self._immediate(rec)
        if not trading:
            return []
        last = self.market.last[rec.contract.symbol]
        return self._try(rec, last, last, last, last)

    def _immediate(self, rec: OrderRecord, price: float | None = None) -> list[Event]:
        """IOC: what trades at the price now (or ``price``, a slice's open) within the bar's
        liquidity, the rest cancelled; FOK: all of it now, or nothing."""
        events: list[Event] = []
        p = self.market.last[rec.contract.symbol] if price is None else price
        hit = self._match(rec, p, p, p, p, events)
        capacity = self._capacity(rec.contract.symbol)
        if hit is not None and not (rec.tif == "FOK" and capacity < rec.remaining - _EPS):
            events += self._take(rec, *hit)
        if not rec.is_done:
            self._finish(rec, CANCELLED, f"{rec.tif} order cancelled: not filled at once")
            events.append(status_event(rec))
        return events

    def _auctions(self, recs: list[OrderRecord], s: Slice) -> list[Event]:
        """Fill the orders of the auction this slice holds: OPG orders at its open when it
        opens the session, MOC/LOC at its close when it closes it. LOO/LOC orders whose limit
        the auction price misses are cancelled."""
        opening, closing = self.market.session_edges()
        events: list[Event] = []
        for rec in recs:
            which = auction_of(rec.order)
            if rec.is_done or rec.held or which is None:
                continue
            if not (opening if which == OPEN else closing):
                continue
            price = auction_price(rec.order, s.open if which == OPEN else s.close)
            if price is not None:
                events += self._take(rec, price, False)
            if not rec.is_done:
                name = "limit-on-open" if which == OPEN else "limit-on-close"
                self._finish(rec, CANCELLED, f"{name} order not filled in the auction")
                events.append(status_event(rec))
        return events

    def _expire_gtd(self, recs: list[OrderRecord]) -> list[Event]:
        """GTD orders whose time has come are cancelled, as IB reports their expiry."""
        events: list[Event] = []
        now = self.market.now()
        for rec in list(recs):
            if rec.tif == "GTD" and order_rules.expired(rec, now):
                self._finish(rec, CANCELLED, "GTD order expired")
                events.append(status_event(rec))
        return events

    def on_slices(self, slices: list[Slice]) -> list[Event]:
        """Expire DAY orders whose session is over, then match working orders against each
        slice: outside regular hours only the orders allowed to trade there."""
        events = self._expire_trade_dates()
        for s in slices:
            recs = self.working.get(s.symbol)
            if not recs:
                continue
            if s.new_day or s.phase == POST:
                events += self._expire(recs, self.market.days[s.symbol].key, s.phase == POST)
            if any(r.tif == "GTD" or _in_auction(r) for r in recs):
                events += self._expire_gtd(recs)
                events += self._auctions(list(recs), s)
                recs = [r for r in recs if not _in_auction(r)]
            if s.phase != REGULAR:  # futures and FX trade their whole session
                recs = [
                    r
                    for r in recs
                    if not r.contract.is_stock or extended_hours(r.order_type, r.outside_rth, r.tif)
                ]
            held = [r for r in recs if r.tif in ("IOC", "FOK") and not r.is_done]
            for rec in held:  # placed while the market was closed for them: its first price
                events += self._immediate(rec, s.open)
            if held:
                recs = [r for r in recs if r.tif not in ("IOC", "FOK")]
            events += self._match_slice(recs, s.open, s.high, s.low, s.close)
        return events

    def _expire_trade_dates(self) -> list[Event]:
        """A future's or FX pair's DAY order ends with its trade date (17:00 New York), whether
        or not its market trades then (CME halts from 17:00)."""
        m = self.market
        t = m.bar_ns + (m.elapsed - 1) * m.slice_ns  # the start of the slice just played
        events: list[Event] = []
        for recs in list(self.working.values()):
            for rec in list(recs):
                if rec.day_end is not None and t >= rec.day_end and not rec.is_done:
                    self._finish(rec, CANCELLED, "DAY order expired")
                    events.append(status_event(rec))
        return events

    def _expire(self, recs: list[OrderRecord], day: int, after_close: bool) -> list[Event]:
        """A stock's DAY orders end with its session: regular-hours ones at its close, the ones
        that trade outside regular hours when the after-hours session ends."""
        events: list[Event] = []
        for rec in list(recs):
            if rec.tif != "DAY" or rec.day_end is not None or rec.day > day:
                continue
            if rec.day < day or (
                after_close and not extended_hours(rec.order_type, rec.outside_rth, rec.tif)
            ):
                self._finish(rec, CANCELLED, "DAY order expired")
                events.append(status_event(rec))
        return events

    def _match_slice(
        self, recs: list[OrderRecord], o: float, h: float, lo: float, c: float
    ) -> list[Event]:
        """Match working orders against one slice. When several orders that cancel each other
        (an OCA group, or the exits of one bracket) all trade in it, OHLC cannot say which came
        first: ``pessimistic_pick`` chooses, as the backtest broker does."""
        hits: list[tuple[Order, float, bool]] = []
        owner: dict[int, OrderRecord] = {}
        events: list[Event] = []
        for rec in list(recs):
            if rec.is_done or rec.held:
                continue
            hit = self._match(rec, o, h, lo, c, events)
            if hit is not None:
                hits.append((rec.order, *hit))
                owner[id(rec.order)] = rec
        if not hits:
            return events
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

    def _match(
        self, rec: OrderRecord, o: float, h: float, lo: float, c: float, events: list[Event]
    ) -> tuple[float, bool] | None:
        """The domain's match; a stop that triggers becomes Submitted, and says so."""
        hit = match(rec.order, o, h, lo, c)
        if rec.status == PRE_SUBMITTED and (rec.order.triggered or hit is not None):
            rec.status = SUBMITTED
            events.append(status_event(rec))
        return hit

    def _try(self, rec: OrderRecord, o: float, h: float, lo: float, c: float) -> list[Event]:
        events: list[Event] = []
        hit = self._match(rec, o, h, lo, c, events)
        return events if hit is None else events + self._take(rec, *hit)

    def _take(self, rec: OrderRecord, price: float, slips: bool) -> list[Event]:
        """Fill what the liquidity left in this bar allows of an order that traded."""
        qty = min(rec.remaining, self._capacity(rec.contract.symbol))
        if qty <= _EPS:
            return []
        return self._fill(rec, qty, price, slips)

    def _book(
        self, symbol: str, side: Side, qty: float, price: float, slips: bool, perm_id: int
    ) -> tuple[Fill, float | None]:
        """Book one execution in the portfolio, priced by the cost model: the fill, and IB's
        realized P&L (net of the opening and closing commissions) when it closes a position
        (else None)."""
        contract = self.market.contracts.get(symbol)
        other = contract is not None and not contract.is_stock
        if other:
            assert contract is not None
            fill_price = price  # no slippage model for futures and FX: they fill at the price
            commission = self.ledger.commission(contract, qty, price, self.rate(contract.currency))
        else:
            fill_price = round(self.costs.fill_price(price, side.value), 4) if slips else price
            commission = round(self.costs.commission(qty, fill_price), 4)
        self._exec_seq += 1
        fill = Fill(
            order_id="",
            symbol=symbol,
            side=side,
            qty=qty,
            price=fill_price,
            commission=commission,
            time=self.market.now(),
            exec_id=f"{perm_id:08x}.{self._exec_seq:08x}.01.01",
            slippage=abs(fill_price - price),
            source="sim",
        )
        if other:
            assert contract is not None
            signed = qty if side is Side.BUY else -qty
            held = self.ledger.holdings.get(symbol)
            before, held_commission = (held.qty, held.open_commission) if held else (0.0, 0.0)
            realized = self.ledger.book(contract, signed, fill_price, commission)
            if before == 0 and contract.sec_type == "FUT":  # settled daily from now on
                self.ledger.holdings[symbol].settled_at = self.market.now_ns()
            index, used = self._used.get(symbol, (self.market.index, 0.0))
            self._used[symbol] = (
                self.market.index, (used if index == self.market.index else 0) + qty
            )  # fmt: skip
            if before == 0 or (before > 0) == (side is Side.BUY):
                return fill, None
            closed = min(qty, abs(before))
            costs = held_commission * closed / abs(before) + commission * closed / qty
            return fill, round(realized - costs, 4)
        pos = self.portfolio.position(symbol)
        before, held_commission = pos.qty, pos.open_commission
        realized = self.portfolio.apply_fill(fill)
        self.portfolio.mark(symbol, self.market.last[symbol])
        index, used = self._used.get(symbol, (self.market.index, 0.0))
        self._used[symbol] = (self.market.index, (used if index == self.market.index else 0) + qty)
        if before == 0 or (before > 0) == (side is Side.BUY):
            return fill, None
        # IB measures realized P&L from the average cost, so the commissions paid to open the
        # closed shares count against it, with this fill's commission on the shares it closes
        closed = min(qty, abs(before))
        costs = held_commission * closed / abs(before) + commission * closed / qty
        return fill, round(realized - costs, 4)

    def _fill(self, rec: OrderRecord, qty: float, price: float, slips: bool) -> list[Event]:
        symbol = rec.contract.symbol
        fill, realized = self._book(symbol, rec.order.side, qty, price, slips, rec.perm_id)
        total = rec.filled + qty
        rec.avg_price = (rec.avg_price * rec.filled + fill.price * qty) / total
        rec.filled = total
        rec.last_fill_price = fill.price
        rec.order.filled, rec.order.avg_price = total, rec.avg_price
        execution = ExecutionRecord(
            exec_id=fill.exec_id,
            client_id=rec.client_id,
            order_id=rec.order_id,
            perm_id=rec.perm_id,
            contract=rec.contract,
            side="BOT" if fill.side is Side.BUY else "SLD",
            shares=qty,
            price=fill.price,
            time=fill.time,
            account=self.id,
            cum_qty=total,
            avg_price=rec.avg_price,
            order_ref=rec.order_ref,
            commission=fill.commission,
            realized_pnl=realized,
        )
        self.executions.append(execution)
        done = rec.remaining <= _EPS
        if done:
            self._finish(rec, FILLED, "Filled")
        else:
            rec.status = SUBMITTED
            rec.order.status = OrderStatus.PARTIALLY_FILLED
        events: list[Event] = [("fill", replace(rec), execution), ("position", symbol)]
        siblings = self._siblings(rec)
        kind = rec.order.oca_type if rec.oca_group else oca.CANCEL
        left = oca.after_fill(kind, qty, [r.remaining for r in siblings])
        for sibling, rest in zip(siblings, left, strict=True):
            if rest is None:
                self._finish(sibling, CANCELLED, "OCA group filled")
                events.append(status_event(sibling))
            else:  # reduced by the fill: IB reports the order with its new size
                sibling.qty = sibling.order.qty = sibling.filled + rest
                events.append(open_event(sibling))
        if done:
            for child in self._children(rec):
                if child.held:
                    child.held = False
                    stop = child.order_type in ("STP", "STP LMT")
                    child.status = PRE_SUBMITTED if stop else SUBMITTED
                    events.append(status_event(child))
                    events += self._match_now(child)
        return events

    def trade_outside(
        self, symbol: str, qty: float, price: float | None, client_id: int
    ) -> list[Event]:
        """A trade made outside this API session (another client, or by hand in TWS): the
        account changes and the execution is recorded, under order id 0."""
        if symbol not in self.market.contracts:
            raise GatewayError(f"unknown symbol {symbol!r}; the universe is {self.market.symbols}")
        if not qty or math.isnan(qty):
            raise ConfigError(f"qty={qty!r} must be a non-zero number of shares (negative sells)")
        if price is not None and not price > 0:
            raise ConfigError(f"price={price!r} must be positive, or None for the market price")
        side = Side.BUY if qty > 0 else Side.SELL
        self._perm_seq += 1
        perm_id = self._new_perm_id()
        market = price is None
        fill, realized = self._book(
            symbol, side, abs(qty), self.market.last[symbol] if market else price, market, perm_id
        )
        execution = ExecutionRecord(
            exec_id=fill.exec_id,
            client_id=client_id,
            order_id=0,
            perm_id=perm_id,
            contract=self.market.contracts[symbol],
            side="BOT" if side is Side.BUY else "SLD",
            shares=abs(qty),
            price=fill.price,
            time=fill.time,
            account=self.id,
            cum_qty=abs(qty),
            avg_price=fill.price,
            order_ref="",
            commission=fill.commission,
            realized_pnl=realized,
        )
        self.executions.append(execution)
        return [("exec", execution), ("position", symbol)]

    def mark(self, slices: list[Slice]) -> list[str]:
        """Mark positions at the slices' prices; futures held past their daily settlement are
        settled (their day's P&L paid into cash). Returns the symbols settled."""
        if any(s.new_day for s in slices):
            # still marked at the last session's closing prices
            self.previous_day_equity = self.portfolio.equity
        settled = []
        for s in slices:
            pos = self.portfolio.positions.get(s.symbol)
            if pos is not None:
                pos.last_price = s.close
            self.ledger.mark(s.symbol, s.close)
            h = self.ledger.holdings.get(s.symbol)
            if h is not None and h.is_future and h.qty and h.contract.instrument is not None:
                inst = h.contract.instrument
                due = last_settlement(inst.calendar, inst.exchange, s.time + self.market.slice_ns)
                if due is not None and due > h.settled_at:
                    amount = self.ledger.settle(s.symbol, s.close, due)
                    log.info("%s settled at %s: %.2f %s of variation margin",
                             s.symbol, s.close, amount, h.contract.currency)  # fmt: skip
                    settled.append(s.symbol)
        return settled

    def rate(self, currency: str) -> float:
        """USD per unit of ``currency``, from the last price of a pair served (1 for USD)."""
        if currency == "USD":
            return 1.0
        last = self.market.last
        direct, inverse = last.get(f"{currency}USD"), last.get(f"USD{currency}")
        if direct is not None and direct > 0:
            return float(direct)
        if inverse is not None and inverse > 0:
            return 1.0 / float(inverse)
        return 1.0

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
            if symbol and symbol.upper() not in (e.contract.symbol, e.contract.ib_symbol):
                continue
            if side and e.side != {"BUY": "BOT", "SELL": "SLD"}.get(side.upper(), side.upper()):
                continue
            out.append(e)
        return out

    def values(self) -> dict[str, float]:
        """Account values IB reports, from the one accounting (``quantnb.sim.account_values``)."""
        now = self.market.now_ns()
        recent = []
        for e in reversed(self.executions):  # the day trades of the last week count
            if e.time.value < now - 8 * 86_400 * NS:
                break
            recent.append(e)
        days = self.market.day_keys(np.array([e.time.value for e in recent], dtype=np.int64))
        trades = [(e.contract.symbol, int(d), e.side) for e, d in zip(recent, days, strict=True)]
        margin = self.config.account_type != "cash"
        values = account_values.compute(
            self.portfolio,  # positions are marked at every slice and fill
            margin=margin,
            leverage=self.config.leverage,
            previous_day_equity=self.previous_day_equity,
            pnl=self.pnl(),
            day_trades=account_values.count_day_trades(trades, self.market.day_key(now)),
        )
        if not self.ledger.holdings:
            return values
        return self.ledger.adjust(values, self.rate, self.config.leverage, margin)

    def pnl(self) -> tuple[float, float]:
        """Unrealized and realized P&L of the account, as IB splits them: the commissions of
        the shares still held count against unrealized P&L, the others against realized."""
        p = self.portfolio
        held = sum(pos.open_commission for pos in p.positions.values() if pos.qty)
        return p.unrealized_pnl - held, p.realized_pnl - (p.commissions - held)

    def positions(self) -> list[tuple[SimContract, float, float]]:
        """(contract, qty, average cost with commissions, as IB's) of every symbol ever held,
        flat ones included."""
        return [
            (self.market.contracts[s], pos.qty, pos.avg_cost)
            for s, pos in self.portfolio.positions.items()
            if s in self.market.contracts
        ] + [(h.contract, h.qty, h.avg_cost) for h in self.ledger.holdings.values()]
