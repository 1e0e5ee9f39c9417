"""The live engine: runs one strategy against IB (or the simulator) on its own thread and loop.

Bars of the same time across symbols are grouped and handed to ``on_data``; the orders it makes
are sent right after it returns. Orders, fills, errors and equity go to the journal as they
happen. Everything runs on the engine's ``LoopThread``; notebook calls only hand work to it.
"""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
import threading
import time
import traceback
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from quantnb.domain import sessions
from quantnb.domain.costs import CostModel
from quantnb.domain.instrument import Instrument
from quantnb.domain.interval import Interval
from quantnb.domain.market_hours import calendars_of
from quantnb.domain.model import Bar, Fill, Order, OrderStatus
from quantnb.domain.risk import RiskLimits
from quantnb.engine import warmup as engine_warmup
from quantnb.engine.context import BarView, fn_name
from quantnb.engine.hooks import check_hooks
from quantnb.engine.scheduler import Scheduler, scheduler_for
from quantnb.engine.strategy import Strategy
from quantnb.errors import (
    ConfigError,
    DataError,
    JournalError,
    LiveTradingError,
    NotConnectedError,
    PacingError,
    PermissionsError,
    QuantnbError,
    UnknownSymbolError,
)
from quantnb.ib.account_guard import check_account_kind as check_account_kind
from quantnb.ib.config import IBConfig, mask_account
from quantnb.ib.config import is_paper_account as is_paper_account
from quantnb.ib.loop import LoopThread
from quantnb.results.frames import FILL_COLUMNS, ORDER_COLUMNS
from quantnb.trading import clock
from quantnb.trading.bar_log import record_group, record_history
from quantnb.trading.context import DEFAULT_CAPACITY, LiveContext
from quantnb.trading.continuous import ContinuousFutures
from quantnb.trading.gc_pause import CollectionHold, FrozenHeap, collection_deferred
from quantnb.trading.history import HistoryRetry
from quantnb.trading.idle import warn_no_bars, why_no_bars
from quantnb.trading.instruments import qualify, register, split_symbols
from quantnb.trading.journal import (
    EQUITY_COLUMNS,
    ERROR_COLUMNS,
    Journal,
    default_path,
    fill_from_row,
)
from quantnb.trading.ledger import Ledger
from quantnb.trading.lookback import bars_wanted
from quantnb.trading.orders import OrderManager
from quantnb.trading.outside import OutsideWatch
from quantnb.trading.pnl import last_quotes, pnl_of
from quantnb.trading.resume import JournalHoldings, not_resumable
from quantnb.trading.safety import journal_account, safety_status
from quantnb.trading.symbols import known_symbols
from quantnb.trading.sync import AccountSync
from quantnb.trading.warmup import LiveWarmup, history_days, history_progress
from quantnb.trading.watchdog import (
    DEFAULT_STALE_AFTER,
    StreamGuard,
    StreamWatchdog,
    stale_after_delta,
)

logger = logging.getLogger(__name__)

ALLOW_LIVE_ENV = "QUANTNB_ALLOW_LIVE"
_TICK = 1.0  # seconds between housekeeping passes (status changes, heartbeat)
_SEND_WAIT = 10.0  # seconds stop() waits for brackets still being sent

# the journal's equity columns with the P&L since the first snapshot after the cash
ACCOUNT_COLUMNS = [*EQUITY_COLUMNS[:3], "pnl", *EQUITY_COLUMNS[3:]]
POSITION_COLUMNS = [
    "symbol",
    "qty",
    "avg_price",
    "last_price",
    "market_value",
    "unrealized_pnl",
    "realized_pnl",
]

_REGISTRY: dict[tuple[Any, ...], LiveStrategyEngine] = {}
_REGISTRY_LOCK = threading.Lock()


@dataclass(frozen=True, slots=True)
class LiveEvent:
    """A small notice for listeners (dashboards): kind is bar, fill, order, error or status."""

    kind: str
    data: dict[str, Any] = field(default_factory=dict)
    time: pd.Timestamp = field(default_factory=lambda: pd.Timestamp.now(tz="UTC"))


def live_allowed(env: dict[str, str] | None = None) -> bool:
    """True when the environment opts in to real-money trading (QUANTNB_ALLOW_LIVE=1)."""
    env = os.environ if env is None else env
    return env.get(ALLOW_LIVE_ENV, "").strip() == "1"


def running_engines() -> list[LiveStrategyEngine]:
    """Engines of this process that are connected or running."""
    with _REGISTRY_LOCK:
        return [e for e in _REGISTRY.values() if e.is_active]


def find_engine(key: tuple[Any, ...]) -> LiveStrategyEngine | None:
    """The active engine registered under ``key`` (host, port, client id), if any."""
    with _REGISTRY_LOCK:
        engine = _REGISTRY.get(key)
    return engine if engine is not None and engine.is_active else None


def stop_all() -> int:
    """Stop every running engine of this process; returns how many."""
    engines = running_engines()
    for engine in engines:
        engine.stop()
    return len(engines)


def new_run_id(name: str = "run") -> str:
    """A readable, unique run id such as ``smacross-20240103T150000-a1b2``."""
    stamp = pd.Timestamp.now(tz="UTC").strftime("%Y%m%dT%H%M%S")
    safe = "".join(c for c in name.lower() if c.isalnum())[:24] or "run"
    return f"{safe}-{stamp}-{secrets.token_hex(2)}"


class LiveStrategyEngine:
    """Paper (default) or live trading of one strategy; see ``quantnb.trading`` for the workflow.

    The strategy's positions are the session's own (``ledger``, fed by its own fills), the
    ``account_positions`` the gateway's; every ``reconcile_interval`` seconds the engine asks the
    gateway for what its pushes missed, and changes made outside the session are logged.
    """

    def __init__(
        self,
        paper_trading: bool = True,
        commission: Any = 0.001,
        slippage: Any = 0.0005,
        update_interval: float = 60.0,
        enable_reconnect: bool = True,
        *,
        config: IBConfig | None = None,
        journal: Journal | str | Path | None = None,
        risk: RiskLimits | None = None,
        allow_short: bool = False,
        run_id: str | None = None,
        journal_dir: str | Path | None = None,
        group_timeout: float | None = None,
        capacity: int | None = None,
        registry_key: tuple[Any, ...] | None = None,
        reconcile_interval: float = 60.0,
        stale_after: float | str | pd.Timedelta | None = DEFAULT_STALE_AFTER,
        hours: str = "regular",
    ) -> None:
        if not (isinstance(update_interval, int | float) and update_interval > 0):
            raise ConfigError(f"update_interval={update_interval!r}: seconds, e.g. 60.0")
        if not (isinstance(reconcile_interval, int | float) and reconcile_interval > 0):
            raise ConfigError(f"reconcile_interval={reconcile_interval!r}: seconds, e.g. 60.0")
        self.reconcile_interval = float(reconcile_interval)
        self.extended_hours = sessions.extended(hours)  # useRTH=0 and outsideRth orders
        stale_after_delta(stale_after, 60)  # a bad value fails here, not at start()
        self.stale_after = stale_after  # bar intervals (or a duration) of silence: see watchdog
        self.paper_trading = bool(paper_trading)
        self.costs = CostModel.from_args(commission, slippage)
        self.update_interval = float(update_interval)
        self.enable_reconnect = bool(enable_reconnect)
        self.config = config or IBConfig.from_env()
        self.risk = risk
        self.allow_short = allow_short
        self.run_id = run_id
        self.journal_dir = journal_dir
        self.group_timeout = group_timeout
        self.capacity = capacity
        self.registry_key = registry_key or (
            self.config.host,
            self.config.port,
            self.config.client_id,
        )
        self._journal_arg = journal
        self.journal: Journal | None = journal if isinstance(journal, Journal) else None
        self.strategy: Strategy | None = None
        self.symbols: tuple[str, ...] = ()
        self.instruments: dict[str, Instrument] = {}  # the symbols that are not US stocks
        self.continuous = ContinuousFutures(())  # qn.continuous names: their months and rolls
        self.interval: Interval | None = None
        self.lookback_days: float | None = None  # None: the strategy's warm-up (trading.warmup)
        self.warmup: LiveWarmup | None = None
        self.connection: Any = None
        self.feed: Any = None
        self.broker: Any = None
        self.order_manager: OrderManager | None = None
        self.history_retry: HistoryRetry | None = None
        self.ctx: LiveContext | None = None
        self.ledger = Ledger()  # this session's own holdings (quantnb.trading.ledger)
        self.outside: OutsideWatch | None = None
        self._sync: AccountSync | None = None
        self.state = "created"
        self._loop = LoopThread(name="quantnb-live")
        self._listeners: list[Callable[[LiveEvent], Any]] = []
        self._stopper: threading.Thread | None = None
        self.session: Any = None  # the LiveSession this engine runs for, if any
        self._heap = FrozenHeap()  # no full-collection pauses between a bar and its orders
        self._group_gc = CollectionHold()  # nor any collection while a step's group gathers
        self._reset_run_state()

    def _reset_run_state(self) -> None:
        self._active: set[str] = set()
        self._accepting = False
        self._pending_time: pd.Timestamp | None = None
        self._pending: list[str] = []
        self._pending_timer: asyncio.TimerHandle | None = None
        self._caught_up: list[Bar] | None = None  # bars met while resubscribing, not yet grouped
        self._in_callback = False
        self._flush_scheduled = False
        self._sending = False
        self._watched: dict[str, Order] = {}
        self._journaled: dict[str, tuple] = {}
        self._tasks: list[asyncio.Task[Any]] = []  # brackets being sent
        self._housekeeper: asyncio.Task[Any] | None = None
        self._guard: StreamGuard | None = None  # the stale-stream watchdog while running
        self._scheduler: Scheduler | None = None  # the strategy's ctx.schedule decisions
        self._last_status: tuple | None = None
        self.bars_received = 0
        self.bars_processed = 0
        self.groups_processed = 0
        self.last_bar_time: pd.Timestamp | None = None
        self.gateway_offset: pd.Timedelta | None = None  # the gateway's clock minus the wall's
        self._last_bar_ns: int | None = None  # wall clock (ns since the epoch) of the newest bar
        self._last_bar_mono = time.monotonic()

    def __repr__(self) -> str:
        name = self.strategy.name if self.strategy is not None else None
        return (
            f"LiveStrategyEngine({self.state}, strategy={name}, symbols={list(self.symbols)}, "
            f"gateway={self.config.address}, client_id={self.config.client_id}, "
            f"paper={self.paper_trading})"
        )

    # ---- setup ---------------------------------------------------------------------------------
    def add_strategy(self, strategy: Strategy) -> LiveStrategyEngine:
        """Set the strategy to run (one per engine)."""
        if not isinstance(strategy, Strategy):
            raise ConfigError(
                f"{strategy!r} is not a quantnb.Strategy: subclass qn.Strategy and pass an instance"
            )
        if self.is_running:
            raise ConfigError("the engine is running: stop() it before changing the strategy")
        self.strategy = strategy
        return self

    @property
    def is_running(self) -> bool:
        return self.state in ("starting", "loading history", "running")

    @property
    def is_connected(self) -> bool:
        return self.connection is not None and self.connection.is_connected()

    @property
    def is_active(self) -> bool:
        """Connected, connecting or running: holds its gateway + client id."""
        return self.state in (
            "connecting", "connected", "starting", "loading history", "running", "stopping"
        )  # fmt: skip

    def add_listener(self, fn: Callable[[LiveEvent], Any]) -> None:
        """Call ``fn(event)`` on the engine's loop thread for bars, fills, orders, errors, status.

        Keep it cheap: it runs between bars. Exceptions are logged and ignored.
        """
        self._listeners.append(fn)

    def remove_listener(self, fn: Callable[[LiveEvent], Any]) -> None:
        self._listeners = [f for f in self._listeners if f is not fn]

    def _emit(self, kind: str, /, **data: Any) -> None:
        if not self._listeners:
            return
        event = LiveEvent(kind, data)
        for fn in list(self._listeners):
            try:
                fn(event)
            except Exception:
                logger.exception("engine listener %r failed", fn)

    # ---- registry ------------------------------------------------------------------------------
    def _claim(self) -> None:
        with _REGISTRY_LOCK:
            other = _REGISTRY.get(self.registry_key)
            if other is not None and other is not self and other.is_active:
                raise ConfigError(
                    f"another engine is already {other.state} on the gateway "
                    f"{other.config.address} with client id {other.config.client_id} ({other!r}). "
                    "Re-running a cell never starts a second one: "
                    "use that engine, stop it first (engine.stop() or "
                    "quantnb.trading.stop_all()), or pick another client id"
                )
            _REGISTRY[self.registry_key] = self

    def _release(self) -> None:
        self._heap.release()
        self._group_gc.release()
        with _REGISTRY_LOCK:
            if _REGISTRY.get(self.registry_key) is self:
                del _REGISTRY[self.registry_key]

    # ---- connect ---------------------------------------------------------------------------------
    def connect(self, timeout: float | None = None) -> LiveStrategyEngine:
        """Connect to the gateway (blocking, a second or so); a second call does nothing."""
        if self.is_active and self.state != "stopping":
            return self
        if not self.paper_trading and not live_allowed():
            raise LiveTradingError(
                f"paper_trading=False needs the environment opt-in {ALLOW_LIVE_ENV}=1 as well; "
                "it is not set, so nothing was connected"
            )
        self._claim()
        self.state = "connecting"
        try:
            self._open_journal()
        except BaseException:
            self.state = "disconnected"
            self._release()
            raise
        self._loop.start()
        wait = timeout if timeout is not None else self.config.timeout * 3 + 10
        try:
            self._loop.run(self._connect_async(), timeout=wait)
        except BaseException as exc:
            self._record_error("connection", f"{type(exc).__name__}: {exc}")
            self._shutdown_loop()
            self.state = "disconnected"
            self._release()
            raise
        self.state = "connected"
        self._status_changed()
        return self

    def _open_journal(self) -> None:
        """Open (or reopen) the journal and read what a previous run left in it."""
        if self.journal is None or self.journal.closed:
            arg = self._journal_arg
            if isinstance(arg, Journal):
                path = arg.path
            elif arg is not None:
                path = Path(arg)
            elif self.journal is not None:
                path = self.journal.path
            else:
                self.run_id = self.run_id or self._new_run_id()
                path = default_path(self.run_id, self.journal_dir)
            self.journal = Journal(path)
        state = self.journal.last_state()
        self.run_id = self.run_id or state.run_id or self._new_run_id()
        self._resume = state if (state.orders or state.exec_ids) else None
        self._order_seq = state.order_seq if state.run_id == self.run_id else 0

    def _new_run_id(self) -> str:
        return new_run_id(self.strategy.name if self.strategy is not None else "run")

    async def _connect_async(self) -> None:
        # the IB modules are imported here so that importing quantnb.trading stays light
        from quantnb.ib.broker import LiveBroker
        from quantnb.ib.connection import IBConnection
        from quantnb.ib.feed import LiveDataFeed

        self.connection = IBConnection(
            self.config, self._loop, enable_reconnect=self.enable_reconnect,
            paper=self.paper_trading,
            account_was=journal_account(self.journal) if self._resume is not None else None,
        )  # fmt: skip
        self.feed = LiveDataFeed(self.connection, use_rth=not self.extended_hours)
        self.broker = LiveBroker(
            self.connection,
            self.costs,
            self.risk,
            run_id=self.run_id,
            allow_short=self.allow_short,
            price=self._price_of,
            extended_hours=self.extended_hours,
            market_time=self._gateway_time,
        )
        self.ledger = Ledger.from_journal(self.journal)
        self.outside = OutsideWatch(
            self.ledger, self.broker, self.journal, self._record_error, self._market_time
        )
        self.broker.register_booking_callback(self.outside.book)
        self.broker.register_commission_callback(self.outside.on_commission)
        self.broker.register_position_callback(self.outside.on_position)
        self.order_manager = OrderManager(self.broker, self.connection, self._change_failed)
        self.history_retry = HistoryRetry(
            self.feed,
            self.connection.is_connected,
            self._history_arrived,
            self._history_refused,
        )
        if self._resume is not None:
            # before the broker's reconcile (priority 0): resume, or start a new run
            self.connection.add_listener(on_connected=self._resume_or_new_run, priority=-10)
        # after the resume decision, before the broker's reconcile books the gateway's positions
        self.connection.add_listener(on_connected=self._book_instruments, priority=-5)
        self.broker.register_fill_callback(self._on_fill)
        self.broker.register_error_callback(self._on_broker_error)
        self.broker.register_order_callback(self._on_order_update)
        self.connection.add_listener(
            on_connected=self._on_connected,
            on_disconnected=self._on_disconnected,
            on_error=self._on_gateway_error,
            priority=20,
        )
        await self.connection.connect()  # refuses an account of the other kind

    async def _book_instruments(self, reconnected: bool) -> None:
        """The session's futures and FX known to the contract cache, the account and the ledger
        (``trading.instruments``)."""
        if self.instruments and self.connection is not None:
            if self.continuous and not self.continuous.watch.current:  # at a start: the months
                now = await self._gateway_time()
                self.instruments.update(self.continuous.months(now, self.ledger.portfolio))
            contracts = self.connection.contracts
            register(self.instruments, contracts, self.broker.portfolio, self.ledger, self.journal)
            if self.connection.is_socket_connected():
                await qualify(self.instruments, contracts)

    async def _resume_or_new_run(self, reconnected: bool) -> None:
        """At the first connect: resume the journal on the gateway it traded on, or start a new
        run in a journal of its own where the gateway holds none of it (``trading.resume``)."""
        from quantnb.ib.holdings import gateway_holdings

        self.connection.remove_listener(self._resume_or_new_run)  # type: ignore[union-attr]
        if self._resume is None:
            return
        held = {s: p.qty for s, p in self.ledger.open_positions().items()}  # type: ignore[union-attr]
        try:
            why = not_resumable(
                JournalHoldings.of(self._resume.orders, held),
                *await gateway_holdings(self.connection),  # type: ignore[arg-type]
            )
        except Exception as exc:  # the reconcile that follows decides as before
            logger.info("could not ask the gateway what it holds: %s", exc)
            why = None
        if why is None:
            self._restore_journal()
            return
        old = self.journal.path  # type: ignore[union-attr]
        self.journal.close()  # type: ignore[union-attr]
        self.run_id = self._new_run_id()
        self._journal_arg = default_path(self.run_id, old.parent)
        self.journal = Journal(self._journal_arg)
        self._resume, self._order_seq = None, 0
        self.ledger = Ledger.from_journal(self.journal)
        self.outside.ledger, self.outside.journal = self.ledger, self.journal  # type: ignore[union-attr]
        self.broker.run_id = self.run_id  # type: ignore[union-attr]
        message = (
            f"{old}: {why}. Not resumed: a new run {self.run_id} starts in {self.journal.path}; "
            "the old journal is kept as it was"
        )
        self._record_error("journal", message)

    def _restore_journal(self) -> None:
        """Hand the journal's orders and executions to the broker before it reconciles."""
        assert self._resume is not None and self.journal is not None and self.broker is not None
        orders = list(self._resume.orders)
        fills = [fill_from_row(r) for r in self.journal.fills().itertuples(index=False)]
        self.broker.restore(orders, self._resume.exec_ids, fills)
        for o in orders:
            self._journaled[o.id] = _state_key(o)
            if not o.is_done:
                self._watched[o.id] = o

    # ---- start ---------------------------------------------------------------------------------
    def start(
        self,
        symbols: Iterable[str | Instrument] | str | Instrument | None = None,
        lookback_days: float | None = None,
        interval: str | Interval | None = None,
        *,
        wait: bool = False,
        timeout: float = 60.0,
        skip_unknown: bool = False,
    ) -> LiveStrategyEngine:
        """Connect if needed, then load history, subscribe and run, in the background.

        Returns at once (``wait=True`` blocks until the strategy is initialised and subscribed).
        A symbol the gateway does not know fails the start (UnknownSymbolError naming it);
        ``skip_unknown=True`` starts with the others only.
        A second call while running does nothing. Symbols, lookback and interval default to the
        last run's (5m bars the first time), so a restart needs no arguments. Without
        ``lookback_days`` the history asked for is the strategy's warm-up (``ctx.warmup``).
        """
        if self.is_running:
            logger.info("the engine is already running; start() ignored")
            return self
        if self.strategy is None:
            raise ConfigError("no strategy: call engine.add_strategy(MyStrategy()) first")
        check_hooks(self.strategy)
        syms, found = split_symbols(symbols if symbols is not None else self.symbols)
        ival = Interval.parse(interval if interval is not None else self.interval or "5m")
        if lookback_days is None:
            lookback_days = self.lookback_days
        if lookback_days is not None and not (
            isinstance(lookback_days, int | float) and lookback_days >= 0
        ):
            raise ConfigError(
                f"lookback_days={lookback_days!r}: a number of days >= 0, or None for the "
                "strategy's warm-up"
            )
        connected = self.is_active
        self.instruments = {s: i for s, i in {**self.instruments, **found}.items() if s in syms}
        self.continuous = ContinuousFutures(self.instruments.values())
        self.connect()
        self._loop.run(self._book_instruments(False), timeout=self.config.timeout * 2 + 5)
        syms = self._known_symbols(syms, skip_unknown, connected)
        self.symbols, self.interval, self.lookback_days = syms, ival, lookback_days
        self._reset_run_state()
        bars = int((lookback_days or 0) * 86400 / ival.seconds) + 1
        capacity = self.capacity or max(DEFAULT_CAPACITY, bars)
        self.ctx = LiveContext(
            syms,
            self.broker,
            self.run_id,
            capacity=capacity,
            order_seq=self._order_seq,
            on_submit=self._on_submit,
            on_cancel=self._cancel_order,
            holdings=self.ledger.portfolio,
            on_modify=self._modify_order,
        )
        if self.continuous:
            self.continuous.attach(self)
        self.state = "starting"
        future = self._loop.submit(self._start_async(lookback_days))
        if wait:
            future.result(timeout)
        return self

    def _known_symbols(
        self, syms: tuple[str, ...], skip_unknown: bool, was_connected: bool
    ) -> tuple[str, ...]:
        """The symbols the gateway knows (see ``trading.symbols``); a refused start leaves the
        engine connected only if it was before."""
        check = known_symbols(
            self.connection.contracts,
            syms,
            skip_unknown=skip_unknown,
            timeout=self.config.timeout,
            on_skip=lambda s, why: self._record_error("data", f"skipped {s}: {why}", symbol=s),
        )
        try:
            return self._loop.run(check, timeout=self.config.timeout * 2 + 5)
        except UnknownSymbolError as exc:
            self._record_error("data", f"start refused: {exc}")
            if not was_connected:
                self._loop.run(self._abort_start())
            raise

    async def _start_async(self, lookback_days: float | None) -> None:
        try:
            await self._start_run(lookback_days)
        except Exception as exc:
            message = f"start failed: {type(exc).__name__}: {exc}"
            self._record_error("engine", message, detail=traceback.format_exc())
            await self._abort_start()
            raise

    async def _abort_start(self) -> None:
        """Undo a failed start: no bars taken, disconnected, the client id free for a new
        ``start()``."""
        self._accepting = False
        self.state = "stopping"  # the disconnect below is not a lost connection
        if self._housekeeper is not None:
            self._housekeeper.cancel()
        if self._sync is not None:
            self._sync.stop()
        if self._guard is not None:
            self._guard.stop()
        if self.connection is not None:
            try:
                await self.connection.disconnect()
            except Exception as exc:
                logger.info("disconnect after a failed start: %s", exc)
        self.state = "disconnected"
        self._release()
        self._status_changed()

    async def _start_run(self, override: float | None) -> None:
        assert self.ctx is not None and self.strategy is not None and self.interval is not None
        self.journal.record_run(  # type: ignore[union-attr]
            self.run_id,
            strategy=self.strategy.name,
            params=self.strategy.params,
            symbols=list(self.symbols),
            interval=self.interval.name,
            account=mask_account(self.connection.account),
            gateway=self.config.address,
            client_id=self.config.client_id,
            paper=self.paper_trading,
        )
        # initialize first, as in a backtest: what it sets up is the warm-up the history covers
        now = (await self._gateway_time()).floor("s")
        self.ctx.set_now(now)
        ctx, strategy = self.ctx, self.strategy
        warm = engine_warmup.initialize(
            strategy, ctx, lambda: self._call_strategy("initialize", strategy.initialize)
        )
        self.warmup = LiveWarmup(warm)
        ctx.reserve(bars_wanted(warm.bars))
        extended = not getattr(self.feed, "use_rth", True)
        cals = tuple(calendars_of(self.symbols, self.instruments).values())  # their markets'
        lookback_days = history_days(warm, override, self.interval, now, cals, extended)
        self.history_retry.cancel()  # type: ignore[union-attr]
        self.history_retry.configure(lookback_days, self.interval.name)  # type: ignore[union-attr]
        self.state = "loading history"
        self._status_changed()
        # every symbol at once: the feed paces history requests and shares the gateway's clock
        results = await asyncio.gather(
            *(self._prepare(s, lookback_days) for s in self.symbols), return_exceptions=True
        )
        if self.state != "loading history":
            return  # stopped meanwhile
        self._active = {s for s, ok in zip(self.symbols, results, strict=True) if ok is True}
        if not self._active:
            self._record_error("data", "no symbol could be subscribed; the engine waits idle")
        last = [s.last.time for s in self.ctx.series.values() if s.last is not None]
        self.ctx.set_now(max(last) if last else now)
        record_history(self.journal, self.ctx)  # what the strategy starts from, for replays
        # fire times up to the end of the last bar known now are past, as before a backtest
        after = self.ctx.now.value + (self.interval.seconds * 10**9 if last else 0)
        self._scheduler = scheduler_for(self.ctx, self.interval, after)
        self._send_outbox()
        self._accepting = True
        self.state = "running"
        self._status_changed()
        self._housekeeper = asyncio.get_running_loop().create_task(self._housekeeping())
        sync = AccountSync(self.broker.sync_account, self._after_sync, self.reconcile_interval)
        self._sync = sync
        sync.start()
        self._guard = self._stream_guard()
        if self._guard is not None:
            self._guard.watchdog.warm(now)  # market calendars built now, not amid bars
            self._guard.start()
        self._heap.freeze()

    def _stream_guard(self) -> StreamGuard | None:
        """The stale-stream watchdog over the subscribed symbols (None when turned off)."""
        assert self.interval is not None
        delta = stale_after_delta(self.stale_after, self.interval.seconds)
        if delta is None or not self._active:
            return None
        dog = StreamWatchdog(
            sorted(self._active),
            self.interval.seconds,
            delta,
            extended_hours=not getattr(self.feed, "use_rth", True),
            calendars=calendars_of(self._active, self.instruments),
        )
        for series in self.ctx.series.values() if self.ctx is not None else ():
            if series.last is not None:
                dog.bar(series.last.symbol, series.last.time)  # heard so far
        return StreamGuard(
            dog,
            self.feed,
            clock=self.feed.gateway_time_async,
            connected=lambda: self.is_connected,
            report=lambda text, symbol: self._record_error("data", text, symbol=symbol),
            changed=self._status_changed,
        )

    async def _gateway_time(self) -> pd.Timestamp:
        """The gateway's clock (the simulator's market time), else the wall clock. Each answer
        sets ``gateway_offset``: how far the gateway's clock is from the wall's."""
        try:
            now = await self.feed.gateway_time_async()
        except Exception as exc:
            logger.info("no gateway time (%s); using the wall clock", exc)
            return pd.Timestamp.now(tz="UTC")
        self.gateway_offset = now - pd.Timestamp.now(tz="UTC")
        return now

    async def _prepare(self, symbol: str, lookback_days: float) -> bool:
        """Load ``symbol``'s history, then stream it; False (error logged) when it cannot be."""
        ctx, feed = self.ctx, self.feed
        assert ctx is not None and self.interval is not None
        if lookback_days > 0:
            try:
                frame = await feed.get_recent_history_async(
                    symbol, lookback_days, self.interval.name
                )
            except DataError as exc:
                self._record_error("data", f"{symbol}: {exc}; trading the others", symbol=symbol)
                return False
            except PacingError as exc:
                self.history_retry.refused_at_start(symbol, exc)  # type: ignore[union-attr]
            except PermissionsError as exc:  # the feed builds bars from delayed ticks instead
                self._record_error("data", str(exc), symbol=symbol)
            except Exception as exc:
                self._record_error("data", f"no history for {symbol}: {exc}", symbol=symbol)
            else:
                logger.info("loaded %d bars of %s history", ctx.load(symbol, frame), symbol)
        last = ctx.series[symbol].last
        try:
            await feed.subscribe_async(
                [symbol], self.interval.name, self._on_bar, since=last.time if last else None
            )
        except Exception as exc:
            self._record_error(
                "data", f"cannot stream {symbol}: {exc}; trading the others", symbol=symbol
            )
            return False
        latest = feed.get_latest_bar(symbol)  # complete before the start: history, not on_data
        if latest is not None:
            ctx.update(latest)
        return True

    def _history_refused(self, symbol: str, exc: Exception, delay: float) -> None:
        self._record_error(
            "pacing",
            f"history of {symbol} refused by IB's pacing (error 162): asked again in {delay:g} s; "
            "until it arrives the strategy sees only the bars streamed since the start",
            code=162,
            symbol=symbol,
            detail=str(exc),
        )

    def _history_arrived(self, symbol: str, frame: pd.DataFrame) -> int:
        added = self.ctx.backfill(symbol, frame) if self.ctx is not None else 0
        if added:
            record_history(self.journal, self.ctx, [symbol])
        logger.info("history of %s arrived late: %d bars added to the strategy's", symbol, added)
        self._last_status = None  # listeners hear of it (the status shows what is missing)
        self._status_changed()
        return added

    # ---- bars ----------------------------------------------------------------------------------
    def _on_bar(self, bar: Bar) -> None:
        """A completed bar from the feed (loop thread): group by time, dispatch when complete."""
        ctx = self.ctx
        if ctx is None or bar.symbol not in ctx.series:
            return
        if self._guard is not None:
            self._guard.saw(bar)
        if not self._accepting:
            ctx.update(bar)  # before initialize: history only
            return
        if self._caught_up is not None or self._coming_back():
            # the symbols are resubscribed one after another: group their missed bars by time
            # once all are back (_on_connected), not hand one symbol's bars out alone
            if self._caught_up is None:
                self._caught_up = []
            self._caught_up.append(bar)
            return
        self._take_bar(bar)

    def _take_bar(self, bar: Bar) -> None:
        ctx = self.ctx
        assert ctx is not None
        if self._pending_time is not None and bar.time > self._pending_time:
            self._dispatch_pending()
        if not ctx.update(bar):
            return
        self.bars_received += 1
        self._last_bar_ns = time.time_ns()  # a Timestamp only when asked for (last_bar_wall)
        self._last_bar_mono = time.monotonic()
        self._active.add(bar.symbol)
        # older than the group handed out or the one waiting: history only, never in a later group
        done = bar.time
        for t in (self.last_bar_time, self._pending_time):
            if t is not None and t > done:
                done = t
        if bar.time < done:
            logger.warning("late bar %s %s after %s; kept in history only", bar.symbol,
                           bar.time, done)  # fmt: skip
            return
        if self._pending_time is None:
            self._pending_time = bar.time
            self._group_gc.hold()
        self._pending.append(bar.symbol)
        self._maybe_dispatch()

    def _maybe_dispatch(self) -> None:
        if not self._accepting or not self._pending:
            return
        late = self.last_bar_time is not None and self._pending_time == self.last_bar_time
        stale = self._guard.stale_count if self._guard is not None else 0  # not waited for
        if late or len(self._pending) >= len(self._active) - stale:
            self._dispatch_pending()
        elif self._pending_timer is None:
            loop = asyncio.get_running_loop()
            self._pending_timer = loop.call_later(self._grace(), self._dispatch_pending)

    def _grace(self) -> float:
        if self.group_timeout is not None:
            return float(self.group_timeout)
        seconds = self.interval.seconds if self.interval is not None else 60
        return min(2.0, max(0.05, 0.1 * seconds))

    def _dispatch_pending(self) -> None:
        if self._pending_timer is not None:
            self._pending_timer.cancel()
            self._pending_timer = None
        if not self._pending or not self._accepting:
            self._group_gc.release()
            return
        when, symbols = self._pending_time, tuple(self._pending)
        self._pending_time, self._pending = None, []
        try:
            self._dispatch(when, symbols)  # type: ignore[arg-type]
        finally:
            self._group_gc.release()

    def _dispatch(self, when: pd.Timestamp, symbols: tuple[str, ...]) -> None:
        ctx, strategy = self.ctx, self.strategy
        assert ctx is not None and strategy is not None
        ctx.set_now(when)
        if self.continuous:
            self.continuous.roll(when)  # a roll's orders go before the strategy's, as backtested
        with collection_deferred():
            if self.warmup is None or self.warmup.ready(ctx.series, self._active):
                self._call_strategy("on_data", strategy.on_data, BarView(ctx, symbols))
                for fn in self._scheduler.due(when.value) if self._scheduler is not None else ():
                    self._call_strategy(f"scheduled {fn_name(fn)}", fn)
            self._send_outbox()
        record_group(self.journal, ctx, symbols)
        self.bars_processed += len(symbols)
        self.groups_processed += 1
        self.last_bar_time = when
        self._snapshot(when)
        self._emit("bar", time=when, symbols=symbols)

    def _call_strategy(self, hook: str, fn: Callable[..., Any], *args: Any) -> bool:
        self._in_callback = True
        try:
            fn(self.ctx, *args)
            return True
        except Exception as exc:
            when = self.ctx.now if self.ctx is not None and self.ctx._now is not None else None
            self._record_error(
                "strategy",
                f"{hook} raised {type(exc).__name__}: {exc}",
                detail=traceback.format_exc(),
                time=when,
            )
            return False
        finally:
            self._in_callback = False

    # ---- orders --------------------------------------------------------------------------------
    def _on_submit(self) -> None:
        """An order was made; outside a strategy callback, send it soon."""
        if self._in_callback or self._flush_scheduled:
            return
        self._flush_scheduled = True
        if self._loop.in_loop():
            asyncio.get_running_loop().call_soon(self._send_outbox)
        else:
            self._loop.call_soon(self._send_outbox)

    def _send_outbox(self) -> None:
        """Send the orders made since the last call, each journaled before it leaves."""
        self._flush_scheduled = False
        ctx, manager = self.ctx, self.order_manager
        holding = manager is not None and manager.holding
        if ctx is None or not (ctx.outbox or holding):
            return
        if self._coming_back():
            # bars caught up while resubscribing: send once reconciliation and resubscription
            # are done (a few ms), not refuse them as "not connected"
            self._flush_scheduled = True
            asyncio.get_running_loop().call_later(0.005, self._send_outbox)
            return
        if holding and not manager.flush():  # type: ignore[union-attr]
            return  # new orders wait behind queued cancels and changes until the gateway is back
        if not ctx.outbox:
            return
        orders = ctx.take_outbox()
        self._sending = True  # their state changes are journaled together once all have left
        try:
            self._send_orders(orders)
        finally:
            self._sending = False

    def _journal_created(self, orders: list[Order]) -> None:
        """Journal new orders as created (before anything is sent), remembering their state."""
        for order in orders:
            self._journaled[order.id] = _state_key(order)
        try:
            self.journal.record_orders(orders, "created")  # type: ignore[union-attr]
        except JournalError as exc:
            logger.error("%s", exc)

    def _send_orders(self, orders: list[Order]) -> None:
        children = {o.parent_id for o in orders if o.parent_id is not None}
        self._journal_created(orders)
        ids = {o.id for o in orders}
        singles = []
        with self.broker.batch():
            for order in orders:
                if order.parent_id is not None and order.parent_id in ids:
                    continue  # sent with its parent
                if order.id in children:
                    kids = [o for o in orders if o.parent_id == order.id]
                    self._spawn(self._send_bracket(order, kids))
                    continue
                try:
                    self.broker.execute_order(order)
                except Exception as exc:
                    self._refuse(order, exc)
                singles.append(order)
        # every order has left before their new states are journaled (one transaction)
        self._watch_all(singles)

    def _coming_back(self) -> bool:
        """The socket is back but the on-connected callbacks (reconcile, resubscribe) still run."""
        conn = self.connection
        return (
            conn is not None
            and conn.state in ("connecting", "reconnecting")
            and conn.is_socket_connected()
            and self.state == "running"
        )

    def _watch_all(self, orders: list[Order]) -> None:
        changed = [o for o in orders if self._journaled.get(o.id) != _state_key(o)]
        for order in orders:
            if order.is_done:
                self._watched.pop(order.id, None)
            else:
                self._watched[order.id] = order
        if not changed:
            return
        for order in changed:
            self._journaled[order.id] = _state_key(order)
        try:
            self.journal.record_orders(changed, later=True)  # type: ignore[union-attr]
        except JournalError as exc:
            logger.error("%s", exc)
        for order in changed:
            self._emit("order", order_id=order.id, symbol=order.symbol, status=str(order.status))

    async def _send_bracket(self, entry: Order, exits: list[Order]) -> None:
        try:
            await self.broker.execute_bracket_async(entry, *exits)
        except Exception as exc:
            for o in (entry, *exits):
                self._refuse(o, exc)
        for o in (entry, *exits):
            self._watch(o)

    def _refuse(self, order: Order, exc: BaseException) -> None:
        if order.is_done:
            return
        ours = isinstance(exc, QuantnbError)  # our errors name the order already
        order.status = OrderStatus.REJECTED
        order.reason = str(exc) if ours else f"not sent: {exc}"
        order.updated = pd.Timestamp.now(tz="UTC")
        kind = "connection" if isinstance(exc, NotConnectedError) else "order"
        self._record_error(
            kind,
            str(exc)
            if ours
            else f"order {order.id} ({order.side} {order.qty:g} {order.symbol}) not sent: {exc}",
            order_id=order.id,
            symbol=order.symbol,
            detail="" if ours else traceback.format_exc(),
        )

    def _drop_unsent(self) -> None:
        """At stop: record the cancels and orders still waiting for a gateway that is not back."""
        away = f"the IB gateway at {self.config.address} was not back before stop()"
        if self.order_manager is not None:
            for action in self.order_manager.drop():
                order = action.order
                self._record_error(
                    "connection",
                    f"{action.kind} of order {order.id} not sent: {away}; the order may still be "
                    "working as it was",
                    order_id=order.id,
                    symbol=order.symbol,
                )
        if self.ctx is not None and self.ctx.outbox:
            orders = self.ctx.take_outbox()
            self._journal_created(orders)
            for order in orders:
                self._refuse(order, NotConnectedError(f"order {order.id} not sent: {away}"))
                self._watch(order)

    def _cancel_order(self, order: Order) -> bool:
        if self.order_manager is None:
            return False
        return self.order_manager.cancel(order)

    def _modify_order(self, order: Order, changes: dict[str, float]) -> bool:
        if self.order_manager is None:
            return False
        return self.order_manager.modify(order, changes)

    def _change_failed(self, order: Order, exc: Exception) -> None:
        # our errors name the order already; only a foreign one needs it added
        ours = isinstance(exc, QuantnbError)
        text = str(exc) if ours else f"cannot change order {order.id}: {exc}"
        kind = "connection" if isinstance(exc, NotConnectedError) else "order"
        self._record_error(kind, text, order_id=order.id, symbol=order.symbol)

    def _watch(self, order: Order) -> None:
        if order.is_done:
            self._watched.pop(order.id, None)
        else:
            self._watched[order.id] = order
        self._journal_if_changed(order)

    def _journal_order(self, order: Order) -> None:
        self._journaled[order.id] = _state_key(order)
        try:
            self.journal.record_order(order, later=True)  # type: ignore[union-attr]
        except JournalError as exc:
            logger.error("%s", exc)
        self._emit("order", order_id=order.id, symbol=order.symbol, status=str(order.status))

    def _journal_if_changed(self, order: Order) -> None:
        if self._journaled.get(order.id) != _state_key(order):
            self._journal_order(order)

    def _on_order_update(self, order: Order) -> None:
        """The broker changed an order's state: journal it (batched while an outbox is sent)."""
        if not self._sending:
            self._watch(order)

    def _scan_orders(self) -> None:
        """Journal any state change not yet journaled (at reconnect and stop; the broker's order
        callback journals them as they happen)."""
        if not self._watched:
            return
        for order in list(self._watched.values()):
            self._journal_if_changed(order)
            if order.is_done:
                self._watched.pop(order.id, None)
        if self.broker is not None:
            for order in self.broker.open_orders():
                if order.id not in self._watched:
                    self._watched[order.id] = order
                    self._journal_if_changed(order)

    def _price_of(self, symbol: str) -> float | None:
        symbol = self.continuous.names.get(symbol, symbol)  # a month: its continuous series
        ctx = self.ctx
        series = ctx.series.get(symbol) if ctx is not None else None
        return series.last.close if series is not None and series.last is not None else None

    # ---- broker and gateway events -------------------------------------------------------------
    def _on_fill(self, fill: Fill) -> None:
        if self.journal is not None and not self.journal.record_fill(fill):
            return
        own = self.outside.on_fill(fill) if self.outside is not None else True
        order = self.broker.orders.get(fill.order_id) if self.broker is not None else None
        if order is not None:
            self._watch(order)
        self._emit(
            "fill",
            order_id=fill.order_id,
            symbol=fill.symbol,
            side=str(fill.side),
            qty=fill.qty,
            price=fill.price,
        )
        if own and self.ctx is not None and self.strategy is not None and self.state == "running":
            self._call_strategy("on_fill", self.strategy.on_fill, fill)
            self._send_outbox()

    def _on_broker_error(self, error: Exception | str) -> None:
        kind = "order" if isinstance(error, QuantnbError) else "broker"
        text = str(error)
        order_id = getattr(error, "order_id", None)
        if order_id is None and text.startswith("order "):
            # an error that does not carry the order's id names it first: "order <id> ..."
            order_id = text.split()[1].rstrip(":")
        self._record_error(kind, text, order_id=order_id)
        order = self.broker.orders.get(order_id) if order_id and self.broker else None
        if order is not None:
            self._watch(order)

    def _on_gateway_error(self, event: Any) -> None:
        kind = str(getattr(event, "kind", "error"))
        if kind in ("info", "order_rejected", "order_cancelled", "order_request_refused"):
            return  # notices; order errors reach us through the broker with the order named
        self._record_error(
            "gateway" if kind == "error" else kind,
            str(getattr(event, "message", event)),
            code=getattr(event, "code", None),
        )

    async def _on_connected(self, reconnected: bool) -> None:
        if self.outside is not None:
            self.outside.fit_all()  # the broker has reconciled: square the session's holdings
            self.outside.armed = True
        if reconnected:
            logger.info("engine back on the gateway %s; bars resume", self.config.address)
            self._scan_orders()
            self._replay_caught_up()
            held = self.order_manager is not None and self.order_manager.holding
            if self.ctx is not None and (self.ctx.outbox or held):
                # runs right after the connection reports itself connected
                asyncio.get_running_loop().call_soon(self._send_outbox)
        self._status_changed()

    def _replay_caught_up(self) -> None:
        """Hand out the bars caught up while resubscribing, grouped by time as usual."""
        bars, self._caught_up = self._caught_up, None
        if not bars:
            return
        rank = {s: i for i, s in enumerate(self.symbols)}
        bars.sort(key=lambda b: (b.time, rank.get(b.symbol, len(rank))))
        for bar in bars:
            self._take_bar(bar)

    def _on_disconnected(self) -> None:
        if self.state in ("stopping", "stopped"):
            return
        self._record_error(
            "connection",
            f"lost the connection to the IB gateway {self.config.address}"
            + ("; reconnecting" if self.enable_reconnect else ""),
        )
        self._status_changed()

    def _record_error(
        self,
        kind: str,
        message: str,
        *,
        code: int | None = None,
        symbol: str | None = None,
        order_id: str | None = None,
        detail: str = "",
        time: Any = None,
    ) -> None:
        logger.warning("%s error: %s", kind, message)
        if time is None:
            time = self._market_time()
        if self.journal is not None and not self.journal.closed:
            try:
                self.journal.record_error(
                    kind,
                    message,
                    code=code,
                    order_id=order_id,
                    symbol=symbol,
                    detail=detail,
                    time=time,
                )
            except JournalError as exc:
                logger.error("%s", exc)
        self._emit("error", kind=kind, code=code, message=message)

    # ---- housekeeping --------------------------------------------------------------------------
    async def _housekeeping(self) -> None:
        last_beat = time.monotonic()
        while True:
            await asyncio.sleep(min(_TICK, self.update_interval))
            try:
                self._status_changed()
                now = time.monotonic()
                if now - max(last_beat, self._last_bar_mono) >= self.update_interval:
                    last_beat = now
                    self._heartbeat()
            except Exception:
                logger.exception("housekeeping failed; continuing")

    def _heartbeat(self) -> None:
        """No bar for ``update_interval`` seconds: check the link and record the account (a
        group still waiting for a symbol goes out on its own timer, ``group_timeout``)."""
        if not self.is_connected:
            logger.info("heartbeat: not connected (%s)", self.connection.state)
        self._snapshot(self._market_time())

    def _market_time(self) -> pd.Timestamp | None:
        """The market's time: that of the latest bar handed to the strategy (or, before the
        first, the latest bar of history). The journal adds the wall time of every row."""
        ctx = self.ctx
        return ctx._now if ctx is not None else None

    def _status_key(self) -> tuple:
        conn = self.connection
        return (
            self.state,
            conn.state if conn is not None else "disconnected",
            self._fallback(),
            self._streams(),
            self._data_farm(),
            *safety_status(conn).values(),
        )

    def _streams(self) -> dict[str, str]:
        """Symbols whose stream is not ok now: ``resubscribing`` or ``stale``."""
        guard = self._guard
        if guard is None:
            return {}
        return {s: st for s, st in guard.watchdog.states().items() if st != "ok"}

    def _data_farm(self) -> str:
        """``ok``, or IB's market-data farm trouble (between notices 2103 and 2104)."""
        farms = getattr(self.feed, "broken_farms", ()) if self.feed is not None else ()
        return f"farm broken: {', '.join(farms)}" if farms else "ok"

    def _fallback(self) -> bool:
        try:
            return bool(self.feed is not None and self.feed.is_fallback_mode())
        except Exception:
            return False

    def _status_changed(self) -> None:
        key = self._status_key()
        if key != self._last_status:
            self._last_status = key
            self._emit("status", state=key[0], connection=key[1], fallback=key[2],
                       streams=key[3], data_farm=key[4],
                       **safety_status(self.connection))  # fmt: skip

    def _snapshot(self, when: pd.Timestamp | None) -> None:
        if self.broker is None or self.journal is None or self.journal.closed or when is None:
            return
        pf = self.broker.portfolio
        try:
            self.journal.record_equity(
                when,
                pf.equity,
                pf.cash,
                realized_pnl=pf.realized_pnl,
                unrealized_pnl=pf.unrealized_pnl,
                commissions=pf.commissions,
                later=True,
            )
        except JournalError as exc:
            logger.error("%s", exc)

    def _after_sync(self) -> None:
        if self.outside is not None:
            self.outside.fit_all()

    def _spawn(self, coro: Any) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.append(task)
        task.add_done_callback(lambda t: self._tasks.remove(t) if t in self._tasks else None)

    # ---- stop ----------------------------------------------------------------------------------
    def stop(self, timeout: float = 30.0) -> None:
        """Finalize the strategy, unsubscribe, disconnect; everything is journaled first.

        Called from the strategy or a listener (on the engine's own loop), it takes no more bars
        at once and stops from another thread; ``state`` is "stopped" once that is done.
        """
        if self._loop.in_loop():
            self._stop_soon(timeout)
            return
        stopper = self._stopper
        if stopper is not None and stopper is not threading.current_thread():
            stopper.join(timeout)
            return
        if self.state in ("stopped", "created", "disconnected"):
            self._release()
            if self._loop.is_running():
                self._shutdown_loop()  # e.g. after a failed start
            return
        idle = self.groups_processed == 0 and self.ctx is not None and self.interval is not None
        why = why_no_bars(self.status, self.symbols, self.interval.name) if idle else None
        self.state = "stopping"
        try:
            if self._loop.is_running():
                self._loop.run(self._stop_async(), timeout=timeout)
        finally:
            self._shutdown_loop()
            if self.journal is not None:
                self.journal.close()
            self.state = "stopped"
            self._release()
            self._emit("status", state="stopped", connection="stopped", fallback=False)
        # a group may have reached on_data while the loop was winding down
        warn_no_bars(why if self.groups_processed == 0 else None)

    def _stop_soon(self, timeout: float) -> None:
        """stop() on the loop thread, which cannot wait for itself: stop taking bars now and
        run the real stop on another thread."""
        if self._stopper is not None or self.state not in (
            "connected", "starting", "loading history", "running"
        ):  # fmt: skip
            return
        self._accepting = False
        if self._pending_timer is not None:
            self._pending_timer.cancel()
            self._pending_timer = None
        self._pending_time, self._pending = None, []
        self._group_gc.release()
        self.state = "stopping"
        self._stopper = threading.Thread(
            target=self._stop_in_thread, args=(timeout,), name="quantnb-live-stop", daemon=True
        )
        self._stopper.start()

    def _stop_in_thread(self, timeout: float) -> None:
        try:
            self.stop(timeout)
        except Exception:
            logger.exception("stopping the engine failed")
        finally:
            self._stopper = None

    async def _stop_async(self) -> None:
        if self._housekeeper is not None:
            self._housekeeper.cancel()
        if self._sync is not None:
            self._sync.stop()
        if self.history_retry is not None:
            self.history_retry.cancel()
        if self._guard is not None:
            self._guard.stop()
        if self._pending:
            self._dispatch_pending()
        self._accepting = False
        if self.ctx is not None and self.strategy is not None and self.ctx._now is not None:
            self._call_strategy("finalize", self.strategy.finalize)
            self._send_outbox()
        self._drop_unsent()
        if self._tasks:  # brackets still on their way (those made by finalize too)
            _, late = await asyncio.wait(list(self._tasks), timeout=_SEND_WAIT)
            if late:
                logger.warning("%d bracket(s) unsent %g s after stop()", len(late), _SEND_WAIT)
        if self.feed is not None and self._active:
            try:
                await self.feed.unsubscribe_async(sorted(self._active))
            except Exception as exc:
                logger.info("unsubscribe at stop: %s", exc)
        if self.feed is not None:
            try:
                await self.feed.flush_async()  # every delivered bar reaches the bar cache
            except Exception as exc:
                logger.warning("bar cache flush at stop failed: %s", exc)
        self._scan_orders()
        self._snapshot(self._market_time())
        if self.connection is not None:
            await self.connection.disconnect()

    def disconnect(self) -> None:
        """Stop if running, else just close the connection."""
        self.stop()

    def _shutdown_loop(self) -> None:
        try:
            self._loop.stop()
        except Exception:
            logger.exception("stopping the engine loop failed")

    # ---- notebook helpers ----------------------------------------------------------------------
    def call(self, fn: Callable[[LiveContext], Any], timeout: float = 10.0) -> Any:
        """Run ``fn(ctx)`` on the engine's loop (e.g. ``engine.call(lambda c: c.buy("AAPL", 1))``)
        and send any orders it made."""
        if self.ctx is None or not self._loop.is_running():
            raise ConfigError("the engine is not running: start() it first")

        async def run() -> Any:
            self._in_callback = True
            try:
                return fn(self.ctx)  # type: ignore[arg-type]
            finally:
                self._in_callback = False
                self._send_outbox()
                self._scan_orders()

        return self._loop.run(run(), timeout=timeout)

    def check_streams(self, timeout: float = 30.0) -> pd.Series:
        """Run the stale-stream check now (it also runs every second) and return each symbol's
        stream state: ``ok``, ``resubscribing`` or ``stale``."""
        if not self.is_running or not self._loop.is_running():
            raise ConfigError("the engine is not running: start() it first")
        guard = self._guard
        if guard is None:
            return pd.Series({s: "ok" for s in sorted(self._active)}, name="streams", dtype=object)
        self._loop.run(guard.check(), timeout=timeout)
        return pd.Series(guard.watchdog.states(), name="streams", dtype=object)

    def cancel_all(self) -> int:
        """Cancel every working order."""
        return self.call(lambda c: c.cancel_all())

    def close_all(self) -> int:
        """Close every open position with a market order; returns how many."""
        return self.call(lambda c: sum(c.close(s) is not None for s in list(c.positions)))

    # ---- tracking --------------------------------------------------------------------------------
    @property
    def fills(self) -> pd.DataFrame:
        """Every fill, oldest first."""
        if self.journal is None:
            return pd.DataFrame(columns=FILL_COLUMNS)
        return self.journal.fills()[FILL_COLUMNS]

    @property
    def orders(self) -> pd.DataFrame:
        """Every order at its latest state (``order_events`` has every change)."""
        if self.journal is None:
            return pd.DataFrame(columns=ORDER_COLUMNS)
        return self.journal.orders(latest=True)[ORDER_COLUMNS]

    @property
    def order_events(self) -> pd.DataFrame:
        if self.journal is None:
            return pd.DataFrame(columns=["recorded", *ORDER_COLUMNS])
        return self.journal.orders()

    @property
    def errors(self) -> pd.DataFrame:
        """The error log: time, kind, code, message (and symbol, order id, traceback)."""
        if self.journal is None:
            return pd.DataFrame(columns=list(ERROR_COLUMNS))
        return self.journal.errors()[list(ERROR_COLUMNS)]

    @property
    def account(self) -> pd.DataFrame:
        """Equity, cash and P&L over time."""
        if self.journal is None:
            return pd.DataFrame(columns=ACCOUNT_COLUMNS)
        df = self.journal.equity()
        df["pnl"] = df["equity"] - df["equity"].iloc[0] if len(df) else np.nan
        return df[ACCOUNT_COLUMNS]

    @property
    def positions(self) -> pd.DataFrame:
        """This session's own open positions (its ledger), marked at the latest prices."""
        return _position_table(self.ledger.portfolio if self.broker is not None else None)

    @property
    def pnl(self) -> pd.Series:
        """This session's own P&L (realized, unrealized, gross, commissions, net), from its
        ledger: kept across stop()/start(), unlike the account's realized_pnl."""
        return pnl_of(self.ledger.portfolio).series()

    @property
    def quotes(self) -> pd.DataFrame:
        """The last bar close of each symbol, with the bar's time."""
        return last_quotes(self.ctx)

    @property
    def account_positions(self) -> pd.DataFrame:
        """The account's open positions as the gateway reports them (every session's, and
        trades made in TWS), marked at the latest prices."""
        return _position_table(self.broker.portfolio if self.broker is not None else None)

    @property
    def last_bar_wall(self) -> pd.Timestamp | None:
        """When the newest bar arrived (wall clock, UTC); None before the first."""
        ns = self._last_bar_ns
        return pd.Timestamp(ns, tz="UTC") if ns is not None else None

    @property
    def status(self) -> pd.Series:
        """Connection state, reconnect attempts, fallback mode, last bar time and its age."""
        conn = self.connection
        age = (
            (pd.Timestamp.now(tz="UTC") - self.last_bar_wall).total_seconds()
            if self.last_bar_wall is not None
            else None
        )
        return pd.Series(
            {
                "connection": conn.state if conn is not None else "disconnected",
                "running": self.is_running,
                "state": self.state,
                "attempts": conn.attempts if conn is not None else 0,
                "reconnects": getattr(conn, "reconnects", 0) if conn is not None else 0,
                "fallback_mode": self._fallback(),
                "data_farm": self._data_farm(),
                "streams": self._streams(),
                "stale": sorted(self._guard.watchdog.stale) if self._guard is not None else [],
                "last_bar_time": self.last_bar_time,
                "last_bar_age": age,
                "bars_received": self.bars_received,
                "bars_processed": self.bars_processed,
                "symbols": len(self._active),
                "order_changes_queued": (
                    len(self.order_manager.queued()) if self.order_manager else 0
                ),
                "history_missing": self.history_retry.missing if self.history_retry else [],
                "history_wait": self.history_retry.wait_seconds() if self.history_retry else None,
                "history_progress": history_progress(self.feed, self.history_retry),
                "account": mask_account(conn.account) if conn is not None else None,
                "gateway": self.config.address,
                "client_id": self.config.client_id,
                "run_id": self.run_id,
                "journal": str(self.journal.path) if self.journal is not None else None,
                "clock": clock.clock(self),
                "next_bar_due": clock.next_bar_due(self),
                "market_closed_until": clock.market_closed_until(self),
                **safety_status(conn),
            },
            name="status",
            dtype=object,
        )


def _position_table(portfolio: Any) -> pd.DataFrame:
    if portfolio is None:
        return pd.DataFrame(columns=POSITION_COLUMNS)
    rows = [
        [s, p.qty, p.avg_price, p.last_price, p.market_value, p.unrealized_pnl, p.realized_pnl]
        for s, p in list(portfolio.positions.items())
        if p.qty
    ]
    return pd.DataFrame(rows, columns=POSITION_COLUMNS)


def _state_key(order: Order) -> tuple:
    return (order.status, order.filled, order.reason)


def _symbols(symbols: Iterable[str | Instrument] | str | Instrument) -> tuple[str, ...]:
    return split_symbols(symbols)[0]
