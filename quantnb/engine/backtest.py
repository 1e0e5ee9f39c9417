"""The backtest engine: an event loop over one clock, a Python call per bar, as live.

Per bar it does only O(1) work outside the strategy: set the current rows, match any working
orders of that bar's symbols, call ``on_data``. Orders placed on bar *t* are matched from bar
*t+1* on because matching for a bar runs before the strategy sees that bar; matching runs while
the context still shows bar *t-1*, so ``on_fill`` sees no more than was known at the fill. The
orders of one call are settled (checked) together when it returns. The equity curve is
derived after the loop from the fills and the closes, not rebuilt per bar.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from datetime import UTC
from itertools import repeat
from typing import Any

import numpy as np
import pandas as pd

from quantnb.broker.simulated import SimulatedBroker
from quantnb.data import align
from quantnb.data.align import in_ns
from quantnb.data.load import load_frames
from quantnb.data.resample import infer_interval, session_days
from quantnb.domain import checks, sessions
from quantnb.domain.accounting import Portfolio, Position
from quantnb.domain.auction import SessionBars
from quantnb.domain.costs import CostModel
from quantnb.domain.instrument import Instrument
from quantnb.domain.interval import Interval
from quantnb.domain.model import Bar, Fill, Order
from quantnb.domain.risk import RiskLimits
from quantnb.engine import warmup
from quantnb.engine.collection import collection_deferred, full_collections_deferred
from quantnb.engine.context import FIELDS, BarView, Context
from quantnb.engine.hooks import check_hooks
from quantnb.engine.indicators import (
    IndicatorFn,
    PrecomputedIndicator,
    check_causal,
    compute,
    describe,
    normalise_fields,
)
from quantnb.engine.instruments import (
    InstrumentBook,
    check_known,
    rolls_of,
    split_instruments,
    trade_days,
)
from quantnb.engine.regular_hours import regular_only
from quantnb.engine.scheduler import with_schedule
from quantnb.engine.strategy import Strategy
from quantnb.errors import ConfigError, IntervalError, OrderError
from quantnb.ind import CAUSAL
from quantnb.options import checked_options
from quantnb.results import BacktestResult
from quantnb.results.frames import fills_frame, orders_frame, rejections_frame
from quantnb.results.stats import drawdown

logger = logging.getLogger(__name__)

_CHUNK = 1 << 15  # bars between progress updates


class PositionBook(dict):
    """Positions by symbol with every traded symbol present, so a lookup is a plain dict read."""

    def __missing__(self, symbol: str) -> Position:
        if isinstance(symbol, Instrument):
            return self[symbol.name]
        raise OrderError(f"unknown symbol {symbol!r}: this run trades {', '.join(self)}")


class BacktestContext(Context):
    """The Context of a backtest: reads the engine's arrays at the current rows."""

    def __init__(self, engine: BacktestEngine) -> None:
        super().__init__(engine.symbols, logging.getLogger("quantnb.strategy"))
        self._engine = engine
        self._cols = engine.cols
        self._closes = {s: c["close"] for s, c in engine.cols.items()}
        self._row: dict[str, int] = dict.fromkeys(engine.symbols, -1)
        self._t = 0
        self._now_t = -1
        self._now = None
        self._clock64 = engine.clock.view("M8[ns]")
        self._pf = engine.portfolio
        self._broker = engine.broker
        self._check_lookahead = engine.check_lookahead
        # The engine marks held positions every bar, so a position lookup needs no Python call.
        self.position = engine.portfolio.positions.__getitem__  # type: ignore[method-assign]
        self._submit = engine.broker.execute_order  # type: ignore[method-assign]

    @property
    def now(self) -> pd.Timestamp:
        if self._now_t != self._t:
            # from a datetime64 scalar: the same Timestamp, built in half the time of an int's
            self._now = pd.Timestamp(self._clock64[self._t], tz=UTC)
            self._now_t = self._t
        return self._now

    _clock_now = now.fget  # the same as a plain method: what the broker stamps orders with

    def price(self, symbol: str) -> float:
        r = self._row.get(symbol)
        if r is None:
            if isinstance(symbol, Instrument):
                return self.price(symbol.name)
            self._check_symbol(symbol)
        if r < 0:
            raise OrderError(f"{symbol!r} has no price yet at {self.now}: its first bar is later")
        return float(self._closes[symbol][r])

    def bar(self, symbol: str) -> Bar:
        r = self._row.get(symbol)
        if r is None:
            if isinstance(symbol, Instrument):
                return self.bar(symbol.name)
            self._check_symbol(symbol)
        if r < 0:
            raise OrderError(f"{symbol!r} has no bar yet at {self.now}: its first bar is later")
        c = self._cols[symbol]
        ns = self._engine.times[symbol][r]
        # a bar of this tick is stamped now: reuse the timestamp instead of building one
        time = self.now if ns == self._engine.clock[self._t] else pd.Timestamp(int(ns), tz="UTC")
        return Bar(
            symbol,
            time,
            float(c["open"][r]),
            float(c["high"][r]),
            float(c["low"][r]),
            float(c["close"][r]),
            float(c["volume"][r]),
        )

    def history(self, symbol: str, n: int, field: str = "close") -> np.ndarray:
        if isinstance(symbol, Instrument):
            symbol = symbol.name
        r = self._row[symbol] + 1
        return self._cols[symbol][field][max(0, r - n) : r]

    @property
    def positions(self) -> dict[str, Position]:
        return self._pf.open_positions()

    @property
    def cash(self) -> float:
        return self._pf.cash

    @property
    def equity(self) -> float:
        return self._pf.equity

    def open_orders(self, symbol: str | None = None) -> list[Order]:
        if self._routes and symbol is not None:
            symbol = self._routes.get(symbol, symbol)
        return self._broker.open_orders(symbol)

    def indicator(
        self, fn: IndicatorFn, field: str | tuple[str, ...] = "close", *args: Any
    ) -> PrecomputedIndicator:
        fields = normalise_fields(field, FIELDS)
        name = describe(fn, fields, args)
        values = {}
        for sym in self._symbols:
            cols = [self._cols[sym][f] for f in fields]
            full = compute(fn, cols, args, name)
            if self._check_lookahead and fn not in CAUSAL:
                check_causal(fn, cols, args, full, name, sym, self._engine.frames[sym].index)
            values[sym] = full
        ind = PrecomputedIndicator(fn, fields, args, values, self._row)
        self._engine.indicators.append(ind)
        return ind

    def cancel_all(self, symbol: str | None = None) -> int:
        if not self._broker.n_working:
            return 0  # nothing working: what ``close`` meets after most fills
        return super().cancel_all(symbol)

    def _submit(self, order: Order) -> Order:
        return self._broker.execute_order(order)

    def _cancel(self, order: Order) -> bool:
        return self._broker.cancel(order)

    def _modify(self, order: Order, changes: dict[str, float]) -> bool:
        return self._broker.modify(order, changes)

    def _find_order(self, order_id: str) -> Order | None:
        return self._broker.by_id.get(order_id)


class BacktestEngine:
    """Runs one strategy over aligned bars; see ``backtest()`` for the arguments."""

    def __init__(
        self,
        data: Mapping[str, pd.DataFrame],
        *,
        cash: float = 100_000.0,
        commission: Any = None,
        slippage: Any = None,
        risk: RiskLimits | None = None,
        allow_short: bool = False,
        leverage: float = 1.0,
        interval: str | Interval | None = None,
        check_lookahead: bool = True,
        progress: bool | None = None,
        instruments: Mapping[str, Any] | None = None,
        rolls: Mapping[str, list] | None = None,
        hours: str = "regular",
    ) -> None:
        if isinstance(cash, bool) or not (
            isinstance(cash, int | float) and np.isfinite(cash) and cash > 0
        ):
            raise ConfigError(f"cash={cash!r}: starting cash must be a positive number")
        if isinstance(leverage, bool) or not (
            isinstance(leverage, int | float) and 1.0 <= leverage < np.inf
        ):
            raise ConfigError(f"leverage={leverage!r}: use 1.0 (cash account) or more")
        checks.flag("allow_short", allow_short)
        checks.flag("check_lookahead", check_lookahead)
        if progress is not None:
            checks.flag("progress", progress)
        if risk is not None and not isinstance(risk, RiskLimits):
            raise ConfigError(
                f"risk={risk!r} ({type(risk).__name__}): pass qn.RiskLimits(...), e.g. "
                "risk=qn.RiskLimits(max_order_qty=100)"
            )
        self.frames = dict(data)
        if not self.frames:
            raise ConfigError("no data: pass a DataFrame or a dict of symbol -> DataFrame")
        self.symbols = tuple(self.frames)
        self.instruments = dict(instruments or {})
        self.rolls = {n: r for n, r in (rolls or {}).items() if n in self.instruments}
        check_known(self.instruments, self.symbols)
        self.interval = (
            Interval.parse(interval) if interval is not None else _infer_interval(self.frames)
        )
        self.extended = sessions.extended(hours) and self.interval.is_intraday
        if self.interval.is_intraday and not self.extended:
            # regular hours: the strategy sees no stock bars of the pre-market or after-hours
            self.frames = regular_only(self.frames, self.instruments)
        self.aligned = align(self.frames)
        self.clock = self.aligned.index.asi8
        # futures' and FX's own trade dates on intraday bars; stocks keep the New York day
        intraday = self.interval.is_intraday
        self.trade_days = (
            trade_days(self.instruments, in_ns(self.aligned.index)) if intraday else {}
        )
        self.cols = {
            s: {f: np.ascontiguousarray(df[f].to_numpy(np.float64)) for f in FIELDS}
            for s, df in self.frames.items()
        }
        self.times = {s: df.index.asi8 for s, df in self.frames.items()}
        self.costs = CostModel.from_args(commission, slippage)
        self.risk = risk if risk is not None else RiskLimits()
        self.allow_short, self.leverage = bool(allow_short), float(leverage)
        self.initial_cash = float(cash)
        self.check_lookahead = check_lookahead
        self.progress = progress

    # prepared per run
    def _reset(self, strategy: Strategy) -> None:
        self.portfolio = Portfolio(self.initial_cash)
        self.portfolio.positions = PositionBook((s, Position(s)) for s in self.symbols)
        for inst in self.instruments.values():
            self.portfolio.add_instrument(inst)
        self.indicators: list[PrecomputedIndicator] = []
        self.held: dict[str, Position] = {}
        self.marked = -1  # the tick whose closes the bar loop has marked the positions at
        self.broker = SimulatedBroker(
            self.portfolio,
            self.costs,
            self.risk,
            allow_short=self.allow_short,
            leverage=self.leverage,
        )
        self.ctx = BacktestContext(self)
        self.broker._price, self.broker._now = self.ctx.price, self.ctx._clock_now
        self.broker.session_bars = lambda: SessionBars.of(
            self.clock, self.interval.seconds * 1_000_000_000, not self.interval.is_intraday
        )
        self.broker.decision_tick = lambda: max(self.ctx._t, 0)
        self.broker.trade_days = self.trade_days
        if self.extended:  # orders outside regular hours: sessions.may_trade, per bar
            self.broker.phases = sessions.bar_phases(self.aligned.index)
        self.ctx._instruments = dict(self.instruments)
        self.book = InstrumentBook(self) if self.portfolio.instruments else None
        # a strategy without its own on_fill is not called for nothing on every fill
        own = type(strategy).on_fill is not Strategy.on_fill or "on_fill" in getattr(
            strategy, "__dict__", ()
        )
        on_fill = strategy.on_fill if own else None
        held, positions = self.held, self.portfolio.positions

        def fill_hook(fill: Fill) -> None:
            pos = positions[fill.symbol]
            if pos.qty:
                held[fill.symbol] = pos
            else:
                held.pop(fill.symbol, None)
            if on_fill is not None:
                on_fill(self.ctx, fill)

        self.broker.on_fill = fill_hook

    def mark(self) -> None:
        """Mark every open position at its latest close (the bar loop has, once per bar)."""
        if self.marked == self.ctx._t:
            return
        row = self.ctx._row
        for s, p in self.held.items():
            if row[s] >= 0:
                p.last_price = self.cols[s]["close"][row[s]]

    def run(self, strategy: Strategy) -> BacktestResult:
        if not isinstance(strategy, Strategy):
            raise ConfigError(
                f"{strategy!r} is not a quantnb.Strategy: subclass qn.Strategy and pass an instance"
            )
        check_hooks(strategy)
        started = time.perf_counter()
        self._reset(strategy)
        ctx = self.ctx
        self.warmup = warmup.initialize(strategy, ctx)
        index = {s: df.index for s, df in self.frames.items()}
        self.ready_tick, short = warmup.first_ready_tick(self.warmup, self.aligned.index, index)
        if short:
            warmup.warn_short(self.warmup, short)
        self.broker.settle()
        try:
            with full_collections_deferred():
                self._loop(strategy)
        except Exception as exc:
            if 0 <= ctx._t < len(self.clock):
                exc.add_note(f"quantnb: raised while processing the bar at {ctx.now}")
            raise
        strategy.finalize(ctx)
        self.broker.settle()
        self.mark()
        elapsed = time.perf_counter() - started
        del ctx  # _result releases the run's objects: nothing here may keep them
        with collection_deferred():  # it allocates much and creates no cycles
            return self._result(strategy, elapsed)

    def _release(self) -> None:
        """Drop the run's objects and break their cycles (broker -> context -> engine), so its
        orders, fills and arrays are freed as soon as nothing else holds them, not at a gc."""
        broker = self.broker
        broker.on_fill = broker._price = broker._now = None  # type: ignore[assignment]
        self.ctx = self.broker = self.portfolio = None  # type: ignore[assignment]
        self.held, self.indicators = {}, []

    def _loop(self, strategy: Strategy) -> None:
        ctx, broker, aligned = self.ctx, self.broker, self.aligned
        n = len(self.clock)
        intraday = self.interval.is_intraday
        row = ctx._row
        symbols = self.symbols
        on_data = with_schedule(strategy.on_data, ctx, self.clock, self.interval)
        ready = self.ready_tick  # no on_data before the strategy's warm-up (engine.warmup)
        daily_loss = self.risk.max_daily_loss is not None
        cols = self.cols
        closes = {s: c["close"] for s, c in cols.items()}
        held = self.held
        full_view = BarView(ctx, symbols)
        rows = None if aligned.complete else aligned.rows.tolist()
        sym_index = {s: j for j, s in enumerate(symbols)}
        single = symbols[0] if rows is None and len(symbols) == 1 else None
        complete = rows is None
        block = max(64, _CHUNK // len(symbols))  # ticks of values held as lists at a time
        ind_rows: list = []
        current_day = None
        book = self.book  # futures, FX: rates, margin and the equity row of each bar
        bar = _progress(n * len(symbols), self.progress, strategy.name)
        try:
            for start in range(0, n, _CHUNK):
                stop = min(start + _CHUNK, n)
                # each bar's session day, for DAY orders and the daily loss limit (by chunk:
                # for the whole clock this array alone costs 8 bytes a bar)
                days = session_days(aligned.index[start:stop], intraday).tolist()
                # Python lists read faster per bar than numpy scalars; one chunk at a time
                # keeps the memory of that small.
                indicators = list(self.indicators)
                if single is not None:
                    # one symbol, every bar present: the common case, kept lean
                    close = closes[single][start:stop].tolist()
                    opens, highs, lows = (cols[single][f] for f in ("open", "high", "low"))
                    lists = [(i, i._values[single][start:stop].tolist()) for i in indicators]
                    pos = self.portfolio.positions[single]
                    declared = self.indicators
                    n_declared = len(declared)
                    for i, t in enumerate(range(start, stop)):
                        if daily_loss and days[i] != current_day:
                            current_day = days[i]
                            broker.day_start_equity = self.portfolio.equity
                        ctx._t = t
                        if broker.n_working:
                            # matched while ctx still shows the last bar: on_fill sees no more
                            # Python floats (item): the fill arithmetic is faster than on numpy's
                            bar_t = (single, opens.item(t), highs.item(t), lows.item(t), close[i])
                            broker.process([bar_t], days[i], t)
                            if broker.queued:
                                broker.settle()  # orders placed in on_fill
                        row[single] = t
                        if pos.qty:
                            pos.last_price = close[i]
                        self.marked = t
                        if book is not None:
                            book(t)
                        for ind, lst in lists:
                            ind[single] = lst[i]
                        if t >= ready:
                            on_data(ctx, full_view)
                        if broker.queued:
                            broker.settle()
                        if len(declared) != n_declared:
                            n_declared = len(declared)
                            # declared mid-run: read the new ones directly from here on
                            indicators = list(self.indicators)
                            lists = [
                                (i, i._values[single][start:stop].tolist()) for i in indicators
                            ]
                else:
                    base = end = start  # the block of ticks whose values are held as lists
                    for t in range(start, stop):
                        if complete and (t >= end or len(self.indicators) != len(ind_rows)):
                            # every bar present: this block's closes and indicator values by
                            # tick, as lists (read faster than numpy scalars, and kept small)
                            base, end = t, min(t + block, stop)
                            close_rows = _by_tick(closes, symbols, t, end)
                            ind_rows = [
                                (i, _by_tick(i._values, symbols, t, end)) for i in self.indicators
                            ]
                        if daily_loss and days[t - start] != current_day:
                            # equity at the previous bar's close, before this bar is revealed
                            current_day = days[t - start]
                            broker.day_start_equity = self.portfolio.equity
                        ctx._t = t
                        if broker.n_working:
                            # matched while ctx still shows the last bars: on_fill sees no more
                            batch = []
                            for s in broker.working:
                                r = t if rows is None else rows[t][sym_index[s]]
                                if r >= 0:
                                    c = cols[s]
                                    batch.append(
                                        (
                                            s,
                                            c["open"].item(r),
                                            c["high"].item(r),
                                            c["low"].item(r),
                                            c["close"].item(r),
                                        )
                                    )
                            broker.process(batch, days[t - start], t)
                            if broker.queued:
                                broker.settle()  # orders placed in on_fill
                        if complete:
                            row.update(zip(symbols, repeat(t)))
                            k = t - base
                            close_now = close_rows[k]
                            for s, p in held.items():
                                p.last_price = close_now[sym_index[s]]
                            self.marked = t
                            if book is not None:
                                book(t)
                            for ind, by_tick in ind_rows:
                                ind.update(zip(symbols, by_tick[k]))
                            view = full_view
                        else:
                            present = [s for s, r in zip(symbols, rows[t]) if r >= 0]
                            for s in present:
                                row[s] = rows[t][sym_index[s]]
                            view = BarView(ctx, tuple(present))
                            for s, p in held.items():
                                p.last_price = closes[s][row[s]]
                            self.marked = t
                            if book is not None:
                                book(t)
                            for ind in self.indicators:
                                values = ind._values
                                for s in present:
                                    ind[s] = values[s][row[s]]
                        if t >= ready:
                            on_data(ctx, view)
                        if broker.queued:
                            broker.settle()
                if bar is not None:
                    bar.update((stop - start) * len(symbols))
        finally:
            if bar is not None:
                bar.close()

    # ---- results ------------------------------------------------------------------------------
    @staticmethod
    def _fill_flows(fills: pd.DataFrame, ticks: list[int]) -> tuple[np.ndarray, ...]:
        """The fills table's columns as arrays: tick, signed quantity, price, commission and
        symbol."""
        if not len(fills):
            empty = np.empty(0)
            return np.empty(0, dtype=np.int64), empty, empty, empty, np.empty(0, dtype=object)
        qty = fills["qty"].to_numpy(dtype=np.float64)
        # compared as the column's own array: strings are not turned into objects one by one
        buy = np.asarray(fills["side"].array == "BUY", dtype=bool)
        return (
            np.asarray(ticks, dtype=np.int64),
            np.where(buy, qty, -qty),
            fills["price"].to_numpy(dtype=np.float64),
            fills["commission"].to_numpy(dtype=np.float64),
            fills["symbol"].array,
        )

    def _equity_curve(self, flows: tuple[np.ndarray, ...]) -> pd.DataFrame:
        """Equity, cash, gross exposure and drawdown per bar, from the fills and the closes (in
        place, in the one block the frame keeps: for a million bars each column costs 8 MB)."""
        if self.book is not None:
            return self.book.equity_frame(self.aligned.index)
        n = len(self.clock)
        ticks, signed, prices, comm, syms = flows
        block = np.zeros((4, n))
        equity, cash, gross, dd = block
        if len(ticks):
            np.add.at(cash, ticks, -signed * prices - comm)
            work = dd  # scratch until the drawdown is computed
            for j, s in enumerate(self.symbols):
                mask = np.asarray(syms == s, dtype=bool)
                if not mask.any():
                    continue
                work.fill(0.0)
                np.add.at(work, ticks[mask], signed[mask])
                np.cumsum(work, out=work)
                work *= self._close_on_clock(j, s)
                equity += work
                np.abs(work, out=work)
                gross += work
        np.cumsum(cash, out=cash)
        cash += self.initial_cash
        equity += cash
        index = self.aligned.index
        # the drawdown here, not added by BacktestResult: adding it there copies the frame
        # a sum is NaN when any value is (read once, no temporary); only then look closer
        if np.isnan(np.add.reduce(equity)) and np.isnan(equity).any():
            dd[:] = drawdown(pd.Series(equity, index=index, copy=False)).to_numpy()
        else:
            # drawdown()'s equity / cummax - 1, in place (cummax is a running maximum here)
            np.maximum.accumulate(equity, out=dd)
            with np.errstate(divide="ignore", invalid="ignore"):
                np.divide(equity, dd, out=dd)
            dd -= 1.0
        columns = ["equity", "cash", "gross_exposure", "drawdown"]
        return pd.DataFrame(block.T, index=index, columns=columns, copy=False)

    def _close_on_clock(self, j: int, symbol: str) -> np.ndarray:
        """The symbol's close at every tick of the clock, carried forward where it has no bar."""
        close = self.cols[symbol]["close"]
        if self.aligned.complete:
            return close
        r = self.aligned.rows[:, j]
        out = pd.Series(np.where(r >= 0, close[np.maximum(r, 0)], np.nan)).ffill().to_numpy()
        return np.nan_to_num(out, nan=0.0)

    def _result(self, strategy: Strategy, elapsed: float) -> BacktestResult:
        broker = self.broker
        # every fill is stamped with the clock at the bar it fills in (``broker.process``)
        times = self.aligned.index[np.asarray(broker.fill_ticks, dtype=np.int64)]
        fills = fills_frame(broker.fills, times)
        orders = orders_frame(broker.orders)
        rejections = rejections_frame(broker.rejections)
        book = self.book
        extra: dict[str, Any] = {}
        if book is not None:
            # which orders the backtest made itself: "roll", "margin liquidation"
            orders["tag"] = [o.tag for o in broker.orders]
            extra = {
                "cash_by_currency": book.cash_frame(self.aligned.index),
                "margin_calls": book.margin_frame(),
                "instruments": dict(self.instruments),
            }
        flows = self._fill_flows(fills, broker.fill_ticks)
        del broker
        self._release()  # the run's orders and fills go before the equity curve is built
        return BacktestResult(
            equity=self._equity_curve(flows),
            fills=fills,
            orders=orders,
            prices=self.frames,
            initial_cash=self.initial_cash,
            interval=self.interval.name,
            strategy=strategy.name,
            params=strategy.params,
            rejections=rejections,
            elapsed=elapsed,
            **extra,
        )


def _by_tick(arrays: Mapping[str, np.ndarray], symbols: tuple[str, ...], start: int, stop: int):
    """The symbols' values at ticks ``start:stop`` as one list of floats per tick, in the
    order of ``symbols``."""
    return np.column_stack([arrays[s][start:stop] for s in symbols]).tolist()


def _progress(total: int, progress: bool | None, name: str):
    if progress is False:
        return None
    from tqdm.auto import tqdm

    # delay: only runs longer than a couple of seconds show a bar
    return tqdm(
        total=total,
        unit="bar",
        unit_scale=True,
        desc=name,
        delay=0 if progress else 2.0,
        leave=False,
    )


def _infer_interval(frames: Mapping[str, pd.DataFrame]) -> Interval:
    """The bars' interval, the same for every symbol, or an error that says to pass it."""
    found = {s: infer_interval(df) for s, df in frames.items()}
    known = {iv for iv in found.values() if iv is not None}
    if len(known) > 1:
        listed = ", ".join(f"{s}: {iv}" for s, iv in found.items() if iv is not None)
        raise IntervalError(
            f"the symbols' bars have different intervals ({listed}); resample them to one "
            "with qn.data.resample, or pass interval= explicitly"
        )
    if not known:
        logger.warning(
            "could not tell the bars' interval (fewer than two bars?); assuming 1d for "
            "annualised stats and DAY orders: pass interval= to say otherwise"
        )
        return Interval.parse("1d")
    return known.pop()


@checked_options
def backtest(
    strategy: Strategy,
    data: Any,
    cash: float = 100_000.0,
    commission: Any = None,
    slippage: Any = None,
    *,
    risk: RiskLimits | None = None,
    allow_short: bool = False,
    leverage: float = 1.0,
    interval: str | None = None,
    check_lookahead: bool = True,
    progress: bool | None = None,
    instruments: Any = None,
    hours: str = "regular",
) -> BacktestResult:
    """Run ``strategy`` over ``data`` and return its results.

    ``data``: a DataFrame (one symbol), a dict of symbol -> DataFrame, or a CSV/Parquet path.
    ``commission``: a rate (default 0.001, minimum $1) or a model such as ``PerShareCommission()``.
    ``slippage``: a rate (default 0.0005, adverse) or a model. ``risk``: ``RiskLimits``.
    A cash account by default: no shorting and no leverage unless ``allow_short``/``leverage``.
    ``instruments``: futures, FX pairs and indices (``qn.future``, ``qn.continuous``, ``qn.fx``,
    ``qn.index``) among the data's keys; data keyed by the instruments themselves needs none.
    Plain string keys are US stocks. ``hours``: "regular" (intraday stock bars outside regular
    hours are left out) or "extended" (the strategy sees the pre-market and after-hours bars;
    only limit and stop-limit orders trade there, the others wait for the regular open).
    """
    rolls = rolls_of(data)
    data, found = split_instruments(data, instruments)
    engine = BacktestEngine(
        load_frames(data),
        cash=cash,
        commission=commission,
        slippage=slippage,
        risk=risk,
        allow_short=allow_short,
        leverage=leverage,
        interval=interval,
        check_lookahead=check_lookahead,
        progress=progress,
        instruments=found,
        rolls=rolls,
        hours=hours,
    )
    return engine.run(strategy)
