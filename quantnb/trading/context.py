"""The live Context: rolling per-symbol history, the live broker's money, and an order outbox.

The twin of ``BacktestContext``: the same order helpers and checks (from ``Context``), with data
from bars as they arrive and orders collected during a callback and sent right after it returns.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from typing import Any, Protocol

import numpy as np
import pandas as pd

from quantnb.domain.accounting import Portfolio, Position
from quantnb.domain.model import Bar, Order, OrderStatus
from quantnb.engine.context import FIELDS, Context, _name
from quantnb.engine.indicators import IndicatorFn, RollingIndicator, normalise_fields
from quantnb.errors import OrderError
from quantnb.trading.instruments import take_rate

_FIELD_INDEX = {f: i for i, f in enumerate(FIELDS)}
DEFAULT_CAPACITY = 2048


class BrokerLike(Protocol):
    """What the context reads from the live broker."""

    portfolio: Portfolio

    def open_orders(self, symbol: str | None = None) -> list[Order]: ...


class RollingSeries:
    """One symbol's bars as numpy columns; views of the last ``n`` never change once returned.

    Holds between ``capacity`` and ``2 * capacity`` bars: when full it moves the newest
    ``capacity`` into a fresh array (amortised O(1) per bar), so earlier views stay valid.
    """

    __slots__ = ("capacity", "cols", "last", "n", "times", "version")

    def __init__(self, capacity: int) -> None:
        self.capacity = max(int(capacity), 1)
        self.cols = np.empty((len(FIELDS), 2 * self.capacity))
        self.times = np.empty(2 * self.capacity, dtype=np.int64)
        self.n = 0
        self.version = 0
        self.last: Bar | None = None

    def __len__(self) -> int:
        return self.n

    def append(self, bar: Bar) -> bool:
        """Add ``bar`` if it is newer than the last one; False for a repeat or an older bar."""
        t = bar.time.value
        if self.n and t <= self.times[self.n - 1]:
            return False
        if self.n == len(self.times):
            keep = self.capacity
            cols = np.empty_like(self.cols)
            cols[:, :keep] = self.cols[:, self.n - keep : self.n]
            times = np.empty_like(self.times)
            times[:keep] = self.times[self.n - keep : self.n]
            self.cols, self.times, self.n = cols, times, keep
        i = self.n
        c = self.cols
        c[0, i], c[1, i], c[2, i], c[3, i], c[4, i] = (
            bar.open,
            bar.high,
            bar.low,
            bar.close,
            bar.volume,
        )
        self.times[i] = t
        self.n = i + 1
        self.version += 1
        self.last = bar
        return True

    def extend(self, symbol: str, times: np.ndarray, cols: np.ndarray) -> int:
        """Add many bars at once: ``times`` (int64 ns, oldest first) and ``cols`` (one row per
        field, one column per bar). As ``append`` bar by bar, only bars newer than every earlier
        one are kept, and of those the newest ``capacity`` at most; returns how many were added."""
        times = np.asarray(times, dtype=np.int64)
        if not len(times):
            return 0
        before = np.maximum.accumulate(times)
        floor = self.times[self.n - 1] if self.n else np.iinfo(np.int64).min
        newer = times > np.concatenate(([floor], np.maximum(before[:-1], floor)))
        times, cols = times[newer], np.asarray(cols, dtype=np.float64)[:, newer]
        k = len(times)
        if not k:
            return 0
        if self.n + k > len(self.times):
            # a fresh array with the newest ``capacity`` bars: earlier views stay as they were
            keep_old = max(0, self.capacity - k)
            new_cols = np.empty_like(self.cols)
            new_times = np.empty_like(self.times)
            new_cols[:, :keep_old] = self.cols[:, self.n - keep_old : self.n]
            new_times[:keep_old] = self.times[self.n - keep_old : self.n]
            self.cols, self.times, self.n = new_cols, new_times, keep_old
            if k > self.capacity:
                times, cols = times[-self.capacity :], cols[:, -self.capacity :]
        m = len(times)
        self.cols[:, self.n : self.n + m] = cols
        self.times[self.n : self.n + m] = times
        self.n += m
        self.version += 1
        o, h, lo, c, v = (float(x) for x in cols[:, -1])
        self.last = Bar(symbol, pd.Timestamp(int(times[-1]), tz="UTC"), o, h, lo, c, v)
        return k

    def merge(self, symbol: str, times: np.ndarray, cols: np.ndarray) -> int:
        """Add bars at times not held yet, older ones too (history that arrived late), in time
        order; the newest ``2 * capacity`` at most are kept. Returns how many were added. The
        arrays are fresh, so earlier views stay as they were."""
        times = np.asarray(times, dtype=np.int64)
        cols = np.asarray(cols, dtype=np.float64)
        held = self.times[: self.n]
        _, first = np.unique(times, return_index=True)  # one bar per time, the first given
        new = np.zeros(len(times), dtype=bool)
        new[first] = True
        new &= ~np.isin(times, held)
        if not new.any():
            return 0
        all_t = np.concatenate([held, times[new]])
        all_c = np.concatenate([self.cols[:, : self.n], cols[:, new]], axis=1)
        order = np.argsort(all_t, kind="stable")[-len(self.times) :]
        added = int(np.count_nonzero(order >= self.n))
        self.cols = np.empty_like(self.cols)
        self.times = np.empty_like(self.times)
        self.n = len(order)
        self.cols[:, : self.n] = all_c[:, order]
        self.times[: self.n] = all_t[order]
        self.version += 1
        o, h, lo, c, v = (float(x) for x in self.cols[:, self.n - 1])
        self.last = Bar(symbol, pd.Timestamp(int(self.times[self.n - 1]), tz="UTC"), o, h, lo, c, v)
        return added

    def field(self, name: str, n: int | None = None) -> np.ndarray:
        row = self.cols[_FIELD_INDEX[name]]
        end = self.n
        return row[:end] if n is None else row[max(0, end - n) : end]

    def index(self, n: int | None = None) -> pd.DatetimeIndex:
        end = self.n
        ns = self.times[:end] if n is None else self.times[max(0, end - n) : end]
        return pd.DatetimeIndex(ns.astype("datetime64[ns]")).tz_localize("UTC")


class LiveContext(Context):
    """The Context of a live run; the engine feeds it bars and sends its outbox.

    ``holdings`` is the session's own book (its ``Ledger``'s portfolio): ``position()``,
    ``positions`` and so ``close()`` and the target helpers act on what this session bought,
    never on shares others hold in the same account. ``cash`` and ``equity`` are the account's.
    Without it, positions are the account's (the broker's portfolio).
    """

    def __init__(
        self,
        symbols: Iterable[str],
        broker: BrokerLike,
        run_id: str,
        *,
        capacity: int = DEFAULT_CAPACITY,
        order_seq: int = 0,
        on_submit: Callable[[], None] | None = None,
        on_cancel: Callable[[Order], bool] | None = None,
        on_modify: Callable[[Order, dict[str, float]], bool] | None = None,
        logger: logging.Logger | None = None,
        holdings: Portfolio | None = None,
    ) -> None:
        super().__init__(tuple(symbols), logger or logging.getLogger("quantnb.strategy"))
        self.broker = broker
        self.holdings = holdings if holdings is not None else broker.portfolio
        self.run_id = run_id
        self._order_seq = int(order_seq)
        self.series = {s: RollingSeries(capacity) for s in self._symbols}
        self.outbox: list[Order] = []
        self._now: pd.Timestamp | None = None
        self._on_submit = on_submit
        self._on_cancel = on_cancel
        self._on_modify = on_modify

    # ---- fed by the engine ---------------------------------------------------------------------
    def reserve(self, bars: int) -> None:
        """Room for at least ``bars`` bars per symbol (the warm-up), before any bar is held."""
        for symbol, series in self.series.items():
            if series.capacity < bars and not len(series):
                self.series[symbol] = RollingSeries(bars)

    def update(self, bar: Bar) -> bool:
        """Add a completed bar; marks a held position at its close. False if not newer."""
        series = self.series.get(bar.symbol)
        if series is None or not series.append(bar):
            return False
        self._mark(bar.symbol, bar.close)
        return True

    def _mark(self, symbol: str, price: float) -> None:
        symbol = self._routes.get(symbol, symbol)  # a continuous future's bar marks its month
        book, held = self.broker.portfolio, self.holdings
        for portfolio in (book,) if held is book else (book, held):
            take_rate(portfolio, symbol, price)
            pos = portfolio.positions.get(symbol)
            if pos is not None and pos.qty:
                portfolio.mark(symbol, price)

    def load(self, symbol: str, frame: pd.DataFrame) -> int:
        """Add historical bars from a canonical frame (oldest first); returns how many were new."""
        if frame is None or not len(frame):
            return 0
        series = self.series.get(symbol)
        if series is None:
            return 0
        index = pd.DatetimeIndex(frame.index)
        index = index.tz_localize("UTC") if index.tz is None else index.tz_convert("UTC")
        cols = np.vstack([frame[f].to_numpy(np.float64) for f in FIELDS])
        added = series.extend(symbol, index.as_unit("ns").asi8, cols)
        if added:
            self._mark(symbol, series.last.close)  # type: ignore[union-attr]
        return added

    def backfill(self, symbol: str, frame: pd.DataFrame) -> int:
        """Add history that arrived after live bars (older bars too); returns how many were new.

        Indicators see the longer history from their next read on."""
        if frame is None or not len(frame) or symbol not in self.series:
            return 0
        index = pd.DatetimeIndex(frame.index)
        index = index.tz_localize("UTC") if index.tz is None else index.tz_convert("UTC")
        times = index.as_unit("ns").asi8
        cols = np.vstack([frame[f].to_numpy(np.float64) for f in FIELDS])
        series = self.series[symbol]
        if series.last is not None:
            # bars newer than the live ones are left to the stream: each reaches on_data
            older = times <= series.last.time.value
            times, cols = times[older], cols[:, older]
        return series.merge(symbol, times, cols)

    def set_now(self, when: pd.Timestamp) -> None:
        self._now = when

    def take_outbox(self) -> list[Order]:
        """The orders made since the last call, in the order they were made."""
        out, self.outbox = self.outbox, []
        return out

    # ---- Context ---------------------------------------------------------------------------------
    @property
    def now(self) -> pd.Timestamp:
        if self._now is None:
            raise IndexError("no bar has been processed yet")
        return self._now

    def _series(self, symbol: str) -> RollingSeries:
        symbol = _name(symbol)
        series = self.series.get(symbol)
        if series is None:
            self._check_symbol(symbol)
        return series  # type: ignore[return-value]

    def price(self, symbol: str) -> float:
        series = self._series(symbol)
        if series.last is None:
            raise OrderError(f"{symbol!r} has no price yet: no bar of it has arrived")
        return series.last.close

    def bar(self, symbol: str) -> Bar:
        last = self._series(symbol).last
        if last is None:
            raise KeyError(f"{symbol!r} has no bar yet")
        return last

    def history(self, symbol: str, n: int, field: str = "close") -> np.ndarray:
        if field not in _FIELD_INDEX:
            raise KeyError(f"field {field!r} is not one of {', '.join(FIELDS)}")
        return self._series(symbol).field(field, int(n))

    def position(self, symbol: str) -> Position:
        """This session's own position in ``symbol`` (see the class docstring); a continuous
        future's is its current month's."""
        symbol = _name(symbol)
        held = self._routes.get(symbol, symbol)
        pos = self.holdings.positions.get(held)
        if pos is None:
            self._check_symbol(symbol)
            pos = self.holdings.position(held)
        return pos

    @property
    def positions(self) -> dict[str, Position]:
        """This session's own open positions."""
        return self.holdings.open_positions()

    @property
    def cash(self) -> float:
        return self.broker.portfolio.cash

    @property
    def equity(self) -> float:
        return self.broker.portfolio.equity

    def open_orders(self, symbol: str | None = None) -> list[Order]:
        if self._routes and symbol is not None:
            symbol = self._routes.get(_name(symbol), _name(symbol))
        sent = self.broker.open_orders(symbol)
        queued = [o for o in self.outbox if symbol is None or o.symbol == symbol]
        return [*sent, *queued] if queued else sent

    def indicator(
        self, fn: IndicatorFn, field: str | tuple[str, ...] = "close", *args: Any
    ) -> RollingIndicator:
        fields = normalise_fields(field, FIELDS)
        return RollingIndicator(
            fn,
            fields,
            args,
            lambda s, f: self._series(s).field(f),
            lambda s: self._series(s).version,
        )

    def _submit(self, order: Order) -> Order:
        order.created = order.updated = self._now
        self.outbox.append(order)
        if self._on_submit is not None:
            self._on_submit()
        return order

    def _cancel(self, order: Order) -> bool:
        if order in self.outbox:
            self.outbox.remove(order)
            order.status = OrderStatus.CANCELLED
            order.reason = "cancelled before it was sent"
            return True
        if order.is_done:
            return False
        return self._on_cancel(order) if self._on_cancel is not None else False

    def _modify(self, order: Order, changes: dict[str, float]) -> bool:
        if order in self.outbox:  # not sent yet: it leaves as changed
            for name, value in changes.items():
                setattr(order, name, value)
            return True
        return self._on_modify(order, changes) if self._on_modify is not None else False

    def _find_order(self, order_id: str) -> Order | None:
        for o in self.outbox:
            if o.id == order_id:
                return o
        orders: dict[str, Order] | None = getattr(self.broker, "orders", None)
        return orders.get(order_id) if orders is not None else None

    def _next_order_id(self) -> str:
        self._order_seq += 1
        return f"{self.run_id}-{self._order_seq}"

    @property
    def order_seq(self) -> int:
        return self._order_seq
