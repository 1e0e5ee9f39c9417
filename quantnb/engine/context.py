"""The Context a strategy talks to: orders, positions, money, history and time.

One base class holds everything both modes share (argument checks, order building, targets),
so a strategy meets exactly the same rules in a backtest and live. A mode supplies the rest:
prices, history, submission and cancellation.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from quantnb.domain import auction, checks
from quantnb.domain import oca as oca_module
from quantnb.domain.accounting import Position
from quantnb.domain.instrument import Instrument
from quantnb.domain.model import Bar, Order, OrderType, Side, TimeInForce
from quantnb.domain.order_rules import require_tradable
from quantnb.domain.schedule import Rule, parse_rule
from quantnb.errors import ConfigError, OrderError
from quantnb.options import check_options, checked_options, keyword_names


def fn_name(fn: Any) -> str:
    """A callback's name for messages."""
    return getattr(fn, "__qualname__", None) or repr(fn)


FIELDS = ("open", "high", "low", "close", "volume")

_TYPES = {
    None: None,
    "market": OrderType.MARKET,
    "mkt": OrderType.MARKET,
    "limit": OrderType.LIMIT,
    "lmt": OrderType.LIMIT,
    "stop": OrderType.STOP,
    "stp": OrderType.STOP,
    "stop_limit": OrderType.STOP_LIMIT,
    "stop-limit": OrderType.STOP_LIMIT,
    "trailing_stop": OrderType.TRAILING_STOP,
    "trail": OrderType.TRAILING_STOP,
}
# auction types by name, as at= says them
_AUCTIONS = {"moc": "close", "loc": "close", "moo": "open", "loo": "open"}
_ALGOS = {"adaptive": "Adaptive"}
_PRIORITIES = {"": "Normal", "normal": "Normal", "urgent": "Urgent", "patient": "Patient"}


@dataclass(frozen=True, slots=True)
class Bracket:
    """An entry order with its take-profit and stop-loss; the exits cancel each other."""

    entry: Order
    take_profit: Order | None
    stop_loss: Order | None

    def __iter__(self) -> Iterator[Order]:
        return iter(o for o in (self.entry, self.take_profit, self.stop_loss) if o is not None)


class BarView(dict):
    """The bars at ``ctx.now``: iterate for the symbols that have one, index for a ``Bar``.

    A view valid during the call that received it; keep the ``Bar`` objects, not the view.
    (A dict of symbol -> None underneath, so iterating it costs nothing per bar.)
    """

    __slots__ = ("_ctx",)

    def __init__(self, ctx: Context, symbols: tuple[str, ...] = ()) -> None:
        super().__init__(dict.fromkeys(symbols))
        self._ctx = ctx

    def __getitem__(self, symbol: str) -> Bar:
        if symbol not in self:
            raise KeyError(f"{symbol!r} has no bar at {self._ctx.now}; symbols here: {list(self)}")
        return self._ctx.bar(symbol)

    def get(self, symbol: str, default: Any = None) -> Any:
        if symbol in self:
            return self._ctx.bar(symbol)
        return default

    def values(self) -> list[Bar]:  # type: ignore[override]
        return [self[s] for s in self]

    def items(self) -> list[tuple[str, Bar]]:  # type: ignore[override]
        return [(s, self[s]) for s in self]

    def __repr__(self) -> str:
        return f"BarView({list(self)})"


class Context:
    """What a strategy can do and see; subclasses bind it to a backtest or to a live broker."""

    def __init__(self, symbols: tuple[str, ...], logger: logging.Logger | None = None) -> None:
        self._symbols = tuple(symbols)
        self._symbol_set = frozenset(symbols)
        self._log = logger or logging.getLogger("quantnb.strategy")
        self._order_seq = 0
        self.logs: list[tuple[pd.Timestamp | None, str]] = []
        self._declared_warmup: int | None = None
        self._warmup_open = True  # closed once initialize has returned
        self._schedules: list[tuple[Rule, Callable[..., Any]]] | None = []
        # futures, FX and indices by name (plain stocks are not listed)
        self._instruments: dict[str, Instrument] = {}
        self._routes: dict[str, str] = {}  # a continuous future -> its current contract month

    # ---- what a mode supplies -------------------------------------------------------------
    @property
    def now(self) -> pd.Timestamp:
        raise NotImplementedError

    def price(self, symbol: str) -> float:
        """The latest price of ``symbol`` (the close of its newest bar)."""
        raise NotImplementedError

    def bar(self, symbol: str) -> Bar:
        """The newest bar of ``symbol`` at ``now``."""
        raise NotImplementedError

    def history(self, symbol: str, n: int, field: str = "close") -> np.ndarray:
        """The last ``n`` values of ``field`` up to ``now``, oldest first (fewer at the start)."""
        raise NotImplementedError

    def position(self, symbol: str) -> Position:
        raise NotImplementedError

    @property
    def positions(self) -> dict[str, Position]:
        """Open positions by symbol."""
        raise NotImplementedError

    @property
    def cash(self) -> float:
        raise NotImplementedError

    @property
    def equity(self) -> float:
        raise NotImplementedError

    def open_orders(self, symbol: str | None = None) -> list[Order]:
        raise NotImplementedError

    def indicator(self, fn: Callable[..., np.ndarray], field: str | tuple[str, ...], *args: Any):
        """Declare an indicator once (in ``initialize``); index it by symbol for its value now."""
        raise NotImplementedError

    def _submit(self, order: Order) -> Order:
        raise NotImplementedError

    def _cancel(self, order: Order) -> bool:
        raise NotImplementedError

    def _modify(self, order: Order, changes: dict[str, float]) -> bool:
        raise NotImplementedError

    def _find_order(self, order_id: str) -> Order | None:
        raise NotImplementedError

    def _next_order_id(self) -> str:
        self._order_seq += 1
        return str(self._order_seq)

    # ---- shared by both modes -------------------------------------------------------------
    @property
    def symbols(self) -> tuple[str, ...]:
        return self._symbols

    def warmup(self, bars: int) -> None:
        """Declare, in ``initialize``, the bars of every symbol needed before the first
        ``on_data`` (instead of the number measured from the indicators and history asked for)."""
        if isinstance(bars, bool) or not isinstance(bars, int | np.integer) or bars < 0:
            raise ConfigError(f"ctx.warmup({bars!r}): give a whole number of bars >= 0, e.g. 30")
        if not self._warmup_open:
            raise ConfigError(
                f"ctx.warmup({bars!r}) was called after initialize: declare the warm-up in "
                "initialize, before the first bar"
            )
        self._declared_warmup = int(bars)

    def log(self, message: str, *args: Any) -> None:
        """Log a message from the strategy, stamped with ``now``; kept in ``ctx.logs`` too."""
        text = message % args if args else str(message)
        try:
            now = self.now
        except (IndexError, NotImplementedError):
            now = None
        self.logs.append((now, text))
        self._log.info("[%s] %s", now, text)

    def schedule(self, fn: Callable[..., Any], at: str = "close", days: str = "every_day") -> Rule:
        """Call ``fn(ctx)`` at a market time of the exchange calendar; call it in ``initialize``.

        ``at``: "open", "close", an offset such as "open+5min", "close-10min", "open+1h", or a
        New York time such as "15:30" (at the close on an early-close day if later). ``days``:
        "every_day", "week_start", "week_end", "month_start", "month_end" (trading days, so
        holidays move them) or a weekday such as "friday". It runs right after the ``on_data``
        of the first bar complete at or after that time (a bar completes at its start plus the
        interval; a daily bar covers its session), the same in a backtest and live.
        """
        if self._schedules is None:
            raise ConfigError(
                f"ctx.schedule({fn_name(fn)}, at={at!r}) after the run started: "
                "schedule decisions in initialize"
            )
        if not callable(fn):
            raise ConfigError(f"ctx.schedule({fn!r}): pass a function or method taking ctx")
        rule = parse_rule(at, days)
        self._schedules.append((rule, fn))
        return rule

    def _take_schedules(self) -> list[tuple[Rule, Callable[..., Any]]]:
        """The decisions scheduled so far; ``schedule`` refuses new ones from here on."""
        taken, self._schedules = self._schedules or [], None
        return taken

    def buy(self, symbol: str, qty: float, **kwargs: Any) -> Order:
        """Buy ``qty``: market by default; ``limit=``, ``stop=``, ``trail_amount=``,
        ``trail_percent=``, ``tif=`` and ``tag=`` are optional.

        A trailing stop trails the high since it started (the low for a buy); a backtest moves
        it after matching each bar. Limit fills, stop-limits included, pay no slippage.
        ``at="close"``/``"open"``: trade in the closing/opening auction (MOC/LOC, MOO/LOO with
        ``limit=``); ``tif=`` "DAY", "GTC", "GTD" (with ``good_till=``, naive times New York's),
        "IOC" or "FOK"; ``oca="name"`` joins a one-cancels-all group (``oca_type="cancel"`` or
        ``"reduce"``); ``algo="adaptive"`` (or "adaptive:urgent"/"adaptive:patient") sends it
        to IB's Adaptive algo live and is a plain order in a backtest.
        """
        symbol = _name(symbol)
        return self._place(symbol, Side.BUY, qty, **kwargs)

    def sell(self, symbol: str, qty: float, **kwargs: Any) -> Order:
        """Sell ``qty`` (see ``buy`` for the options)."""
        symbol = _name(symbol)
        return self._place(symbol, Side.SELL, qty, **kwargs)

    def order(self, symbol: str, qty: float, **kwargs: Any) -> Order | None:
        """Buy (positive) or sell (negative) ``qty``; zero places nothing."""
        symbol = _name(symbol)
        qty = checks.quantity("qty", qty, allow_zero=True, allow_negative=True)
        if qty == 0:
            return None
        side = Side.BUY if qty > 0 else Side.SELL
        return self._place(symbol, side, abs(qty), **kwargs)

    def close(self, symbol: str, **kwargs: Any) -> Order | None:
        """Cancel the working orders of ``symbol`` and flatten it with a market order.

        Returns the closing order, or None when there was no position.
        """
        symbol = _name(symbol)
        if symbol not in self._symbol_set:
            self._check_symbol(symbol)
        self.cancel_all(symbol)
        qty = self.position(symbol).qty
        if not qty:
            return None
        return self._place(symbol, Side.SELL if qty > 0 else Side.BUY, abs(qty), **kwargs)

    def order_target(self, symbol: str, target: float, **kwargs: Any) -> Order | None:
        """Trade so the position (counting orders already working) becomes ``target`` shares."""
        symbol = _name(symbol)
        self._check_symbol(symbol)
        target = checks.quantity("target", target, allow_zero=True, allow_negative=True)
        working = sum(
            o.remaining * o.side.sign for o in self.open_orders(symbol) if o.parent_id is None
        )
        delta = target - self.position(symbol).qty - working
        if abs(delta) < 1e-9:
            return None
        return self.order(symbol, delta, **kwargs)

    def order_target_percent(self, symbol: str, percent: float, **kwargs: Any) -> Order | None:
        """Trade so ``symbol`` is ``percent`` of equity (0.5 = half), in whole shares.

        The target is ``trunc(percent * equity / price)`` shares at the latest price, with
        nothing kept back for costs; a backtest matches the sells of one decision first.
        """
        symbol = _name(symbol)
        percent = self._number("percent", percent, allow_zero=True, allow_negative=True)
        if abs(percent) > 10:
            raise OrderError(
                f"order_target_percent({symbol!r}, {percent!r}): percent is a fraction of equity "
                "(0.5 means 50%); a value this large is almost certainly a mistake"
            )
        self._check_symbol(symbol)
        price = self.price(symbol)
        target = math.trunc(percent * self.equity / price)
        return self.order_target(symbol, target, **kwargs)

    @checked_options
    def bracket(
        self,
        symbol: str,
        qty: float,
        *,
        take_profit: float | None = None,
        stop_loss: float | None = None,
        side: str = "BUY",
        limit: float | None = None,
        tif: str | TimeInForce = TimeInForce.GTC,
        tag: str = "",
    ) -> Bracket:
        """Entry (market, or limit at ``limit``) with a take-profit limit and a stop-loss stop.

        The exits start working when the entry fills; when one exits fills the other is
        cancelled (one cancels the other). In a backtest an entry filled at the open lets its
        exits trade the rest of that bar, and when both exits could trade in one bar the
        stop-loss is assumed to have come first.
        """
        symbol = _name(symbol)
        entry_side = self._side(side)
        if take_profit is None and stop_loss is None:
            raise OrderError(
                f"bracket({symbol!r}) needs take_profit= or stop_loss= (or both); "
                "for a plain entry use buy() or sell()"
            )
        ref = limit if limit is not None else self.price(symbol)
        up = entry_side is Side.BUY
        if take_profit is not None:
            take_profit = self._number("take_profit", take_profit)
            if (take_profit <= ref) if up else (take_profit >= ref):
                raise OrderError(
                    f"bracket({symbol!r}): take_profit={take_profit} is on the wrong side of the "
                    f"entry price {ref:.4f} for a {entry_side} entry"
                )
        if stop_loss is not None:
            stop_loss = self._number("stop_loss", stop_loss)
            if (stop_loss >= ref) if up else (stop_loss <= ref):
                raise OrderError(
                    f"bracket({symbol!r}): stop_loss={stop_loss} is on the wrong side of the "
                    f"entry price {ref:.4f} for a {entry_side} entry"
                )
        entry = self._build(symbol, entry_side, qty, limit=limit, tif=tif, tag=tag)
        exit_side = Side.SELL if up else Side.BUY
        oca = f"oca-{entry.id}"
        tp = sl = None
        if take_profit is not None:
            tp = self._build(symbol, exit_side, qty, limit=take_profit, tif=tif, tag=tag)
            tp.parent_id, tp.oca_group = entry.id, oca
        if stop_loss is not None:
            sl = self._build(symbol, exit_side, qty, stop=stop_loss, tif=tif, tag=tag)
            sl.parent_id, sl.oca_group = entry.id, oca
        self._submit(entry)
        for child in (tp, sl):
            if child is not None:
                self._submit(child)
        return Bracket(entry, tp, sl)

    def cancel(self, order: Order | str) -> bool:
        """Cancel a working order (by object or id); False when it is already done."""
        order = checks.order_ref(order)
        if isinstance(order, str):
            found = self._find_order(order)
            if found is None:
                raise OrderError(f"cancel({order!r}): no order with that id in this run")
            order = found
        if order.is_done:
            return False
        return self._cancel(order)

    def modify(
        self,
        order: Order | str,
        *,
        qty: float | None = None,
        limit: float | None = None,
        stop: float | None = None,
    ) -> bool:
        """Change a working order's quantity, limit or stop price (by object or id); False when
        it is already done. Live, IB is asked for the change (see ``Order.reason`` if refused)."""
        if isinstance(order, str):
            found = self._find_order(order)
            if found is None:
                raise OrderError(f"modify({order!r}): no order with that id in this run")
            order = found
        changes: dict[str, float] = {}
        if qty is not None:
            changes["qty"] = checks.quantity("qty", qty)
            if changes["qty"] < order.filled:
                raise OrderError(f"order {order.id}: qty={qty!r} is below the {order.filled:g} "
                                 "already filled")  # fmt: skip
        if limit is not None:
            if order.type not in (OrderType.LIMIT, OrderType.STOP_LIMIT, OrderType.LIMIT_ON_CLOSE):
                raise OrderError(f"order {order.id} is a {order.type.name.lower()} order: it has "
                                 "no limit= price to change")  # fmt: skip
            changes["limit"] = self._number("limit", limit)
        if stop is not None:
            if order.type not in (OrderType.STOP, OrderType.STOP_LIMIT):
                raise OrderError(f"order {order.id} is a {order.type.name.lower()} order: it has "
                                 "no stop= price to change")  # fmt: skip
            changes["stop"] = self._number("stop", stop)
        if not changes:
            raise OrderError(f"modify({order.id!r}): give qty=, limit= or stop= to change")
        if order.is_done:
            return False
        return self._modify(order, changes)

    def cancel_all(self, symbol: str | None = None) -> int:
        """Cancel every working order (of ``symbol``, if given); returns how many."""
        orders = self.open_orders(symbol)
        return sum(self._cancel(o) for o in list(orders)) if orders else 0

    # ---- checks and order building ----------------------------------------------------------
    def _place(self, symbol: str, side: Side, qty: float, **kwargs: Any) -> Order:
        if kwargs or self._instruments:
            if not _ORDER_OPTIONS.issuperset(kwargs):
                check_options(f"{side.name.lower()}({symbol!r}, ...)", kwargs, _ORDER_OPTIONS)
            return self._submit(self._build(symbol, side, qty, **kwargs))
        # no options on a stock: the market DAY order _build makes, with its checks, built
        # directly (the common order of a backtest, so its path is kept short)
        if symbol not in self._symbol_set:
            self._check_symbol(symbol)
        qty = checks.quantity("qty", qty)
        return self._submit(Order(id=self._next_order_id(), symbol=symbol, side=side, qty=qty))

    def _build(
        self,
        symbol: str,
        side: Side,
        qty: float,
        *,
        limit: float | None = None,
        stop: float | None = None,
        trail_amount: float | None = None,
        trail_percent: float | None = None,
        tif: str | TimeInForce | None = None,
        type: str | None = None,
        tag: str = "",
        at: str | None = None,
        good_till: Any = None,
        oca: str | None = None,
        oca_type: str | int = "cancel",
        algo: str | None = None,
    ) -> Order:
        self._check_symbol(symbol)
        inst = self._instruments.get(symbol)
        if inst is not None:
            require_tradable(inst)
            symbol = self._routes.get(symbol, symbol)
        if isinstance(type, str) and type.lower() in _AUCTIONS:
            side_of_day = _AUCTIONS[type.lower()]
            if at is not None and at != side_of_day:
                raise OrderError(f"type={type!r} trades at the {side_of_day}, not at={at!r}")
            if (type.lower()[0] == "l") != (limit is not None):
                raise OrderError(
                    f"a {type.upper()} order needs limit=" if type.lower()[0] == "l"
                    else f"a {type.upper()} order takes no limit= (use LOC/LOO for a limit)"
                )  # fmt: skip
            at, type = side_of_day, None
        qty = checks.quantity("qty", qty)
        if limit is not None:
            limit = self._number("limit", limit)
        if stop is not None:
            stop = self._number("stop", stop)
        if trail_amount is not None:
            trail_amount = self._number("trail_amount", trail_amount)
        if trail_percent is not None:
            trail_percent = self._number("trail_percent", trail_percent)
            if trail_percent >= 100:
                raise OrderError(f"trail_percent={trail_percent} must be below 100 (it is in %)")
        if trail_amount is not None and trail_percent is not None:
            raise OrderError("give trail_amount= or trail_percent=, not both")
        trailing = trail_amount is not None or trail_percent is not None
        if trailing and (limit is not None or stop is not None):
            raise OrderError("a trailing stop takes no limit= or stop= price")
        if stop is not None:
            kind = OrderType.STOP_LIMIT if limit is not None else OrderType.STOP
        elif limit is not None:
            kind = OrderType.LIMIT
        else:
            kind = OrderType.TRAILING_STOP if trailing else OrderType.MARKET
        key = type.lower() if isinstance(type, str) else type
        if key not in _TYPES:
            names = ", ".join(repr(k) for k in _TYPES if k is not None)
            raise OrderError(
                f"type={type!r} is not an order type: use one of {names} (or leave it out and "
                "give limit=/stop=/trail_amount= to pick the type)"
            )
        wanted = _TYPES[key]
        if wanted is not None and wanted is not kind:
            need = {
                OrderType.LIMIT: "limit=",
                OrderType.STOP: "stop=",
                OrderType.STOP_LIMIT: "stop= and limit=",
                OrderType.TRAILING_STOP: "trail_amount= or trail_percent=",
                OrderType.MARKET: "no price",
            }[wanted]
            raise OrderError(f"a {wanted.name.lower()} order for {symbol!r} needs {need}")
        order = Order(
            id=self._next_order_id(),
            symbol=symbol,
            side=side,
            qty=qty,
            type=kind,
            limit=limit,
            stop=stop,
            trail_amount=trail_amount,
            trail_percent=trail_percent,
            tif=self._tif(tif),
            tag=tag,
        )
        special = at is not None or good_till is not None or oca is not None or algo is not None
        if special or order.tif not in auction.PLAIN_TIFS:
            self._special_options(order, at, good_till, oca, oca_type, algo)
        return order

    def _special_options(
        self, order: Order, at: str | None, good_till: Any, oca: str | None,
        oca_type: str | int, algo: str | None,
    ) -> None:  # fmt: skip
        """Auctions, GTD, OCA groups and algos on a built order; IB's refusals raise here."""
        if at is not None:
            where = str(at).lower()
            if where not in ("open", "close"):
                raise OrderError(f"at={at!r}: use 'open' (the opening auction) or 'close'")
            if order.type not in (OrderType.MARKET, OrderType.LIMIT):
                raise OrderError(
                    f"at={at!r} takes a market or a limit order, not a "
                    f"{order.type.name.lower()} order"
                )
            if where == "close":
                limited = order.type is OrderType.LIMIT
                order.type = OrderType.LIMIT_ON_CLOSE if limited else OrderType.MARKET_ON_CLOSE
            elif order.tif is not TimeInForce.DAY:
                raise OrderError(f"at='open' sets tif='OPG'; leave tif= out (got {order.tif})")
            else:
                order.tif = TimeInForce.OPG
        if good_till is not None:
            order.good_till = auction.good_till(good_till)
        if oca is not None:
            if not isinstance(oca, str) or not oca.strip():
                raise OrderError(f"oca={oca!r}: name the one-cancels-all group with a string")
            order.oca_group = oca.strip()
            order.oca_type = oca_module.oca_type(oca_type)
        if algo is not None:
            name, _, priority = str(algo).lower().partition(":")
            if name not in _ALGOS or priority not in _PRIORITIES:
                raise OrderError(
                    f"algo={algo!r}: use 'adaptive', 'adaptive:urgent' or 'adaptive:patient'"
                )
            order.algo, order.algo_priority = _ALGOS[name], _PRIORITIES[priority]
        auction.check_combination(order)

    def _check_symbol(self, symbol: str) -> None:
        if symbol not in self._symbol_set:
            raise OrderError(
                f"unknown symbol {symbol!r}: this run trades {', '.join(self._symbols)}"
            )

    @staticmethod
    def _side(side: str | Side) -> Side:
        try:
            return Side(str(side).upper())
        except ValueError:
            raise OrderError(f"side={side!r}: use 'BUY' or 'SELL'") from None

    @staticmethod
    def _tif(tif: str | TimeInForce | None) -> TimeInForce:
        if tif is None:
            return TimeInForce.DAY
        try:
            return TimeInForce(str(tif).upper())
        except ValueError:
            names = ", ".join(repr(t.value) for t in TimeInForce)
            raise OrderError(f"tif={tif!r}: use one of {names}") from None

    @staticmethod
    def _number(
        name: str, value: Any, *, allow_zero: bool = False, allow_negative: bool = False
    ) -> float:
        return checks.number(name, value, allow_zero=allow_zero, allow_negative=allow_negative)


def _name(symbol: str | Instrument) -> str:
    """What orders and data are keyed by: a symbol string, or an instrument's name."""
    return symbol.name if isinstance(symbol, Instrument) else symbol


# the keyword options of buy(), sell(), order(), order_target() and close()
_ORDER_OPTIONS = keyword_names(Context._build, exclude=("self", "symbol", "side", "qty"))
