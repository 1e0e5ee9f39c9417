"""The asyncio server: listens on loopback, owns the sessions, drives the clock, injects faults.

Market and account live in a ``SimState`` handed in, so a restarted server carries on where the
old one stopped; the server itself holds only sockets and fault settings.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque

from quantnb.errors import GatewayError
from quantnb.sim import messages as msg
from quantnb.sim.account import Event
from quantnb.sim.market import NS, Slice
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
        self.paused = False
        self._history_log: deque[tuple[float, tuple]] = deque()
        self._server: asyncio.Server | None = None
        self._clock: asyncio.Task | None = None
        self._wake = asyncio.Event()

    # --- life cycle ---

    async def start(self) -> None:
        """Listen, and run the clock unless the market moves only on ``step``."""
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(
            lambda: Session(self), self.host, self.port, reuse_address=True
        )
        self.port = self._server.sockets[0].getsockname()[1]
        if self.config.mode == "realtime":
            self._clock = asyncio.create_task(self._run_clock())
        clock = clock_text(self.config)
        log.info("gateway simulator listening on %s:%s, %s", self.host, self.port, clock)

    async def close(self) -> None:
        """Stop listening and close every connection; the state is kept."""
        if self._clock is not None:
            self._clock.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._clock
            self._clock = None
        if self._server is not None:
            self._server.close()
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
        unless ``skip_closed`` counts only the slices played."""
        loop = asyncio.get_running_loop()
        market = self.state.market
        speed = self.config.speed
        skip = self.config.skip_closed
        slice_wall = market.slice_ns / NS / speed
        anchor, base, done = loop.time(), market.now_ns(), 0
        while not market.done:
            if self.paused:
                self._wake.clear()
                await self._wake.wait()
                anchor, base, done = loop.time(), market.now_ns(), 0
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
        account.mark(slices)
        quotes: dict[str, tuple[float, float]] | None = None
        for session in sessions:
            if session.ticks or session.rt_bars or session.live_bars:
                if quotes is None:
                    quotes = {s.symbol: self.state.market.quote(s.symbol) for s in slices}
                session.on_slices(slices, quotes)
        if account.working:
            events = account.on_slices(slices)
            if events:
                self.dispatch(events, flush=False)

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
        for session in self._ready():
            if session.live_bars:
                session.open_live_bars(start)
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

    def pacing_violation(self, key: tuple) -> str:
        """Record a historical request; the reason it breaks the pacing rule, or ''."""
        rule = self.config.pacing
        if rule is None:
            return ""
        now = time.monotonic()
        log_ = self._history_log
        while log_ and now - log_[0][0] > rule.total_window:
            log_.popleft()
        identical = sum(1 for t, k in log_ if k == key and now - t <= rule.identical_window)
        if identical >= rule.identical_max:
            return (
                f"Historical data request pacing violation: more than {rule.identical_max} "
                f"identical requests within {rule.identical_window:g} seconds"
            )
        if len(log_) >= rule.total_max:
            return (
                f"Historical data request pacing violation: more than {rule.total_max} "
                f"requests within {rule.total_window:g} seconds"
            )
        log_.append((now, key))
        return ""

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
            rec = event[1]
            owner = self.clients.get(rec.client_id)
            if owner is None:
                continue
            if kind == "open":
                owner.send_open(rec)
            elif kind == "status":
                owner.send(msg.order_status(rec))
            elif kind == "fill":
                owner.send_fill(rec, event[2])
        if touched:
            for session in self._ready():
                session.send_account_update(touched)
        if flush:
            for session in self._ready():
                session.flush()
