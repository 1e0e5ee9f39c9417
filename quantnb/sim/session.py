"""One client connection: handshake, start-up, then a table from incoming message id to handler.

A session holds only what belongs to the connection (client id, subscriptions, output buffer);
market and account live in the server's ``SimState`` and outlive the session.
"""

from __future__ import annotations

import asyncio
import logging
import math
import socket
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from quantnb.sim import history
from quantnb.sim import messages as msg
from quantnb.sim.account import OrderRequest
from quantnb.sim.contracts import ContractQuery, SimContract, resolve
from quantnb.sim.market import EXCHANGE_TZ, NS, Slice
from quantnb.sim.records import ExecutionRecord, OrderRecord
from quantnb.sim.wire import FrameReader, ProtocolError, handshake_reply, negotiate, parse_ib_time
from quantnb.sim.wire import parse_version_range as _parse_versions

if TYPE_CHECKING:
    from quantnb.sim.server import Server

log = logging.getLogger(__name__)

_NO_SECURITY = "No security definition has been found for the request"
_HMDS = "Historical Market Data Service error message:"
# live and delayed tick types: bid, ask, last, high, low, close, open, volume
_LIVE_TICKS = (1, 2, 4, 6, 7, 9, 14, 8)
_DELAYED_TICKS = (66, 67, 68, 72, 73, 75, 76, 74)
_WHAT_TO_SHOW = {
    "TRADES",
    "MIDPOINT",
    "BID",
    "ASK",
    "BID_ASK",
    "ADJUSTED_LAST",
    "HISTORICAL_VOLATILITY",
    "OPTION_IMPLIED_VOLATILITY",
    "AGGTRADES",
    "SCHEDULE",
}
_STRING_VALUES = (("AccountType", "INDIVIDUAL", ""), ("Currency", "USD", "USD"))


@dataclass(slots=True)
class _LiveBars:
    """A keep-up-to-date historical subscription: the bar being built."""

    symbol: str
    size: history.BarSize
    format_date: int
    key: int = -1
    label: str = ""
    o: float = math.nan
    h: float = math.nan
    lo: float = math.nan
    c: float = math.nan
    v: float = 0.0


class Session(asyncio.Protocol):
    """The server side of one API connection."""

    def __init__(self, server: Server) -> None:
        self.server = server
        self.state = server.state
        self.reader = FrameReader(expect_prefix=True)
        self.phase = "handshake"
        self.version = 0
        self.client_id: int | None = None
        self.transport: asyncio.Transport | None = None
        self.out: list[bytes] = []
        self.pending: list[list[str]] = []
        self.data_type = 1
        self.ticks: dict[str, list[int]] = {}  # symbol -> reqIds
        self.tick_symbols: dict[int, str] = {}
        self.rt_bars: dict[int, str] = {}
        self.live_bars: dict[int, _LiveBars] = {}
        self.positions_sub = False
        self.account_sub = False
        self.account_multi: set[int] = set()
        self.summaries: dict[int, set[str] | None] = {}
        self.pnl_subs: set[int] = set()
        self.pnl_single: dict[int, str] = {}

    # --- transport ---

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        sock = transport.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.server.sessions.add(self)

    def connection_lost(self, exc: Exception | None) -> None:
        self.phase = "closed"
        self.server.forget(self)

    def data_received(self, data: bytes) -> None:
        try:
            frames = self.reader.feed(data)
        except ProtocolError as exc:
            log.warning("closing a connection that broke the protocol: %s", exc)
            self.close()
            return
        for fields in frames:
            if self.phase == "ready" and (self.server.paused or self.pending):
                self.pending.append(fields)
                continue
            self.handle(fields)
        self.flush()

    def send(self, data: bytes) -> None:
        self.out.append(data)

    def flush(self) -> None:
        """Write what has been queued, after the configured latency."""
        if not self.out or self.transport is None or self.transport.is_closing():
            self.out.clear()
            return
        data = b"".join(self.out)
        self.out.clear()
        latency = self.server.latency
        if latency > 0:
            asyncio.get_running_loop().call_later(latency, self._write, data)
        else:
            self.transport.write(data)

    def _write(self, data: bytes) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(data)

    def close(self) -> None:
        self.flush()
        if self.transport is not None:
            self.transport.close()

    def abort(self) -> None:
        self.out.clear()
        if self.transport is not None:
            self.transport.abort()

    # --- dispatch ---

    def handle(self, fields: list[str]) -> None:
        """Act on one incoming frame; a bad message is logged and the session survives."""
        try:
            if self.phase == "handshake":
                low, high, _ = _parse_versions(fields)
                self.version = negotiate(low, high)
                self.send(handshake_reply(self.version, self.state.market.now()))
                self.phase = "start"
            elif self.phase == "start":
                self._start_api(fields)
            elif self.phase == "ready":
                handler = HANDLERS.get(int(fields[0]))
                if handler is None:
                    log.debug("ignoring message id %s", fields[0])
                else:
                    handler(self, fields)
        except ProtocolError as exc:
            log.warning("closing a connection that broke the protocol: %s", exc)
            self.close()
        except Exception:
            log.exception("cannot handle message %s", fields[:4])

    def run_pending(self) -> None:
        """Handle requests that arrived while the gateway was paused."""
        while self.pending and not self.server.paused:
            self.handle(self.pending.pop(0))
        self.flush()

    def _start_api(self, fields: list[str]) -> None:
        if not fields or fields[0] != "71":
            raise ProtocolError(f"expected startApi (71), got {fields[:3]!r}")
        client_id = int(fields[2])
        if self.server.client_in_use(client_id):
            self.send(
                msg.error(
                    -1,
                    326,
                    "Unable to connect as the client id is already in use. "
                    "Retry with a unique client id.",
                )
            )
            self.close()
            return
        self.client_id = client_id
        self.phase = "ready"
        self.server.register(self)
        account = self.state.account
        self.send(msg.managed_accounts([account.id]))
        self.send(msg.next_valid_id(account.next_order_id))
        if self.server.config.farm_notices:
            self.send(msg.error(-1, 2104, "Market data farm connection is OK:usfarm"))
            self.send(msg.error(-1, 2106, "HMDS data farm connection is OK:ushmds"))
            self.send(msg.error(-1, 2158, "Sec-def data farm connection is OK:secdefnj"))
        if self.server.paused:
            self.send(
                msg.error(-1, 1100, "Connectivity between IB and Trader Workstation has been lost.")
            )

    def contract(self, req_id: int, fields: list[str], at: int) -> SimContract | None:
        """The contract of the 12 fields at ``at``, or None after sending error 200."""
        query = ContractQuery.from_fields(fields[at : at + 12])
        found = resolve(self.state.market.contracts, query)
        if found is None:
            self.send(msg.error(req_id, 200, f"{_NO_SECURITY} ({query.describe()})"))
        return found

    # --- market data pushes ---

    def on_slices(self, slices: list[Slice]) -> None:
        """Ticks, real-time bars and keep-up-to-date bars for what this client subscribed."""
        market = self.state.market
        delayed = self.data_type in (3, 4)
        types = _DELAYED_TICKS if delayed else _LIVE_TICKS
        for s in slices:
            req_ids = self.ticks.get(s.symbol)
            if req_ids:
                bid, ask = market.quote(s.symbol)
                day = market.days[s.symbol]
                size = max(s.volume, 1.0)
                for req_id in req_ids:
                    self.send(msg.tick_price(req_id, types[0], bid, 100.0))
                    self.send(msg.tick_price(req_id, types[1], ask, 100.0))
                    self.send(msg.tick_price(req_id, types[2], s.close, size))
                    if s.high >= day.high:
                        self.send(msg.tick_price(req_id, types[3], day.high, 0.0))
                    if s.low <= day.low:
                        self.send(msg.tick_price(req_id, types[4], day.low, 0.0))
                    self.send(msg.tick_size(req_id, types[7], day.volume))
        if self.rt_bars:
            for req_id, symbol in self.rt_bars.items():
                for s in slices:
                    if s.symbol == symbol:
                        wap = round((s.high + s.low + s.close) / 3, 4)
                        count = max(int(s.volume // 100), 1)
                        self.send(
                            msg.realtime_bar(
                                req_id,
                                s.time // NS,
                                s.open,
                                s.high,
                                s.low,
                                s.close,
                                s.volume,
                                wap,
                                count,
                            )
                        )
        if self.live_bars:
            for req_id, sub in self.live_bars.items():
                for s in slices:
                    if s.symbol == sub.symbol:
                        self._update_live_bar(req_id, sub, s)

    def _update_live_bar(self, req_id: int, sub: _LiveBars, s: Slice) -> None:
        day = self.state.market.day_key(s.time)
        key = history.group_key(sub.size, s.time, day)
        if key != sub.key:
            sub.key = key
            sub.label = history.label(s.time, day, sub.size.daily, sub.format_date, EXCHANGE_TZ)
            sub.o, sub.h, sub.lo, sub.c, sub.v = s.open, s.high, s.low, s.close, s.volume
        else:
            sub.h, sub.lo, sub.c = max(sub.h, s.high), min(sub.lo, s.low), s.close
            sub.v += s.volume
        wap = round((sub.h + sub.lo + sub.c) / 3, 4)
        count = max(int(sub.v // 100), 1)
        self.send(
            msg.historical_data_update(
                req_id, count, sub.label, sub.o, sub.h, sub.lo, sub.c, wap, sub.v
            )
        )

    def send_ticks_now(self, req_id: int, symbol: str) -> None:
        market = self.state.market
        types = _DELAYED_TICKS if self.data_type in (3, 4) else _LIVE_TICKS
        bid, ask = market.quote(symbol)
        day = market.days[symbol]
        self.send(msg.tick_price(req_id, types[0], bid, 100.0))
        self.send(msg.tick_price(req_id, types[1], ask, 100.0))
        self.send(msg.tick_price(req_id, types[2], market.last[symbol], 100.0))
        for tick, value in (
            (types[3], day.high),
            (types[4], day.low),
            (types[5], day.prev_close),
            (types[6], day.open),
        ):
            if not math.isnan(value):
                self.send(msg.tick_price(req_id, tick, value, 0.0))
        self.send(msg.tick_size(req_id, types[7], day.volume))

    # --- order and account pushes ---

    def send_open(self, rec: OrderRecord) -> None:
        self.send(msg.open_order(rec))
        self.send(msg.order_status(rec))

    def send_fill(self, rec: OrderRecord, e: ExecutionRecord) -> None:
        self.send(msg.exec_details(-1, e))
        self.send(msg.order_status(rec))
        if rec.is_done:
            self.send(msg.open_order(rec))
        self.send(msg.commission_report(e))

    def send_account_values(self, multi_req: int | None = None) -> None:
        account = self.state.account
        values = account.values()
        rows = [(tag, f"{value:.2f}", "USD") for tag, value in values.items()]
        rows += [("AccountCode", account.id, ""), *_STRING_VALUES]
        for tag, value, currency in rows:
            if multi_req is None:
                self.send(msg.account_value(account.id, tag, value, currency))
            else:
                self.send(msg.account_update_multi(multi_req, account.id, tag, value, currency))

    def send_portfolio(self, symbols: list[str] | None = None) -> None:
        account = self.state.account
        market = self.state.market
        for symbol, pos in account.portfolio.positions.items():
            if symbols is None and not pos.qty:
                continue
            if symbols is not None and symbol not in symbols:
                continue
            price = market.last[symbol]
            unrealized = pos.qty * (price - pos.avg_price) if pos.qty else 0.0
            self.send(
                msg.portfolio(
                    account.id,
                    market.contracts[symbol],
                    pos.qty,
                    price,
                    pos.qty * price,
                    pos.avg_price,
                    round(unrealized, 4),
                    round(pos.realized_pnl, 4),
                )
            )

    def send_account_update(self, symbols: list[str]) -> None:
        """After fills: positions, portfolio, account values, summaries and P&L to subscribers."""
        account = self.state.account
        market = self.state.market
        if self.positions_sub:
            for symbol in symbols:
                pos = account.portfolio.position(symbol)
                self.send(
                    msg.position(account.id, market.contracts[symbol], pos.qty, pos.avg_price)
                )
        if self.account_sub:
            self.send_account_values()
            self.send_portfolio(symbols)
            self.send(msg.account_time(market.now().tz_convert(EXCHANGE_TZ).strftime("%H:%M")))
        for req_id in self.account_multi:
            self.send_account_values(req_id)
            self.send(msg.account_update_multi_end(req_id))
        for req_id, tags in self.summaries.items():
            self.send_summary(req_id, tags)
        self.send_pnl()

    def send_summary(self, req_id: int, tags: set[str] | None) -> None:
        account = self.state.account
        values = account.values()
        values["Leverage"] = values["GrossPositionValue"] / max(values["NetLiquidation"], 1e-9)
        values["Cushion"] = values["ExcessLiquidity"] / max(values["NetLiquidation"], 1e-9)
        for tag, value in values.items():
            if tags is None or tag in tags:
                self.send(msg.account_summary(req_id, account.id, tag, f"{value:.2f}", "USD"))
        if tags is None or "AccountType" in tags:
            self.send(msg.account_summary(req_id, account.id, "AccountType", "INDIVIDUAL", ""))
        self.send(msg.account_summary_end(req_id))

    def send_pnl(self) -> None:
        if not (self.pnl_subs or self.pnl_single):
            return
        p = self.state.account.portfolio
        unrealized = p.unrealized_pnl
        realized = p.realized_pnl - p.commissions
        for req_id in self.pnl_subs:
            self.send(msg.pnl(req_id, unrealized + realized, unrealized, realized))
        for req_id, symbol in self.pnl_single.items():
            pos = p.position(symbol)
            price = self.state.market.last[symbol]
            un = pos.qty * (price - pos.avg_price) if pos.qty else 0.0
            self.send(
                msg.pnl_single(
                    req_id, pos.qty, un + pos.realized_pnl, un, pos.realized_pnl, pos.qty * price
                )
            )


# --- request handlers: (session, fields) -> None --------------------------------------------------


def _float(text: str) -> float | None:
    if text in ("", "None"):
        return None
    value = float(text)
    return None if value >= 1e300 else value


def _req_mkt_data(s: Session, f: list[str]) -> None:
    req_id = int(f[2])
    contract = s.contract(req_id, f, 3)
    if contract is None:
        return
    i = 15
    if f[i] == "1":  # delta-neutral contract follows
        i += 3
    i += 1
    snapshot = f[i + 1] == "1" or f[i + 2] == "1"
    s.send(msg.market_data_type(req_id, s.data_type if s.data_type in (1, 2, 3, 4) else 1))
    s.send_ticks_now(req_id, contract.symbol)
    if snapshot:
        s.send(msg.tick_snapshot_end(req_id))
        return
    s.tick_symbols[req_id] = contract.symbol
    s.ticks.setdefault(contract.symbol, []).append(req_id)


def _cancel_mkt_data(s: Session, f: list[str]) -> None:
    req_id = int(f[2])
    symbol = s.tick_symbols.pop(req_id, None)
    if symbol is not None:
        s.ticks[symbol].remove(req_id)
        if not s.ticks[symbol]:
            del s.ticks[symbol]


def _place_order(s: Session, f: list[str]) -> None:
    order_id = int(f[1])
    server = s.server
    if server.drop_orders > 0:
        server.drop_orders -= 1
        log.info("dropping order %s of client %s as asked", order_id, s.client_id)
        return
    contract = s.contract(order_id, f, 2)
    if contract is None:
        return
    if server.reject_orders > 0:
        server.reject_orders -= 1
        s.send(msg.error(order_id, 201, f"Order rejected - reason:{server.reject_reason}"))
        return
    req = OrderRequest(
        order_id=order_id,
        contract=contract,
        action=f[16].upper(),
        qty=float(f[17] or 0),
        order_type=f[18].upper(),
        lmt_price=_float(f[19]),
        aux_price=_float(f[20]),
        tif=(f[21] or "DAY").upper(),
        oca_group=f[22],
        order_ref=f[26],
        transmit=f[27] != "0",
        parent_id=int(f[28] or 0),
        outside_rth=f[33] == "1",
    )
    server.dispatch(s.state.account.place(s.client_id or 0, req))


def _cancel_order(s: Session, f: list[str]) -> None:
    s.server.dispatch(s.state.account.cancel(s.client_id or 0, int(f[2])))


def _req_open_orders(s: Session, f: list[str], everyone: bool = False) -> None:
    for rec in s.state.account.open_orders(None if everyone else s.client_id):
        s.send_open(rec)
    s.send(msg.open_order_end())


def _req_all_open_orders(s: Session, f: list[str]) -> None:
    _req_open_orders(s, f, everyone=True)


def _req_account_updates(s: Session, f: list[str]) -> None:
    subscribe = f[2] == "1"
    s.account_sub = subscribe
    if not subscribe:
        return
    account = s.state.account
    s.send_account_values()
    s.send_portfolio()
    now = s.state.market.now().tz_convert(EXCHANGE_TZ)
    s.send(msg.account_time(now.strftime("%H:%M")))
    s.send(msg.account_download_end(account.id))


def _req_executions(s: Session, f: list[str]) -> None:
    req_id = int(f[2])
    since = None
    if len(f) > 5 and f[5].strip():
        try:
            since = parse_ib_time(f[5])
        except ValueError:
            since = None
    found = s.state.account.executions_matching(
        int(f[3] or 0),
        f[4] if len(f) > 4 else "",
        since,
        f[6] if len(f) > 6 else "",
        f[9] if len(f) > 9 else "",
    )
    for e in found:
        s.send(msg.exec_details(req_id, e))
        s.send(msg.commission_report(e))
    s.send(msg.exec_details_end(req_id))


def _req_ids(s: Session, f: list[str]) -> None:
    s.send(msg.next_valid_id(s.state.account.next_order_id))


def _req_contract_details(s: Session, f: list[str]) -> None:
    req_id = int(f[2])
    contract = s.contract(req_id, f, 3)
    if contract is not None:
        s.send(msg.contract_details(req_id, contract))
        s.send(msg.contract_details_end(req_id))


def _req_managed_accounts(s: Session, f: list[str]) -> None:
    s.send(msg.managed_accounts([s.state.account.id]))


def _req_historical_data(s: Session, f: list[str]) -> None:
    req_id = int(f[1])
    contract = s.contract(req_id, f, 2)
    if contract is None:
        return
    end_text, bar_text, duration, rth, what, fmt = f[15], f[16], f[17], f[18], f[19], f[20]
    keep_up = f[21] == "1" if len(f) > 21 else False
    problem = s.server.pacing_violation((contract.symbol, end_text, bar_text, duration, what, rth))
    if problem:
        s.send(msg.error(req_id, 162, _HMDS + problem))
        return
    try:
        bars, start_text, end_out, size, last_key = _history(
            s, contract, end_text, bar_text, duration, rth == "1", what, int(fmt or 1)
        )
    except history.HistoryError as exc:
        s.send(msg.error(req_id, 162, _HMDS + str(exc)))
        return
    s.send(msg.historical_data(req_id, start_text, end_out, bars))
    if keep_up:
        sub = _LiveBars(contract.symbol, size, int(fmt or 1), key=last_key)
        if bars:
            sub.label, sub.o, sub.h, sub.lo, sub.c, sub.v = bars[-1][:6]
        s.live_bars[req_id] = sub


def _history(
    s: Session,
    contract: SimContract,
    end_text: str,
    bar_text: str,
    duration: str,
    rth: bool,
    what: str,
    fmt: int,
) -> tuple[list, str, str, history.BarSize, int]:
    market = s.state.market
    size = history.parse_bar_size(bar_text)
    if size.seconds < market.interval_ns // NS and size.unit == "intraday":
        raise history.HistoryError(
            f"bar size {bar_text!r} is finer than the simulator's "
            f"{market.interval_ns // NS}-second bars"
        )
    if market.daily and size.unit == "intraday":
        raise history.HistoryError(f"bar size {bar_text!r} is finer than the daily bars served")
    if what.upper() not in _WHAT_TO_SHOW:
        raise history.HistoryError(f"whatToShow {what!r} is not valid")
    now = market.now()
    if end_text.strip():
        try:
            end = min(parse_ib_time(end_text), now)
        except ValueError as exc:
            raise history.HistoryError(str(exc)) from exc
    else:
        end = now
    fetch_from = end.value - history.day_span_guess(duration) * 86_400 * NS
    times, values = market.history(contract.symbol, fetch_from, end.value)
    days = market.day_keys(times)
    sessions = np.unique(days) if duration.strip().upper().endswith("D") else None
    start = history.window_start(duration, end, sessions)
    if size.unit == "intraday":
        start -= start % (size.seconds * NS)  # whole bars only
    keep = times >= start
    if rth and not market.daily and len(times):
        local = pd.DatetimeIndex(times).tz_localize("UTC").tz_convert(EXCHANGE_TZ)
        minutes = local.hour * 60 + local.minute
        keep &= np.asarray((minutes >= 570) & (minutes < 960))
    times, values, days = times[keep], values[:, keep], days[keep]
    label_times, label_days, out = history.aggregate(times, values, days, size)
    bars = history.rows(label_times, label_days, out, size, fmt, EXCHANGE_TZ)
    last_key = -1
    if len(label_times):
        last_key = history.group_key(size, int(times[-1]), int(days[-1]))
    stamp = "%Y%m%d %H:%M:%S UTC"
    start_text = pd.Timestamp(max(start, 0), tz="UTC").strftime(stamp)
    return bars, start_text, end.strftime(stamp), size, last_key


def _cancel_historical_data(s: Session, f: list[str]) -> None:
    s.live_bars.pop(int(f[2]), None)


def _req_head_timestamp(s: Session, f: list[str]) -> None:
    req_id = int(f[1])
    if s.contract(req_id, f, 2) is None:
        return
    fmt = f[17] if len(f) > 17 else "1"
    head = s.state.market.head_ns()
    if fmt == "2":
        text = str(head // NS)
    else:
        text = pd.Timestamp(head, tz="UTC").strftime("%Y%m%d-%H:%M:%S")
    s.send(msg.head_timestamp(req_id, text))


def _req_current_time(s: Session, f: list[str]) -> None:
    s.send(msg.current_time(s.state.market.now_ns() // NS))


def _req_real_time_bars(s: Session, f: list[str]) -> None:
    req_id = int(f[2])
    contract = s.contract(req_id, f, 3)
    if contract is not None:
        s.rt_bars[req_id] = contract.symbol


def _cancel_real_time_bars(s: Session, f: list[str]) -> None:
    s.rt_bars.pop(int(f[2]), None)


def _global_cancel(s: Session, f: list[str]) -> None:
    s.server.dispatch(s.state.account.cancel_all())


def _req_market_data_type(s: Session, f: list[str]) -> None:
    s.data_type = int(f[2] or 1)


def _req_positions(s: Session, f: list[str]) -> None:
    s.positions_sub = True
    account = s.state.account
    for contract, qty, avg in account.positions():
        s.send(msg.position(account.id, contract, qty, avg))
    s.send(msg.position_end())


def _cancel_positions(s: Session, f: list[str]) -> None:
    s.positions_sub = False


def _req_account_summary(s: Session, f: list[str]) -> None:
    req_id = int(f[2])
    tags_text = f[4] if len(f) > 4 else "All"
    tags = None if tags_text.strip() in ("", "All") else {t.strip() for t in tags_text.split(",")}
    s.summaries[req_id] = tags
    s.send_summary(req_id, tags)


def _cancel_account_summary(s: Session, f: list[str]) -> None:
    s.summaries.pop(int(f[2]), None)


def _req_positions_multi(s: Session, f: list[str]) -> None:
    req_id = int(f[2])
    account = s.state.account
    for contract, qty, avg in account.positions():
        s.send(msg.position_multi(req_id, account.id, contract, qty, avg))
    s.send(msg.position_multi_end(req_id))


def _req_account_updates_multi(s: Session, f: list[str]) -> None:
    req_id = int(f[2])
    s.account_multi.add(req_id)
    s.send_account_values(req_id)
    s.send(msg.account_update_multi_end(req_id))


def _cancel_account_updates_multi(s: Session, f: list[str]) -> None:
    s.account_multi.discard(int(f[2]))


def _req_matching_symbols(s: Session, f: list[str]) -> None:
    req_id, pattern = int(f[1]), f[2].upper()
    found = [c for sym, c in s.state.market.contracts.items() if sym.startswith(pattern)]
    s.send(msg.symbol_samples(req_id, found[:16]))


def _req_pnl(s: Session, f: list[str]) -> None:
    s.pnl_subs.add(int(f[1]))
    s.send_pnl()


def _cancel_pnl(s: Session, f: list[str]) -> None:
    s.pnl_subs.discard(int(f[1]))


def _req_pnl_single(s: Session, f: list[str]) -> None:
    req_id, con_id = int(f[1]), int(f[4] or 0)
    market = s.state.market
    symbol = next((sym for sym, c in market.contracts.items() if c.con_id == con_id), None)
    if symbol is None:
        s.send(msg.error(req_id, 200, _NO_SECURITY))
        return
    s.pnl_single[req_id] = symbol
    s.send_pnl()


def _cancel_pnl_single(s: Session, f: list[str]) -> None:
    s.pnl_single.pop(int(f[1]), None)


def _req_completed_orders(s: Session, f: list[str]) -> None:
    for rec in s.state.account.completed_orders():
        s.send(msg.completed_order(rec))
    s.send(msg.completed_orders_end())


def _ignore(s: Session, f: list[str]) -> None:
    pass


HANDLERS: dict[int, Callable[[Session, list[str]], None]] = {
    1: _req_mkt_data,
    2: _cancel_mkt_data,
    3: _place_order,
    4: _cancel_order,
    5: _req_open_orders,
    6: _req_account_updates,
    7: _req_executions,
    8: _req_ids,
    9: _req_contract_details,
    15: _ignore,  # reqAutoOpenOrders
    16: _req_all_open_orders,
    17: _req_managed_accounts,
    20: _req_historical_data,
    25: _cancel_historical_data,
    49: _req_current_time,
    50: _req_real_time_bars,
    51: _cancel_real_time_bars,
    58: _global_cancel,
    59: _req_market_data_type,
    61: _req_positions,
    62: _req_account_summary,
    63: _cancel_account_summary,
    64: _cancel_positions,
    71: _ignore,  # a repeated startApi
    74: _req_positions_multi,
    75: _ignore,  # cancelPositionsMulti
    76: _req_account_updates_multi,
    77: _cancel_account_updates_multi,
    81: _req_matching_symbols,
    87: _req_head_timestamp,
    90: _ignore,  # cancelHeadTimestamp
    92: _req_pnl,
    93: _cancel_pnl,
    94: _req_pnl_single,
    95: _cancel_pnl_single,
    99: _req_completed_orders,
}
