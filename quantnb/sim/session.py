"""One client connection: handshake, start-up, then each request to its handler in ``HANDLERS``.

A session holds only what belongs to the connection (client id, subscriptions, output buffer);
market and account live in the server's ``SimState`` and outlive the session.
"""

from __future__ import annotations

import asyncio
import logging
import math
import socket
from typing import TYPE_CHECKING

from quantnb.sim import account_values, handlers, history
from quantnb.sim import messages as msg
from quantnb.sim.contracts import ContractQuery, SimContract, resolve
from quantnb.sim.faults import FARM_BROKEN, FARM_OK, delayed_quote
from quantnb.sim.market import EXCHANGE_TZ, NS, REGULAR, Slice
from quantnb.sim.records import ExecutionRecord, OrderRecord
from quantnb.sim.versions import MIN_VERSION, adapt
from quantnb.sim.wire import SERVER_VERSION, FrameReader, ProtocolError, handshake_reply, negotiate
from quantnb.sim.wire import parse_version_range as _parse_versions

if TYPE_CHECKING:
    from quantnb.sim.server import Server

log = logging.getLogger(__name__)

_NO_SECURITY = "No security definition has been found for the request"
# live and delayed tick types: bid, ask, last, high, low, close, open, volume
_LIVE_TICKS = (1, 2, 4, 6, 7, 9, 14, 8)
_DELAYED_TICKS = (66, 67, 68, 72, 73, 75, 76, 74)
_ACCOUNT_TYPE = "INDIVIDUAL"
# Where a request carries its id (field index); requests not listed have none. An unreadable
# request is answered with IB's error 320 about that id.
_REQUEST_ID_AT = {
    **dict.fromkeys((3, 20, 22, 78, 79, 81, 83, 87, 88, 89, 90, 92, 93, 94, 95, 96, 97, 98), 1),
    **dict.fromkeys((1, 2, 4, 7, 9, 10, 11, 50, 51, 52, 53, 62, 63, 74, 75, 76, 77), 2),
}
_BAD_REQUEST_LIMIT = 10  # unreadable requests in a row before the connection is closed


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
        self.sent = 0  # messages sent, for statistics
        self.pending: list[list[str]] = []
        self.data_type = 1  # asked for by reqMarketDataType
        self.ticks: dict[str, list[int]] = {}  # symbol -> reqIds
        self.delayed: set[int] = set()  # reqIds served delayed data
        self.tick_symbols: dict[int, str] = {}
        self.rt_bars: dict[int, str] = {}
        self.live_bars: dict[int, history.LiveBars] = {}
        self.positions_sub = False
        self.account_sub = False
        self.account_multi: set[int] = set()
        self.summaries: dict[int, set[str] | None] = {}
        self.pnl_subs: set[int] = set()
        self.pnl_single: dict[int, str] = {}
        self.bad_requests = 0  # unreadable requests in a row
        self._handshake_timer: asyncio.TimerHandle | None = None

    # --- transport ---

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        sock = transport.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.server.sessions.add(self)
        timeout = self.server.config.handshake_timeout
        self._handshake_timer = asyncio.get_running_loop().call_later(
            timeout, self._handshake_expired, timeout
        )

    def connection_lost(self, exc: Exception | None) -> None:
        self.phase = "closed"
        self._stop_handshake_timer()
        self.server.forget(self)

    def _handshake_expired(self, timeout: float) -> None:
        self._handshake_timer = None
        if self.phase in ("handshake", "start"):
            peer = self.transport.get_extra_info("peername") if self.transport else None
            log.warning(
                "closing the connection from %s: no API handshake within %.3g s", peer, timeout
            )
            self.close()

    def _stop_handshake_timer(self) -> None:
        if self._handshake_timer is not None:
            self._handshake_timer.cancel()
            self._handshake_timer = None

    def data_received(self, data: bytes) -> None:
        try:
            frames = self.reader.feed(data)
        except ProtocolError as exc:
            log.warning("closing a connection that broke the protocol: %s", exc)
            self.close()
            return
        for fields in frames:
            if self.transport is not None and self.transport.is_closing():
                break
            if self.phase == "ready" and (self.server.paused or self.pending):
                self.pending.append(fields)
                continue
            self.handle(fields)
        self.flush()

    def send(self, data: bytes) -> None:
        if self.version < SERVER_VERSION and self.version:
            data = adapt(data, self.version)
        self.out.append(data)
        self.sent += 1

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
        """Act on one incoming frame; an unreadable request gets error 320, a broken handshake
        closes the connection."""
        try:
            if self.phase == "handshake":
                self._handshake(fields)
            elif self.phase == "start":
                self._start_api(fields)
            elif self.phase == "ready":
                self._dispatch(fields)
        except (ProtocolError, ValueError, IndexError) as exc:
            log.warning("closing a connection that broke the protocol: %s", exc)
            self.close()
        except Exception:
            log.exception("closing a connection after a failed %s step", self.phase)
            self.close()

    def _handshake(self, fields: list[str]) -> None:
        low, high, _ = _parse_versions(fields)
        version = negotiate(low, high)
        self.send(handshake_reply(version, self.state.market.now()))
        self.version = version
        self.phase = "start"
        if version < MIN_VERSION:
            log.warning(
                "refusing a client that speaks API versions %s..%s: the simulator speaks %s..%s",
                low, high, MIN_VERSION, SERVER_VERSION,
            )  # fmt: skip
            self.send(msg.error(-1, 506, "Unsupported version"))
            self.close()

    def _dispatch(self, fields: list[str]) -> None:
        try:
            msg_id = int(fields[0])
        except (IndexError, ValueError):
            self._bad_request(fields, -1, "no message id")
            return
        handler = handlers.HANDLERS.get(msg_id)
        if handler is None:
            log.debug("ignoring message id %s", msg_id)
            return
        try:
            handler(self, fields)
        except (ValueError, IndexError) as exc:
            self._bad_request(fields, _request_id(msg_id, fields), str(exc) or type(exc).__name__)
            return
        except Exception:
            log.exception("cannot handle message %s", fields[:4])
            self.send(
                msg.error(-1, 322, f"Error processing request. Message id {msg_id}: internal error")
            )
            return
        self.bad_requests = 0

    def _bad_request(self, fields: list[str], req_id: int, problem: str) -> None:
        """Answer an unreadable request as IB does (error 320); close after a run of them."""
        self.bad_requests += 1
        what = f"Message id {fields[0]}" if fields and fields[0] else "Empty message"
        level = logging.WARNING if self.bad_requests == 1 else logging.DEBUG
        log.log(level, "unreadable request from client %s (%s): %s", self.client_id, what, problem)
        if self.bad_requests >= _BAD_REQUEST_LIMIT:
            log.warning(
                "closing client %s after %d unreadable requests in a row",
                self.client_id, self.bad_requests,
            )  # fmt: skip
            self.close()
            return
        text = f"Error reading request. {what}. Unable to parse data: {problem}"
        self.send(msg.error(req_id, 320, text))

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
        self._stop_handshake_timer()
        self.server.register(self)
        account = self.state.account
        self.send(msg.managed_accounts([account.id]))
        self.send(msg.next_valid_id(account.next_order_id))
        if self.server.config.farm_notices:
            self.send(msg.error(-1, *(FARM_BROKEN if self.state.faults.farm_down else FARM_OK)))
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

    def on_slices(
        self,
        slices: list[Slice],
        quotes: dict[str, tuple[float, float]],
        muted: frozenset[str] = frozenset(),
    ) -> None:
        """Ticks, real-time bars and keep-up-to-date bars for what this client subscribed;
        ``quotes`` holds each slice's bid and ask. Nothing goes out for ``muted`` symbols, but
        keep-up-to-date bars still follow them, so the first update after a stall is whole."""
        market = self.state.market
        for s in slices:
            req_ids = self.ticks.get(s.symbol)
            if req_ids and s.symbol not in muted:
                bid, ask = quotes[s.symbol]
                day = market.days[s.symbol]
                size = max(s.volume, 1.0)
                late = None  # the delayed quote, found once per slice
                for req_id in req_ids:
                    if req_id in self.delayed:
                        late = late or delayed_quote(market, s.symbol)
                        self._send_delayed(req_id, s.symbol, size, late)
                        continue
                    types = _LIVE_TICKS
                    kind = market.contracts[s.symbol].sec_type
                    if kind != "IND":  # an index has no bid or ask
                        self.send(msg.tick_price(req_id, types[0], bid, 100.0))
                        self.send(msg.tick_price(req_id, types[1], ask, 100.0))
                    if kind != "CASH":  # IDEALPRO quotes pairs: no trades, no volume
                        self.send(msg.tick_price(req_id, types[2], s.close, size))
                    if s.high >= day.high:
                        self.send(msg.tick_price(req_id, types[3], day.high, 0.0))
                    if s.low <= day.low:
                        self.send(msg.tick_price(req_id, types[4], day.low, 0.0))
                    if kind != "CASH":
                        self.send(msg.tick_size(req_id, types[7], day.volume))
        if self.rt_bars:
            for req_id, symbol in self.rt_bars.items():
                for s in slices:
                    if s.symbol == symbol and symbol not in muted:
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
            for s in slices:
                day: int | None = None  # the slice's trading day, found once a bar starts
                for req_id, sub in self.live_bars.items():
                    if s.symbol != sub.symbol or (
                        sub.rth and not market.is_regular(s.symbol, s.phase, s.time)
                    ):
                        continue
                    if sub.opening or s.index != sub.base or s.time >= sub.base_end:
                        if day is None:
                            day = market.day_key(s.time, s.symbol)
                        sub.base = s.index
                        sub.base_end = market.timeline.time_of(s.index) + market.interval_ns
                        self._start_base_bar(sub, s, day)
                    else:
                        sub.h, sub.lo, sub.c = max(sub.h, s.high), min(sub.lo, s.low), s.close
                        sub.v += s.volume
                    if s.symbol not in muted:
                        self._send_live_bar(req_id, sub)

    def open_live_bars(self, start: int, muted: frozenset[str] = frozenset()) -> None:
        """Start the bar beginning at ``start`` (ns) for each keep-up-to-date subscription whose
        bar it is, at the last price with no volume yet; the first slice replaces it."""
        market = self.state.market
        regular = market.phase_now() == REGULAR
        for req_id, sub in self.live_bars.items():
            day = market.day_key(start, sub.symbol)
            key = history.group_key(sub.size, start, day)
            if sub.rth and not market.is_regular(sub.symbol, REGULAR if regular else -1, start):
                continue
            if key == sub.key or sub.symbol in muted:
                continue
            if not market.trades_now(sub.symbol):
                continue  # no bar of its market starts then (a future in its daily halt)
            price = market.last[sub.symbol]
            sub.key = key
            sub.label = history.label(start, day, sub.size.daily, sub.format_date, EXCHANGE_TZ)
            sub.o = sub.h = sub.lo = sub.c = price
            sub.v = 0.0
            sub.opening = True
            o, h, lo, c, wap, volume, count = sub.update()
            self.send(
                msg.historical_data_update(req_id, count, sub.label, o, h, lo, c, wap, volume)
            )

    @staticmethod
    def _start_base_bar(sub: history.LiveBars, s: Slice, day: int) -> None:
        """The first slice of a base bar: a new bar of the subscription's size, or more of it."""
        key = history.group_key(sub.size, s.time, day)
        if key != sub.key or sub.opening:
            sub.opening = False
            sub.key = key
            sub.label = history.label(s.time, day, sub.size.daily, sub.format_date, EXCHANGE_TZ)
            sub.o, sub.h, sub.lo, sub.c, sub.v = s.open, s.high, s.low, s.close, s.volume
        else:
            sub.h, sub.lo, sub.c = max(sub.h, s.high), min(sub.lo, s.low), s.close
            sub.v += s.volume

    def _send_live_bar(self, req_id: int, sub: history.LiveBars) -> None:
        o, h, lo, c, wap, volume, count = sub.update()
        self.send(msg.historical_data_update(req_id, count, sub.label, o, h, lo, c, wap, volume))

    def _send_delayed(
        self, req_id: int, symbol: str, size: float, quote: tuple[float, float, float]
    ) -> None:
        """Delayed bid, ask, last (``quote``, 15 minutes old) and the day's volume."""
        bid, ask, last = quote
        self.send(msg.tick_price(req_id, _DELAYED_TICKS[0], bid, 100.0))
        self.send(msg.tick_price(req_id, _DELAYED_TICKS[1], ask, 100.0))
        self.send(msg.tick_price(req_id, _DELAYED_TICKS[2], last, size))
        self.send(msg.tick_size(req_id, _DELAYED_TICKS[7], self.state.market.days[symbol].volume))

    def send_ticks_now(self, req_id: int, symbol: str) -> None:
        market = self.state.market
        delayed = req_id in self.delayed
        types = _DELAYED_TICKS if delayed else _LIVE_TICKS
        bid, ask = market.quote(symbol)
        last = market.last[symbol]
        if delayed:
            bid, ask, last = delayed_quote(market, symbol)
        day = market.days[symbol]
        kind = market.contracts[symbol].sec_type
        if kind != "IND":  # an index has no bid or ask
            self.send(msg.tick_price(req_id, types[0], bid, 100.0))
            self.send(msg.tick_price(req_id, types[1], ask, 100.0))
        if kind != "CASH":  # IDEALPRO quotes pairs: no trades, no volume
            self.send(msg.tick_price(req_id, types[2], last, 100.0))
        for tick, value in (
            (types[3], day.high),
            (types[4], day.low),
            (types[5], day.prev_close),
            (types[6], day.open),
        ):
            if not math.isnan(value):
                self.send(msg.tick_price(req_id, tick, value, 0.0))
        if kind != "CASH":
            self.send(msg.tick_size(req_id, types[7], day.volume))

    # --- order and account pushes ---

    def send_open(self, rec: OrderRecord) -> None:
        self.send(msg.open_order(rec))
        self.send(msg.order_status(rec))

    def send_fill(self, rec: OrderRecord, e: ExecutionRecord, report: bool = True) -> None:
        """An execution, then the order's status after it (and its final openOrder), then the
        commission report unless it comes later."""
        self.send(msg.exec_details(-1, e))
        self.send(msg.order_status(rec))
        if rec.is_done:
            self.send(msg.open_order(rec))
        if report:
            self.send(msg.commission_report(e))

    def send_account_values(self, multi_req: int | None = None) -> None:
        account = self.state.account
        rows = account_values.update_rows(account.values(), account.id, _ACCOUNT_TYPE)
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
            self.send(
                msg.portfolio(
                    account.id,
                    market.contracts[symbol],
                    pos.qty,
                    market.last[symbol],
                    pos.market_value,
                    pos.avg_cost,
                    round(pos.market_value - pos.qty * pos.avg_cost, 4),
                    round(pos.realized_pnl, 4),
                )
            )
        for symbol, h in account.ledger.holdings.items():  # futures and FX
            if (symbols is None and not h.qty) or (symbols is not None and symbol not in symbols):
                continue
            value = round(h.market_value, 4)
            self.send(
                msg.portfolio(
                    account.id, h.contract, h.qty, h.last, value, h.avg_cost,
                    round(value - h.qty * h.avg_cost, 4), round(h.realized, 4),
                )
            )  # fmt: skip

    def send_account_update(self, symbols: list[str]) -> None:
        """After fills: positions, portfolio, account values, summaries and P&L to subscribers."""
        account = self.state.account
        market = self.state.market
        if self.positions_sub:
            for symbol in symbols:
                h = account.ledger.holdings.get(symbol)
                qty, avg = (h.qty, h.avg_cost) if h is not None else (
                    account.portfolio.position(symbol).qty,
                    account.portfolio.position(symbol).avg_cost,
                )  # fmt: skip
                self.send(msg.position(account.id, market.contracts[symbol], qty, avg))
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
        for tag, value, currency in account_values.summary_rows(
            account.values(), tags, _ACCOUNT_TYPE
        ):
            self.send(msg.account_summary(req_id, account.id, tag, value, currency))
        self.send(msg.account_summary_end(req_id))

    def send_pnl(self) -> None:
        if not (self.pnl_subs or self.pnl_single):
            return
        account = self.state.account
        unrealized, realized = account.pnl()
        for req_id in self.pnl_subs:
            self.send(msg.pnl(req_id, unrealized + realized, unrealized, realized))
        for req_id, symbol in self.pnl_single.items():
            h = account.ledger.holdings.get(symbol)
            if h is not None:  # a future or pair: P&L at its multiplier
                value = h.market_value
                un = value - h.qty * h.avg_cost
                self.send(msg.pnl_single(req_id, h.qty, un + h.realized, un, h.realized, value))
                continue
            pos = account.portfolio.position(symbol)
            un = pos.market_value - pos.qty * pos.avg_cost  # as IB: net of the commissions paid
            self.send(
                msg.pnl_single(
                    req_id, pos.qty, un + pos.realized_pnl, un, pos.realized_pnl, pos.market_value
                )
            )


def _request_id(msg_id: int, fields: list[str]) -> int:
    """The id an unreadable request carries, or -1 where it has none or it is unreadable too."""
    at = _REQUEST_ID_AT.get(msg_id)
    if at is None:
        return -1
    try:
        return int(fields[at])
    except (IndexError, ValueError):
        return -1
