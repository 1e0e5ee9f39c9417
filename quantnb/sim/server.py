"""The asyncio server: listens on loopback, owns the sessions, drives the clock, injects faults.

Market and account live in a ``SimState`` handed in, so a restarted server carries on where the
old one stopped; the server itself holds only sockets and fault settings.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from quantnb.errors import GatewayError
from quantnb.sim import messages as msg
from quantnb.sim.account import Event
from quantnb.sim.faults import FARM_BROKEN, FARM_OK
from quantnb.sim.market import NS, Slice
from quantnb.sim.pacing import HistoryRequest, Pacer
from quantnb.sim.records import ExecutionRecord
from quantnb.sim.session import Session
from quantnb.sim.state import SimState

log = logging.getLogger(__name__)

_LOST = "Connectivity between IB and Trader Workstation has been lost."
_RESTORED_KEPT = (
    "Connectivity between IB and Trader Workstation has been restored - data maintained."
)
_RESTORED_LOST = "Connectivity between IB and Trader Workstation has been restored - data lost."
_MAX_BATCH = 2000
_IDLE_WAKE = 0.05  # seconds between clock updates while the market is closed


def clock_text(config) -> str:
    """How the market clock runs, as the start-up line says it."""
    if config.mode == "manual":
        return "manual clock (step() moves it bar by bar; closed hours hold no bars)"
    closed = "closed hours skipped" if config.skip_closed else "closed hours take their time"
    if config.skip_extended:
        closed += ", extended hours played at once"
    return f"realtime clock at {config.speed:g}x, {closed}"


class Server:
    """One listening socket on ``host:port`` serving API sessions for a ``SimState``."""

    def __init__(self, state: SimState, host: str = "127.0.0.1", port: int = 0) -> None:
        self.state = state
        self.config = state.config
        self.host = host
        self.port = port
        self.sessions: set[Session] = set()
        self.clients: dict[int, Session] = {}
        self.latency = 0.0
        self.drop_orders = 0
        self.reject_orders = 0
        self.reject_reason = ""
        self.reject_after_ack = False
        self.commission_delay = state.config.commission_delay
        self.late_reports: dict[str, asyncio.TimerHandle] = {}  # exec id -> its report, due
        self.paused = False
        self.pacer = Pacer(self.config.pacing)
        self._server: asyncio.Server | None = None
        self._clock: asyncio.Task | None = None
        self._wake = asyncio.Event()
        self.down = ""  # "restart": in the restart window; "login": waiting at the login screen
        self._relogin = False
        self._timers: dict[str, asyncio.TimerHandle] = {}
        self._background: set[asyncio.Task] = set()

    # --- life cycle ---

    async def start(self) -> None:
        """Listen, and run the clock unless the market moves only on ``step``."""
        await self._listen()
        if self.config.mode == "realtime":
            self._clock = asyncio.create_task(self._run_clock())
        clock = clock_text(self.config)
        log.info("gateway simulator listening on %s:%s, %s", self.host, self.port, clock)

    async def _listen(self) -> None:
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(
            lambda: Session(self), self.host, self.port, reuse_address=True
        )
        self.port = self._server.sockets[0].getsockname()[1]

    async def close(self) -> None:
        """Stop listening and close every connection; the state is kept."""
        self._cancel_timers()
        if self._clock is not None:
            self._clock.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._clock
            self._clock = None
        if self._server is not None:
            self._server.close()
        for handle in self.late_reports.values():
            handle.cancel()  # priced by now: reqExecutions after a restart reports them
        self.late_reports.clear()
        for session in list(self.sessions):
            session.abort()
        if self._server is not None:
            await self._server.wait_closed()
            self._server = None
        self.sessions.clear()
        self.clients.clear()

    def drop_connections(self) -> None:
        """Close every client socket at once, as when the gateway process dies."""
        for session in list(self.sessions):
            session.abort()

    # --- sessions ---

    def client_in_use(self, client_id: int) -> bool:
        other = self.clients.get(client_id)
        return other is not None and other.phase == "ready"

    def register(self, session: Session) -> None:
        assert session.client_id is not None
        self.clients[session.client_id] = session

    def forget(self, session: Session) -> None:
        self.sessions.discard(session)
        if session.client_id is not None and self.clients.get(session.client_id) is session:
            del self.clients[session.client_id]

    def _ready(self) -> list[Session]:
        return [s for s in self.sessions if s.phase == "ready"]

    # --- the clock ---

    async def _run_clock(self) -> None:
        """Play slices as market time passes at ``speed``: closed hours take their time too,
        unless ``skip_closed`` counts only the slices played; ``skip_extended`` plays the
        pre-market and after-hours slices at once."""
        loop = asyncio.get_running_loop()
        market = self.state.market
        speed = self.config.speed
        skip = self.config.skip_closed
        skip_extended = self.config.skip_extended
        slice_wall = market.slice_ns / NS / speed
        anchor, base, done = loop.time(), market.now_ns(), 0
        while not market.done:
            if self.paused:
                self._wake.clear()
                await self._wake.wait()
                anchor, base, done = loop.time(), market.now_ns(), 0
                continue
            extended = market.extended_slices_ahead(_MAX_BATCH) if skip_extended else 0
            if extended:  # played at once: the client trades regular hours only
                self.advance(extended)
                anchor, base, done = loop.time(), market.now_ns(), 0
                await asyncio.sleep(0)
                continue
            if skip:
                due = int((loop.time() - anchor) / slice_wall) - done
                if due > 0:
                    n = min(due, _MAX_BATCH)
                    self.advance(n)
                    done += n
                await asyncio.sleep(max(anchor + (done + 1) * slice_wall - loop.time(), 0.0))
                continue
            target = base + int((loop.time() - anchor) * speed * NS)
            n = market.slices_until(target, _MAX_BATCH)
            if n > 0:
                self.advance(n)
            market.wait_until(target)
            nxt = market.next_slice_ns()
            if nxt is None:  # the bars handed in are used up
                self.advance(1)
                continue
            due = anchor + (nxt - base) / NS / speed - loop.time()
            await asyncio.sleep(min(max(due, 0.0), _IDLE_WAKE))  # the clock moves while closed

    def advance(self, n_slices: int) -> int:
        """Play ``n_slices`` slices: ticks, bars and fills go out to clients. Returns how many."""
        market = self.state.market
        account = self.state.account
        sessions = self._ready()
        played = 0
        for _ in range(n_slices):
            slices = market.advance()
            if slices is None:
                break
            played += 1
            self._play(slices, sessions, account)
            if played % 64 == 0:
                for session in sessions:
                    session.flush()
        if sessions and market.elapsed >= market.slices:
            for session in sessions:
                session.send_pnl()
        for session in sessions:
            session.flush()
        return played

    def _play(self, slices: list[Slice], sessions: list[Session], account) -> None:
        settled = account.mark(slices)
        if settled:  # the day's futures P&L moved into cash: the account changed
            self.dispatch([("position", symbol) for symbol in settled], flush=False)
        quotes: dict[str, tuple[float, float]] | None = None
        muted = self.state.faults.muted(self.state.market.symbols)
        for session in sessions:
            if session.ticks or session.rt_bars or session.live_bars:
                if quotes is None:
                    quotes = {s.symbol: self.state.market.quote(s.symbol) for s in slices}
                session.on_slices(slices, quotes, muted)
        if account.working:
            events = account.on_slices(slices)
            if events:
                self.dispatch(events, flush=False)
        for other in self.state.other_accounts():  # no client hears them, their orders work
            other.mark(slices)
            if other.working:
                other.on_slices(slices)

    def step(self, n_bars: int = 1) -> int:
        """Manual mode: complete the current bar and ``n_bars - 1`` more. Returns slices played."""
        if self.paused:
            raise GatewayError("the simulator is paused: resume() before step()")
        market = self.state.market
        remaining = max(market.slices - market.elapsed, 0)
        played = self.advance((remaining or market.slices) + (n_bars - 1) * market.slices)
        self._open_next_bar()
        return played

    def _open_next_bar(self) -> None:
        """Manual mode stops exactly on a bar boundary, where a market's first trade would start
        the next bar: tell keep-up-to-date subscribers, so they know the last bar is complete
        now rather than one step later. Not across a session break: nothing trades overnight."""
        market = self.state.market
        start = market.next_bar_ns()
        if start is None or start != market.now_ns():
            return
        muted = self.state.faults.muted(market.symbols)
        for session in self._ready():
            if session.live_bars:
                session.open_live_bars(start, muted)
                session.flush()

    def set_price(self, symbol: str, price: float) -> None:
        """Move a symbol's price now: ticks go out and working orders are matched."""
        market = self.state.market
        if symbol not in market.contracts:
            raise GatewayError(f"unknown symbol {symbol!r}; the universe is {market.symbols}")
        s = market.set_price(symbol, price)
        sessions = self._ready()
        self._play([s], sessions, self.state.account)
        for session in sessions:
            session.flush()

    # --- faults ---

    def pause(self) -> None:
        """IB's servers become unreachable: 1100 to clients, the clock stops, requests wait."""
        if self.paused:
            return
        self.paused = True
        for session in self._ready():
            session.send(msg.error(-1, 1100, _LOST))
            session.flush()

    def resume(self, data_lost: bool = False) -> None:
        """Connectivity is back: 1102 (or 1101 with subscriptions dropped), waiting requests run."""
        if not self.paused:
            return
        self.paused = False
        self._wake.set()
        for session in self._ready():
            if data_lost:
                session.ticks.clear()
                session.tick_symbols.clear()
                session.rt_bars.clear()
                session.live_bars.clear()
            session.send(
                msg.error(
                    -1, 1101 if data_lost else 1102, _RESTORED_LOST if data_lost else _RESTORED_KEPT
                )
            )
            session.flush()
            session.run_pending()

    def stall_stream(self, symbols: list[str] | None = None) -> None:
        """The stream of ``symbols`` (None: every symbol) goes quiet: no ticks, 5-second bars or
        keep-up-to-date bars, and no notice; the clock, the market and the orders go on."""
        faults = self.state.faults
        if symbols is None:
            faults.stall_all = True
        else:
            faults.stalled.update(symbols)

    def restore_stream(self) -> None:
        """Every stalled stream flows again from the next slice; bars come back whole."""
        self.state.faults.stall_all = False
        self.state.faults.stalled.clear()

    def farm_flap(self, down_for: float | None = None) -> None:
        """The market-data farm breaks: 2103 to clients and market data stops; 2104 and it flows
        again (subscriptions kept) after ``down_for`` wall seconds, or on ``farm_restore``."""
        self._cancel_timer("farm")
        if not self.state.faults.farm_down:
            self.state.faults.farm_down = True
            self._notify(*FARM_BROKEN)
        if down_for is not None:
            loop = asyncio.get_running_loop()
            self._timers["farm"] = loop.call_later(down_for, self.farm_restore)

    def farm_restore(self) -> None:
        """The market-data farm is back: 2104 to clients; the subscriptions they had flow again."""
        self._cancel_timer("farm")
        if self.state.faults.farm_down:
            self.state.faults.farm_down = False
            self._notify(*FARM_OK)

    def nightly_restart(self, down_for: float | None = None, relogin: bool = False) -> None:
        """IB's nightly restart: 1100 to clients, then the gateway is gone (connections close,
        new ones are refused) while the market and the orders go on. It is back after
        ``down_for`` wall seconds or ``end_restart``; with ``relogin`` only after ``login``."""
        if self.down:
            raise GatewayError(
                f"the gateway is already down ({self.down}): end_restart() or login() first"
            )
        self._notify(1100, _LOST)
        self.down, self._relogin = "restart", relogin
        if self._server is not None:
            self._server.close()  # stops listening now: new connections are refused
            self._server = None
        for session in list(self.sessions):
            session.close()
        if down_for is not None:
            loop = asyncio.get_running_loop()
            self._timers["restart"] = loop.call_later(down_for, self._end_restart_later)

    def _end_restart_later(self) -> None:
        task = asyncio.ensure_future(self.end_restart())
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def end_restart(self) -> None:
        """The restart window ends: the gateway listens again, or waits for ``login``."""
        self._cancel_timer("restart")
        if self.down != "restart":
            return
        if self._relogin:
            self.down = "login"
            return
        await self.login()

    async def login(self) -> None:
        """Someone logs the gateway in: it listens again (a no-op when it is up)."""
        self._cancel_timer("restart")
        if not self.down:
            return
        try:
            await self._listen()
        except OSError as exc:
            raise GatewayError(
                f"cannot listen on {self.host}:{self.port} again: {exc.strerror or exc}"
            ) from exc
        self.down, self._relogin = "", False

    def _notify(self, code: int, text: str) -> None:
        for session in self._ready():
            session.send(msg.error(-1, code, text))
            session.flush()

    def _cancel_timer(self, name: str) -> None:
        handle = self._timers.pop(name, None)
        if handle is not None:
            handle.cancel()

    def _cancel_timers(self) -> None:
        for name in list(self._timers):
            self._cancel_timer(name)

    def pacing_violation(self, request: HistoryRequest) -> str:
        """Record a historical request; the reason it breaks IB's pacing rules, or ''."""
        return self.pacer.violation(request)

    # --- order and account events ---

    def dispatch(self, events: list[Event], flush: bool = True) -> None:
        """Send what the account reports to the clients it concerns, in IB's order."""
        touched: list[str] = []
        for event in events:
            kind = event[0]
            if kind == "position":
                if event[1] not in touched:
                    touched.append(event[1])
                continue
            if kind == "error":
                _, client_id, req_id, code, text = event
                owner = self.clients.get(client_id)
                if owner is not None:
                    owner.send(msg.error(req_id, code, text))
                continue
            if kind in ("fill", "exec"):
                execution = event[-1]
                report_now = self.commission_delay <= 0
                if not report_now:
                    self._report_later(execution)
                owner = self.clients.get(execution.client_id)
                if owner is None:
                    continue  # the execution waits for reqExecutions
                if kind == "fill":
                    owner.send_fill(event[1], execution, report=report_now)
                else:
                    owner.send(msg.exec_details(-1, execution))
                    if report_now:
                        owner.send(msg.commission_report(execution))
                continue
            rec = event[1]
            owner = self.clients.get(rec.client_id)
            if owner is None:
                continue
            if kind == "open":
                owner.send_open(rec)
            elif kind == "status":
                owner.send(msg.order_status(rec))
            elif kind == "whatif":
                owner.send(msg.open_order(rec, event[2]))
        if touched:
            for session in self._ready():
                session.send_account_update(touched)
        if flush:
            for session in self._ready():
                session.flush()

    def _report_later(self, execution: ExecutionRecord) -> None:
        """IB prices an execution a while after reporting it: the commission report goes to
        whoever holds the order's client id when it is due, if anyone."""

        def due() -> None:
            self.late_reports.pop(execution.exec_id, None)
            owner = self.clients.get(execution.client_id)
            if owner is not None and owner.phase == "ready":
                owner.send(msg.commission_report(execution))
                owner.flush()

        loop = asyncio.get_running_loop()
        self.late_reports[execution.exec_id] = loop.call_later(self.commission_delay, due)

    def trade_outside(self, symbol: str, qty: float, price: float | None, client_id: int) -> None:
        """A trade made elsewhere (another client, or by hand in TWS) changes the account."""
        self.dispatch(self.state.account.trade_outside(symbol, qty, price, client_id))
