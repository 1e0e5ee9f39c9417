"""``qn.paper`` and ``qn.live``: a strategy, symbols and an interval to a running session.

Where to connect comes from the environment (QUANTNB_IB_HOST/PORT/CLIENT_ID) or, when none is
set or ``gateway="sim"``, the embedded gateway simulator on a free loopback port. Paper is the
default; real money needs ``qn.live``, QUANTNB_ALLOW_LIVE=1 and a non-paper account.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from quantnb.domain.instrument import Instrument
from quantnb.domain.model import OrderType
from quantnb.engine.strategy import Strategy
from quantnb.errors import ConfigError, GatewayError, LiveTradingError
from quantnb.ib.config import ENV_HOST, ENV_PORT, IBConfig, is_configured
from quantnb.results import BacktestResult
from quantnb.trading import clock
from quantnb.trading.arguments import IB_KEYS, check_session_args
from quantnb.trading.engine import (
    ALLOW_LIVE_ENV,
    LiveStrategyEngine,
    find_engine,
    live_allowed,
    running_engines,
)
from quantnb.trading.instruments import sim_markets, split_symbols
from quantnb.trading.journal import Journal, default_path
from quantnb.trading.judge import PaperComparison
from quantnb.trading.replay import compare_paper
from quantnb.trading.result import paper_result

logger = logging.getLogger(__name__)


def use_simulator(gateway: str | None, env: Mapping[str, str] | None = None) -> bool:
    """True when the session should run on the embedded simulator."""
    if gateway not in (None, "sim", "ib"):
        raise ConfigError(f"gateway={gateway!r}: use None (from the environment), 'sim' or 'ib'")
    if gateway == "sim":
        return True
    if gateway == "ib":
        return False
    return not is_configured(env)


def embedded_sim(interval: str) -> dict[str, Any]:
    """The embedded simulator's settings for a session (``sim={...}`` overrides each): a bar
    about every second (see ``clock.pace``), closed and extended hours (the engine trades
    regular hours) played at once, and the market of ``qn.data.sample``, continued."""
    return {
        "speed": clock.pace(interval),
        "skip_closed": True,
        "skip_extended": True,
        "follow_sample": True,
    }


class LiveSession:
    """One strategy trading on one gateway: ``start()``, ``stop()``, ``dashboard()`` and the
    engine's tables (``positions``, ``fills``, ``orders``, ``errors``, ``account``, ``status``).

    ``positions`` are the session's own (what its orders bought); ``account_positions`` are the
    whole account's, as the gateway reports them (see "Several sessions on one account")."""

    def __init__(
        self,
        strategy: Strategy,
        symbols: tuple[str, ...],
        interval: str,
        *,
        simulated: bool,
        paper_trading: bool,
        ib_config: IBConfig,
        lookback_days: float | None,
        sim_options: dict[str, Any],
        engine_options: dict[str, Any],
        instruments: dict[str, Instrument] | None = None,
    ) -> None:
        self.strategy = strategy
        self.symbols = symbols
        self.instruments = instruments or {}  # the symbols that are not US stocks
        self.interval = interval
        self.simulated = simulated
        self.lookback_days = lookback_days
        self.sim_options = sim_options
        self.sim: Any = None
        key = ("sim", ib_config.client_id) if simulated else None
        self.engine = LiveStrategyEngine(
            paper_trading=paper_trading, config=ib_config, registry_key=key, **engine_options
        )
        self.engine.add_strategy(strategy)
        self.engine.session = self  # the engine registry finds running sessions through it

    @property
    def key(self) -> tuple[Any, ...]:
        return self.engine.registry_key

    def __repr__(self) -> str:
        where = "simulator" if self.simulated else self.engine.config.address
        return (
            f"LiveSession({self.strategy!r} on {list(self.symbols)} {self.interval}, {where}, "
            f"{self.engine.state})"
        )

    def start(
        self, wait: bool = False, timeout: float = 60.0, skip_unknown: bool = False
    ) -> LiveSession:
        """Start trading in the background (the simulator first, when used); returns at once.

        Symbols the gateway does not know fail the start with UnknownSymbolError naming them;
        ``skip_unknown=True`` starts with the others only (the skipped ones are in ``errors``).
        """
        if self.engine.is_running:
            return self
        if self.simulated:
            self._start_sim()
        try:
            self.engine.start(
                [self.instruments.get(s, s) for s in self.symbols],
                self.lookback_days,
                self.interval,
                wait=wait,
                timeout=timeout,
                skip_unknown=skip_unknown,
            )
        except BaseException:
            if self.simulated and not self.engine.is_active:
                self._stop_sim()
            raise
        return self

    def _start_sim(self) -> None:
        if self.sim is None:
            from quantnb.sim import GatewaySimulator

            # a session of extended hours trades the pre-market and after-hours: they are played
            hours = {"skip_extended": False} if self.engine.extended_hours else {}
            options = {**embedded_sim(self.interval), **hours, **self.sim_options}
            if "bars" not in options:
                for key, value in sim_markets(self.symbols, self.instruments).items():
                    options.setdefault(key, value)
            self.sim = GatewaySimulator(**options)
        self.sim.start()
        logger.info(
            "paper trading %s bars on the %s", self.interval, clock.describe(self.sim.config)
        )
        cfg = self.engine.config
        self.engine.config = IBConfig(
            host=self.sim.host,
            port=self.sim.port,
            client_id=cfg.client_id,
            timeout=cfg.timeout,
        )

    def _stop_sim(self) -> None:
        if self.sim is not None:
            self.sim.stop()

    def stop(self) -> None:
        """Finalize, unsubscribe, disconnect (and stop the simulator); nothing is lost."""
        try:
            self.engine.stop()
        finally:
            if self.simulated:
                self._stop_sim()

    def step(self, n: int = 1, timeout: float = 10.0) -> LiveSession:
        """Advance a manual-mode simulator ``n`` bars, one at a time, each time waiting until
        the engine has handled the bar and its market orders have filled: a deterministic run."""
        if self.sim is None or self.sim.config.mode != "manual":
            raise ConfigError(
                "step() drives the embedded simulator in manual mode: create the session with "
                "sim={'mode': 'manual'} and start() it first"
            )
        engine = self.engine
        for _ in range(int(n)):
            target = engine.groups_processed + 1
            self.sim.step(1)
            _wait(lambda t=target: engine.groups_processed >= t, timeout, "the next bar")
            _wait(
                lambda: not [o for o in engine.broker.open_orders() if o.type is OrderType.MARKET],
                timeout,
                "market orders to fill",
            )
            # a roll moves a continuous future's stream to the new month: the next bar is
            # played once that stream is there, or it would reach the engine a bar late
            _wait(lambda: not engine.continuous.switching, timeout, "a roll's stream switch")
        return self

    def result(self) -> BacktestResult:
        """This run as a backtest's result (``stats``, ``trades``, ``fills``, ``equity``,
        ``plot()``), read from its journal: during the run, after ``stop()``, or in a new session
        on the same journal after a kernel restart (see ``qn.paper_result``)."""
        return paper_result(self._journal())

    def compare(self, strategy: Strategy | None = None) -> PaperComparison:
        """This run beside a backtest of a fresh copy of its strategy (or ``strategy``) over
        exactly the bars it saw, with its costs: differing decisions, realized vs modelled
        fill costs and the P&L drift (``.plot()`` draws them)."""
        engine = self.engine
        return compare_paper(self._journal(), strategy or self.strategy, engine.costs,
                             risk=engine.risk, allow_short=engine.allow_short,
                             instruments=engine.instruments)  # fmt: skip

    def _journal(self) -> Journal | Path:
        engine = self.engine
        if engine.journal is not None:
            return engine.journal
        arg = engine._journal_arg
        if arg is None and engine.run_id is not None:
            arg = default_path(engine.run_id, engine.journal_dir)
        if arg is None:
            raise ConfigError(
                "this session has no journal yet: start() it, or create it with the journal= "
                "(or run_id= and journal_dir=) of the run to read"
            )
        return arg if isinstance(arg, Journal) else Path(arg)

    def dashboard(self, **kwargs: Any) -> Any:
        """A live ipywidgets dashboard of this session (needs ``pip install quantnb[notebook]``)."""
        try:
            from quantnb.widgets import Dashboard
        except ImportError as exc:
            raise ConfigError(
                "the dashboard needs ipywidgets and quantnb.widgets: run "
                f"`pip install quantnb[notebook]` ({exc})"
            ) from exc
        return Dashboard(self, **kwargs)

    # ---- what the dashboard and the notebook read -------------------------------------------
    def add_listener(self, fn: Any) -> None:
        self.engine.add_listener(fn)

    def remove_listener(self, fn: Any) -> None:
        self.engine.remove_listener(fn)

    def cancel_all(self) -> int:
        return self.engine.cancel_all()

    def close_all(self) -> int:
        return self.engine.close_all()

    @property
    def is_running(self) -> bool:
        return self.engine.is_running

    @property
    def positions(self) -> pd.DataFrame:
        return self.engine.positions

    @property
    def account_positions(self) -> pd.DataFrame:
        return self.engine.account_positions

    @property
    def pnl(self) -> pd.Series:
        return self.engine.pnl

    @property
    def quotes(self) -> pd.DataFrame:
        return self.engine.quotes

    @property
    def fills(self) -> pd.DataFrame:
        return self.engine.fills

    @property
    def orders(self) -> pd.DataFrame:
        return self.engine.orders

    @property
    def errors(self) -> pd.DataFrame:
        return self.engine.errors

    @property
    def account(self) -> pd.DataFrame:
        return self.engine.account

    @property
    def status(self) -> pd.Series:
        return self.engine.status


def _split(config: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    ib = {k: config.pop(k) for k in IB_KEYS if k in config}
    sim = dict(config.pop("sim", None) or {})
    return ib, sim, config


def _session(
    strategy: Strategy,
    symbols: Any,
    interval: str,
    gateway: str | None,
    paper_trading: bool,
    config: dict[str, Any],
) -> LiveSession:
    if not isinstance(strategy, Strategy):
        raise ConfigError(
            f"{strategy!r} is not a quantnb.Strategy: subclass qn.Strategy and pass an instance"
        )
    syms, instruments = split_symbols(symbols)
    check_session_args("paper()" if paper_trading else "live()", interval, config)
    config = dict(config)
    lookback_days = config.pop("lookback_days", None)  # None: the strategy's warm-up
    ib, sim, engine_options = _split(config)
    simulated = use_simulator(gateway)
    if simulated and not paper_trading:
        raise LiveTradingError(
            "live trading needs a real IB gateway: the embedded simulator is paper only. Set "
            f"{ENV_HOST} / {ENV_PORT} to the live gateway and do not pass gateway='sim'"
        )
    if simulated:
        ib_config = IBConfig(**{k: v for k, v in ib.items() if k in ("client_id", "timeout")})
    else:
        ib_config = IBConfig.from_env(**ib)
    session = LiveSession(
        strategy,
        syms,
        interval,
        simulated=simulated,
        paper_trading=paper_trading,
        ib_config=ib_config,
        lookback_days=lookback_days,
        sim_options=sim,
        engine_options=engine_options,
        instruments=instruments,
    )
    running = find_engine(session.key)
    if running is not None:
        old = running.session
        same = old is not None and old.strategy is strategy
        if same and old.symbols == syms and old.interval == interval:
            logger.info("reusing the running session %r", old)
            return old
        raise ConfigError(
            f"a session is already running on this gateway and client id: {old or running!r}. "
            "Stop it first (its .stop(), or quantnb.trading.stop_all()), or pass another "
            "client_id="
        )
    return session


def paper(
    strategy: Strategy,
    symbols: Iterable[str] | str,
    interval: str = "5m",
    gateway: str | None = None,
    **config: Any,
) -> LiveSession:
    """Paper trade ``strategy``: on the gateway the environment names, or the simulator.

    ``config``: ``lookback_days`` (days of history to load; by default the strategy's warm-up,
    see ``ctx.warmup``), engine options (``commission``, ``slippage``, ``risk``,
    ``journal``, ``update_interval`` ...), ``client_id``/``host``/``port``/``account``, and
    ``sim={...}`` for the simulator (``mode``, ``speed``, ``bars``, ``seed`` ...). The
    simulator runs a bar about every second (``sim={"speed": 1}``: real time) and continues
    ``qn.data.sample``'s market; ``status["clock"]`` says its pace.
    Refuses (at ``start()``) an account that is not a paper account, and after a reconnect any
    account other than the one it started on (``status["alert"]`` says so).
    """
    return _session(strategy, symbols, interval, gateway, True, config)


def live(
    strategy: Strategy,
    symbols: Iterable[str] | str,
    interval: str = "5m",
    gateway: str | None = None,
    **config: Any,
) -> LiveSession:
    """Real-money trading: needs QUANTNB_ALLOW_LIVE=1, a real gateway and a non-paper account."""
    if not live_allowed():
        found = os.environ.get(ALLOW_LIVE_ENV)
        raise LiveTradingError(
            f"real-money trading needs the environment opt-in {ALLOW_LIVE_ENV}=1 "
            f"({'it is ' + repr(found) if found is not None else 'it is not set'}); "
            "for paper trading use qn.paper(...)"
        )
    return _session(strategy, symbols, interval, gateway, False, config)


def sessions() -> list[LiveSession]:
    """Sessions of this process that are connected or running."""
    return [e.session for e in running_engines() if e.session is not None]


def _wait(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise GatewayError(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(0.002)
