"""``GatewaySimulator``: start, steer and stop a simulated IB gateway from tests and notebooks.

In-process, the server runs on its own thread with its own event loop, so the caller's loop (a
test's, a notebook kernel's) is never touched. With ``subprocess=True`` it runs in a child
process steered over a small control socket, and its state survives the process.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import pandas as pd

from quantnb.errors import ConfigError, GatewayError
from quantnb.sim.config import SimConfig
from quantnb.sim.server import Server
from quantnb.sim.state import SimState

log = logging.getLogger(__name__)
T = TypeVar("T")
_TIMEOUT = 30.0


class GatewaySimulator:
    """A simulated IB Gateway on loopback that the real IB clients connect to.

    ``GatewaySimulator(mode="manual", symbols=["AAPL"])`` takes any ``SimConfig`` setting as a
    keyword; ``bars={"AAPL": df}`` replays those bars instead of the seeded random walk.
    ``subprocess=True`` runs it in a child process (``state_path`` keeps its state on disk).
    """

    def __init__(
        self,
        config: SimConfig | None = None,
        *,
        bars: dict[str, pd.DataFrame] | None = None,
        subprocess: bool = False,
        state_path: str | Path | None = None,
        **settings: Any,
    ) -> None:
        config = config or SimConfig()
        if bars and "symbols" not in settings:
            settings["symbols"] = tuple(str(s).upper() for s in bars)
        self.config = config.with_overrides(**settings) if settings else config
        self._bars = bars
        self._account = self.config.account
        self._backend: _InProcess | _Subprocess
        if subprocess:
            from quantnb.sim.child import _Subprocess

            self._backend = _Subprocess(self.config, bars, state_path)
        else:
            if state_path is not None:
                raise ConfigError("state_path is only used with subprocess=True; use save()")
            self._backend = _InProcess(SimState(self.config, bars))
        self._started = False

    @classmethod
    def from_state(cls, path: str | Path, **settings: Any) -> GatewaySimulator:
        """A simulator that continues from a state written by ``save`` (``settings`` such as
        ``port`` or ``host`` may change where it listens)."""
        state = SimState.load(path)
        if settings:
            state.config = state.config.with_overrides(**settings)
        return cls._of(state)

    @classmethod
    def _of(cls, state: SimState) -> GatewaySimulator:
        sim = cls.__new__(cls)
        sim.config = state.config
        sim._bars = None
        sim._account = state.account.id
        sim._backend = _InProcess(state)
        sim._started = False
        return sim

    # --- life cycle ---

    def start(self) -> GatewaySimulator:
        """Start listening (idempotent); returns self."""
        if not self._started:
            self._backend.start()
            self._started = True
        return self

    def stop(self) -> None:
        """Close all connections and stop listening; the state is kept for ``start``."""
        if self._started:
            self._backend.stop()
            self._started = False

    def restart(self, account: str | None = None) -> None:
        """Stop and start again on the same port, keeping market and account state; with
        ``account``, the gateway comes back logged in to that account (see ``switch_account``)."""
        if account is not None:
            account = self._check_account(account)
        self._backend.restart(account)
        self._started = True
        if account is not None:
            self._account = account

    def __enter__(self) -> GatewaySimulator:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def __repr__(self) -> str:
        where = f"{self.host}:{self.port}" if self._started else "stopped"
        return f"GatewaySimulator({where}, account={self.account}, mode={self.config.mode})"

    # --- where ---

    @property
    def host(self) -> str:
        return self.config.host

    @property
    def port(self) -> int:
        return self._backend.port

    @property
    def account(self) -> str:
        """The account the gateway is logged in to."""
        return self._account

    @property
    def symbols(self) -> list[str]:
        return list(self.config.symbols)

    # --- faults and the clock ---

    def drop_connections(self) -> None:
        """Close every client socket (clients see the peer close); keep listening."""
        self._backend.call("drop_connections")

    def set_latency(self, seconds: float) -> None:
        """Delay everything sent to clients by ``seconds``."""
        if not seconds >= 0:
            raise ConfigError(f"latency {seconds!r} must be zero or more seconds")
        self._backend.call("set_latency", float(seconds))

    def drop_next_orders(self, n: int = 1) -> None:
        """Swallow the next ``n`` placeOrder messages without any answer."""
        self._backend.call("drop_next_orders", int(n))

    def reject_next_orders(
        self, n: int = 1, reason: str = "rejected by the simulator", after_ack: bool = False
    ) -> None:
        """Answer the next ``n`` placeOrder messages with error 201 and ``reason``.

        ``after_ack=True`` rejects as IB does after a late check: the order is first
        acknowledged (openOrder and orderStatus Submitted), then error 201 and status Inactive
        follow; nothing trades. What-if orders are answered as usual and do not count.
        """
        self._backend.call("reject_next_orders", int(n), str(reason), bool(after_ack))

    def pause(self) -> None:
        """Lose the connection to IB: clients get 1100, the market stops, requests wait."""
        self._backend.call("pause")

    def resume(self, data_lost: bool = False) -> None:
        """Restore it: 1102 (or 1101 and market-data subscriptions dropped if ``data_lost``)."""
        self._backend.call("resume", bool(data_lost))

    def stall_stream(self, symbols: str | list[str] | None = None) -> None:
        """The stream goes stale: no ticks or bars for ``symbols`` (None: all), no notice; the
        clock, prices and order matching go on. ``restore_stream()`` ends it."""
        if isinstance(symbols, str):
            symbols = [symbols]
        self._backend.call("stall_stream", None if symbols is None else self._known(symbols))

    def restore_stream(self) -> None:
        """Stalled streams flow again from the next price."""
        self._backend.call("restore_stream")

    def farm_flap(self, down_for: float | None = None) -> None:
        """Market-data farm down: 2103 to clients and no market data, then after ``down_for``
        wall seconds (None: on ``farm_restore()``) 2104 and data again; subscriptions are kept."""
        if down_for is not None and not down_for >= 0:
            raise ConfigError(f"down_for={down_for!r} must be zero or more seconds, or None")
        self._backend.call("farm_flap", None if down_for is None else float(down_for))

    def farm_restore(self) -> None:
        """End a farm flap now: 2104 to clients, market data flows again."""
        self._backend.call("farm_restore")

    def nightly_restart(self, down_for: float | None = None, relogin: bool = False) -> None:
        """IB's nightly restart: 1100 to clients, connections close and are refused while the
        market goes on; back after ``down_for`` wall seconds (None: on ``end_restart()``), and
        with ``relogin=True`` only once ``login()`` is called (the gateway's login screen)."""
        if down_for is not None and not down_for >= 0:
            raise ConfigError(f"down_for={down_for!r} must be zero or more seconds, or None")
        self._backend.call(
            "nightly_restart", None if down_for is None else float(down_for), bool(relogin)
        )

    def end_restart(self) -> None:
        """End the restart window now: the gateway listens again (or waits for ``login()``)."""
        self._backend.call("end_restart")

    def login(self, account: str | None = None) -> None:
        """Log the gateway in after a restart (to ``account``, if given); it listens again."""
        if account is not None:
            account = self._check_account(account)
        self._backend.call("login", account)
        if account is not None:
            self._account = account

    def switch_account(self, account: str, cash: float | None = None) -> None:
        """The gateway is logged in to ``account`` now: connections drop, and clients that
        reconnect see that account, its positions, cash, orders and executions. A new account
        starts with ``cash`` (default: the configured cash). Live ids start with U."""
        account = self._check_account(account)
        self._backend.call("switch_account", account, None if cash is None else float(cash))
        self._account = account

    def set_market_data(self, live: bool = True, delayed: bool = True) -> None:
        """The login's market-data permissions, for requests from now on: without ``live``, a
        request for live data gets 354 and delayed data needs ``reqMarketDataType(3)``."""
        self._backend.call("set_market_data", "live" if live else "delayed" if delayed else "none")

    def _known(self, symbols: list[str]) -> list[str]:
        out = [str(s).upper() for s in symbols]
        unknown = [s for s in out if s not in self.config.symbols]
        if unknown:
            raise GatewayError(f"unknown symbol(s) {unknown}; the universe is {self.symbols}")
        return out

    def _check_account(self, account: str) -> str:
        self.config.with_overrides(account=account)  # raises ConfigError for a malformed id
        return account

    def set_price(self, symbol: str, price: float) -> None:
        """Move ``symbol`` to ``price`` now; ticks go out and working orders are matched."""
        self._backend.call("set_price", symbol.upper(), float(price))

    def step(self, n_bars: int = 1) -> None:
        """Manual mode: play the next ``n_bars`` bars (ticks, bars and fills go out first)."""
        if self.config.mode != "manual":
            raise GatewayError("step() needs mode='manual'; this simulator runs in real time")
        if n_bars < 1:
            raise ConfigError(f"n_bars={n_bars!r} must be at least 1")
        self._backend.call("step", int(n_bars))

    def delay_commission_reports(self, seconds: float) -> None:
        """Send each commission report ``seconds`` (wall time) after its execution, as IB does
        when pricing lags; 0 sends them at once. A report falls due to whoever holds the
        order's client id then; if nobody does, it is not resent, but ``reqExecutions``
        includes it from then on (and leaves it out while it is pending). The setting
        ``commission_delay`` sets it from the start."""
        if not seconds >= 0:
            raise ConfigError(f"delay {seconds!r} must be zero or more seconds")
        self._backend.call("delay_commission_reports", float(seconds))

    def trade_outside(
        self, symbol: str, qty: float, price: float | None = None, client_id: int = 0
    ) -> None:
        """A trade made outside the API sessions (by hand in TWS, or by another client):
        ``qty`` shares of ``symbol`` (negative sells) at ``price``, or at the market with the
        cost model's slippage. The account changes, the execution is recorded under order id
        0 and client ``client_id`` (``reqExecutions`` shows it; a connected client with that
        id gets execDetails and the commission report), and subscribed clients get position,
        portfolio and account updates."""
        self._backend.call(
            "trade_outside", symbol.upper(), float(qty), None if price is None else float(price),
            int(client_id),
        )  # fmt: skip

    # --- what the simulated broker knows ---

    @property
    def now(self) -> pd.Timestamp:
        """Market time."""
        return pd.Timestamp(self._backend.call("now"), tz="UTC")

    def price(self, symbol: str) -> float:
        """Last price of ``symbol``."""
        return float(self._backend.call("price", symbol.upper()))

    def positions(self) -> dict[str, float]:
        """Non-zero positions by symbol."""
        return dict(self._backend.call("positions"))

    def account_values(self) -> dict[str, float]:
        """The account values IB would report (NetLiquidation, TotalCashValue, ...)."""
        return dict(self._backend.call("account_values"))

    def executions(self) -> list[dict[str, Any]]:
        """Every execution so far, oldest first."""
        return list(self._backend.call("executions"))

    def connected_clients(self) -> list[int]:
        """Client ids with a live API session."""
        return sorted(self._backend.call("connected_clients"))

    def frames_sent(self) -> int:
        """Messages sent to the clients connected now (for benchmarks)."""
        return int(self._backend.call("frames_sent"))

    def save(self, path: str | Path) -> None:
        """Write market and account state to ``path`` (``from_state`` reads it back)."""
        self._backend.call("save", str(path))


# --- backends -------------------------------------------------------------------------------------


class Commands:
    """Control operations on a running server, by name (shared by both backends)."""

    def __init__(self, server_ref: Callable[[], Server], state: SimState) -> None:
        self._server = server_ref
        self.state = state

    def drop_connections(self) -> None:
        self._server().drop_connections()

    def set_latency(self, seconds: float) -> None:
        self._server().latency = seconds

    def drop_next_orders(self, n: int) -> None:
        self._server().drop_orders = n

    def reject_next_orders(self, n: int, reason: str, after_ack: bool = False) -> None:
        server = self._server()
        server.reject_orders, server.reject_reason = n, reason
        server.reject_after_ack = after_ack

    def pause(self) -> None:
        self._server().pause()

    def resume(self, data_lost: bool) -> None:
        self._server().resume(data_lost)

    def stall_stream(self, symbols: list[str] | None) -> None:
        self._server().stall_stream(symbols)

    def restore_stream(self) -> None:
        self._server().restore_stream()

    def farm_flap(self, down_for: float | None) -> None:
        self._server().farm_flap(down_for)

    def farm_restore(self) -> None:
        self._server().farm_restore()

    def nightly_restart(self, down_for: float | None, relogin: bool) -> None:
        self._server().nightly_restart(down_for, relogin)

    async def end_restart(self) -> None:
        await self._server().end_restart()

    async def login(self, account: str | None) -> None:
        server = self._server()
        if account is not None:
            self.state.switch_account(account)
            server.drop_connections()
        await server.login()

    def switch_account(self, account: str, cash: float | None) -> None:
        self.state.switch_account(account, cash)
        self._server().drop_connections()

    def set_market_data(self, permission: str) -> None:
        self.state.faults.market_data = permission

    def set_price(self, symbol: str, price: float) -> None:
        self._server().set_price(symbol, price)

    def step(self, n_bars: int) -> None:
        self._server().step(n_bars)

    def now(self) -> int:
        return self.state.market.now_ns()

    def price(self, symbol: str) -> float:
        if symbol not in self.state.market.last:
            raise GatewayError(
                f"unknown symbol {symbol!r}; the universe is {self.state.market.symbols}"
            )
        return self.state.market.last[symbol]

    def positions(self) -> dict[str, float]:
        account = self.state.account
        held = {s: p.qty for s, p in account.portfolio.positions.items() if p.qty}
        return held | {s: h.qty for s, h in account.ledger.holdings.items() if h.qty}

    def account_values(self) -> dict[str, float]:
        return self.state.account.values()

    def executions(self) -> list[dict[str, Any]]:
        return [
            {
                "exec_id": e.exec_id,
                "symbol": e.contract.symbol,
                "side": e.side,
                "shares": e.shares,
                "price": e.price,
                "time": e.time,
                "order_id": e.order_id,
                "client_id": e.client_id,
                "perm_id": e.perm_id,
                "order_ref": e.order_ref,
                "commission": e.commission,
            }
            for e in self.state.account.executions
        ]

    def connected_clients(self) -> list[int]:
        return list(self._server().clients)

    def frames_sent(self) -> int:
        return sum(s.sent for s in self._server().sessions)

    def save(self, path: str) -> None:
        self.state.save(path)

    def delay_commission_reports(self, seconds: float) -> None:
        self._server().commission_delay = seconds

    def trade_outside(self, symbol: str, qty: float, price: float | None, client_id: int) -> None:
        self._server().trade_outside(symbol, qty, price, client_id)


class _InProcess:
    """The server on a daemon thread with its own event loop."""

    def __init__(self, state: SimState) -> None:
        self.state = state
        self.config = state.config
        self._port = state.config.port
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._server: Server | None = None
        self.commands = Commands(self._current, state)
        self._saved: dict[str, Any] = {}

    def _current(self) -> Server:
        if self._server is None:
            raise GatewayError("the simulator is not running: call start() first")
        return self._server

    @property
    def port(self) -> int:
        return self._port

    def start(self) -> None:
        if self._loop is None:
            self._loop = asyncio.new_event_loop()
            ready = threading.Event()

            def run() -> None:
                assert self._loop is not None
                asyncio.set_event_loop(self._loop)
                self._loop.call_soon(ready.set)
                self._loop.run_forever()

            self._thread = threading.Thread(target=run, name="quantnb-sim", daemon=True)
            self._thread.start()
            ready.wait()
        self._run(self._start_server())

    async def _start_server(self) -> None:
        server = Server(self.state, self.config.host, self._port)
        for name, value in self._saved.items():
            setattr(server, name, value)
        try:
            await server.start()
        except OSError as exc:
            raise GatewayError(
                f"cannot listen on {self.config.host}:{self._port}: {exc.strerror or exc}"
            ) from exc
        self._port = server.port
        self._server = server

    def stop(self) -> None:
        self._run(self._stop_server())
        loop, thread = self._loop, self._thread
        if loop is not None and thread is not None:
            loop.call_soon_threadsafe(loop.stop)
            thread.join(timeout=_TIMEOUT)
            loop.close()
        self._loop = self._thread = None

    async def _stop_server(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            self._saved = {
                "latency": server.latency,
                "drop_orders": server.drop_orders,
                "reject_orders": server.reject_orders,
                "reject_reason": server.reject_reason,
                "reject_after_ack": server.reject_after_ack,
                "commission_delay": server.commission_delay,
            }
            await server.close()

    def restart(self, account: str | None = None) -> None:
        self._run(self._stop_server())
        if account is not None:
            self.state.switch_account(account)
        self._run(self._start_server())

    def call(self, name: str, *args: Any) -> Any:
        method = getattr(self.commands, name)
        if self._loop is None and name in (
            "save",
            "now",
            "price",
            "positions",
            "executions",
            "account_values",
        ):
            return method(*args)  # stopped: nothing else touches the state

        async def run() -> Any:
            result = method(*args)
            return await result if asyncio.iscoroutine(result) else result

        return self._run(run())

    def _run(self, coro: Any) -> Any:
        loop = self._loop
        if loop is None:
            coro.close()
            raise GatewayError("the simulator is not running: call start() first")
        if threading.current_thread() is self._thread:
            coro.close()
            raise GatewayError("control calls must come from outside the simulator's thread")
        return asyncio.run_coroutine_threadsafe(coro, loop).result(_TIMEOUT)
