"""Continuous futures in a live session, presented as a backtest presents them.

The strategy names ``qn.continuous("ES")`` ("ES") for data, positions and orders; the session
streams (and loads the history of) the current contract month under that name, routes orders on
it to the month and reads its position from the month's. When a bar passes the roll date
(``quantnb.domain.rolls``, as a backtest rolls) the session, before ``on_data`` sees that bar,
queues the roll's two market orders (tagged "roll", journaled as every order is) and streams the
new month instead of the old one. The month held is known from the time by the same rule, so a
session started again after a roll streams the new month at once; a position it still holds in
an older month (stopped across the roll) is rolled at its first bar.

The name's series is the raw splice of the months streamed (the old month's bars up to and
including the bar that rolled, the new month's after): a backtest's ``adjust="none"`` series.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable, Mapping
from dataclasses import replace
from typing import Any

import pandas as pd

from quantnb.domain.accounting import Portfolio
from quantnb.domain.instrument import Instrument, future
from quantnb.domain.rolls import ROLL_TAG, next_month
from quantnb.trading.instruments import register
from quantnb.trading.rolls import ROLL_DAYS, RollWatch, roll_orders

log = logging.getLogger(__name__)


class MonthFeed:
    """The session's data feed with each continuous future's name standing for its current
    month: history, streams and their bars are the month's, the bars carry the name."""

    def __init__(self, feed: Any) -> None:
        self._feed = feed
        self.months: dict[str, str] = {}  # continuous name -> the month streamed
        self._named: dict[tuple[str, Any], Any] = {}

    def __getattr__(self, attr: str) -> Any:
        return getattr(self._feed, attr)

    def month(self, symbol: str) -> str:
        return self.months.get(symbol, symbol)

    def _callback(self, name: str, on_bar: Any) -> Any:
        """``on_bar`` fed the current month's bars under ``name`` (one callback per pair, so
        subscribing again adds none)."""
        key = (name, on_bar)
        if key not in self._named:

            def on_month_bar(bar: Any) -> None:
                if self.months.get(name) == bar.symbol:  # a bar of a month rolled out of: not it
                    on_bar(replace(bar, symbol=name))

            self._named[key] = on_month_bar
        return self._named[key]

    async def get_recent_history_async(self, symbol: str, *args: Any, **kw: Any) -> Any:
        return await self._feed.get_recent_history_async(self.month(symbol), *args, **kw)

    async def subscribe_async(
        self, symbols: Any, interval: str = "1m", on_bar: Any = None, since: Any = None
    ) -> None:
        items = [symbols] if isinstance(symbols, str | Instrument) else list(symbols)
        for s in items:
            if isinstance(s, str) and s in self.months:
                cb = self._callback(s, on_bar) if on_bar is not None else None
                await self._feed.subscribe_async([self.months[s]], interval, cb, since)
            else:
                await self._feed.subscribe_async([s], interval, on_bar, since)

    async def unsubscribe_async(self, symbols: Any) -> None:
        names = [symbols] if isinstance(symbols, str) else list(symbols)
        await self._feed.unsubscribe_async([self.month(s) for s in names])

    def unsubscribe(self, symbols: Any) -> None:
        names = [symbols] if isinstance(symbols, str) else list(symbols)
        self._feed.unsubscribe([self.month(s) for s in names])

    async def resubscribe_async(self, symbol: str) -> bool:
        return await self._feed.resubscribe_async(self.month(symbol))

    def get_latest_bar(self, symbol: str) -> Any:
        bar = self._feed.get_latest_bar(self.month(symbol))
        return replace(bar, symbol=symbol) if bar is not None and symbol in self.months else bar

    def get_latest_price(self, symbol: str) -> float | None:
        return self._feed.get_latest_price(self.month(symbol))

    @property
    def subscriptions(self) -> dict[str, str]:
        back = {m: n for n, m in self.months.items()}
        return {back.get(s, s): iv for s, iv in self._feed.subscriptions.items()}

    def switch(self, name: str, month: str, interval: str, on_bar: Any, since: Any) -> Any:
        """Stream ``month`` under ``name`` from bars after ``since`` on, then cancel the old
        month's stream. From now on the old month's bars are not the name's (those already
        coming in the same burst too); the coroutine returned subscribes and cancels."""
        old = self.months.get(name)
        self.months[name] = month
        return self._switch(name, old, month, interval, on_bar, since)

    async def _switch(
        self, name: str, old: str | None, month: str, interval: str, on_bar: Any, since: Any
    ) -> None:
        await self._feed.subscribe_async([month], interval, self._callback(name, on_bar), since)
        if old is not None and old != month:
            await self._feed.unsubscribe_async([old])
        log.info("%s streams %s instead of %s", name, month, old)


def _month(cont: Instrument, month: str) -> Instrument:
    """The contract month of a continuous future, with its margins (as in a backtest)."""
    return replace(
        future(cont.symbol, month),
        margin_initial=cont.margin_initial,
        margin_maintenance=cont.margin_maintenance,
    )


class ContinuousFutures:
    """The continuous futures of one session: their months now, the roll and the stream switch.

    ``months(now, held)`` (before the run's context exists) gives the month instruments to book
    (current and next of each name, and older months still held); ``attach`` routes the
    context and the feed; ``roll(when)`` at each bar group, before the strategy sees it.
    """

    def __init__(self, instruments: Iterable[Instrument], roll_days: int = ROLL_DAYS) -> None:
        self.continuous = {i.name: i for i in instruments if i.continuous}
        self.watch = RollWatch(self.continuous.values(), roll_days)
        self.carry: list[tuple[str, Instrument, Instrument]] = []
        self.names: dict[str, str] = {}  # a month booked -> the continuous name priced by it
        self.engine: Any = None
        self._tasks: set[asyncio.Task[Any]] = set()

    def __bool__(self) -> bool:
        return bool(self.continuous)

    def months(self, now: pd.Timestamp, held: Portfolio) -> dict[str, Instrument]:
        """The contract months to book at a start at ``now``: each name's current and next
        month, and any older month of its root this session still holds (rolled at the first
        bar)."""
        out: dict[str, Instrument] = {}
        self.carry = []
        for name, m in self.watch.start(now).items():
            cont = self.continuous[name]
            current = self.watch.current[name] = _month(cont, m.expiry or "")
            out[current.name] = current
            following = _month(cont, next_month(cont.symbol, current.expiry or ""))
            out[following.name] = following
            for symbol, pos in held.positions.items():
                root, _, month = symbol.partition(" ")
                if root == cont.symbol and pos.qty and month and month < (current.expiry or ""):
                    old = _month(cont, month)
                    out[old.name] = old
                    self.carry.append((name, old, current))
        self.names = self._names_of(out.values())
        return out

    def _names_of(self, months: Iterable[Instrument]) -> dict[str, str]:
        return {
            m.name: n for m in months for n, c in self.continuous.items() if c.symbol == m.symbol
        }

    def attach(self, engine: Any) -> None:
        """Route the engine's context and feed to the current months."""
        self.engine = engine
        if not isinstance(engine.feed, MonthFeed):
            engine.feed = MonthFeed(engine.feed)
            engine.history_retry.feed = engine.feed
        for name, month in self.watch.current.items():
            engine.ctx._instruments[name] = self.continuous[name]  # orders on it are routed
            engine.ctx._routes[name] = month.name
            engine.feed.months[name] = month.name

    def roll(self, when: pd.Timestamp) -> list[tuple[str, Instrument, Instrument]]:
        """Roll what a bar group at ``when`` has passed: route the name to the new month, queue
        the two orders (close the old month, open the new) and switch the stream."""
        rolls, self.carry = [*self.carry, *self.watch.due(when)], []
        if not rolls:
            return rolls
        eng = self.engine
        ctx = eng.ctx
        for name, old, new in rolls:
            cont = self.continuous[name]
            old, new = _month(cont, old.expiry or ""), _month(cont, new.expiry or "")
            self.watch.current[name] = new
            self._book([old, new])
            ctx._routes[name] = new.name
            pos = ctx.holdings.positions.get(old.name)
            qty = pos.qty if pos is not None else 0.0
            for order in roll_orders(old.name, new.name, qty, ctx._next_order_id):
                order.created = order.updated = ctx.now
                ctx.outbox.append(order)
            log.info("%s rolls %g from %s to %s at %s", name, qty, old.name, new.name, when)
            if eng.feed.months.get(name) != new.name:
                self._spawn(eng.feed.switch(name, new.name, eng.interval.name, eng._on_bar, when))
        return rolls

    def _book(self, months: list[Instrument]) -> None:
        """Months not booked yet made known to the contract cache, the account and the ledger
        (whose portfolio is then rebuilt: the context reads the new one)."""
        eng = self.engine
        fresh = {m.name: m for m in months if m.name not in eng.ledger.portfolio.instruments}
        if not fresh:
            return
        eng.instruments.update(fresh)
        self.names.update(self._names_of(fresh.values()))
        register(fresh, eng.connection.contracts, eng.broker.portfolio, eng.ledger, eng.journal)
        eng.ctx.holdings = eng.ledger.portfolio

    @property
    def switching(self) -> bool:
        """Whether a roll's stream switch (subscribe the new month, cancel the old) is under way."""
        return bool(self._tasks)

    def _spawn(self, coro: Any) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            exc = task.exception()
            self.engine._record_error("data", f"switching a continuous future's stream: {exc}")


def replay_frames(
    frames: Mapping[str, pd.DataFrame],
    live_times: Mapping[str, list[pd.Timestamp]],
    instruments: Mapping[str, Instrument],
    roll_fills: Mapping[tuple[str, str], tuple[float | None, float | None]],
    roll_days: int = ROLL_DAYS,
) -> tuple[dict[str, pd.DataFrame], dict[str, Instrument], dict[str, list]]:
    """A live run's journaled bars as a backtest of its continuous futures takes them: each
    name's series split into the months it streamed, and its rolls (at the bar that rolled live).

    The old month's stream ends with the bar that rolled and the new one's starts after it, so
    the legs' live fills (``roll_fills``, by old and new month) price them where the backtest
    needs a price: the old month one bar after the roll (its closing leg fills there), the new
    month at the roll (its order is checked against it).
    """
    frames = dict(frames)
    found: dict[str, Instrument] = dict(instruments)
    rolls: dict[str, list] = {}
    for name, cont in instruments.items():
        frame = frames.get(name)
        if not cont.continuous or frame is None or not len(frame):
            continue
        times = sorted(live_times.get(name, ()))
        before = frame.index[frame.index < times[0]] if times else frame.index
        watch = RollWatch([cont], roll_days)
        current = _month(
            cont, watch.start(before[-1] if len(before) else frame.index[0])[name].expiry or ""
        )
        rolls[name], start, starts = [], None, {}
        for t in times:
            for _, _, new in watch.due(t):
                new = _month(cont, new.expiry or "")
                rolls[name].append((str(t), current.name, new.name))
                piece = frame[(frame.index > start) if start is not None else slice(None)]
                piece = piece[piece.index <= t]
                later = frame[frame.index > t]
                close, open_ = roll_fills.get((current.name, new.name), (None, None))
                if close is not None and len(later):
                    piece = pd.concat([piece, _flat(close, later.index[0])])
                frames[current.name], found[current.name] = piece, current
                # the new month is priced at the roll by its leg's fill (its first bar's open)
                if len(later):
                    first = open_ if open_ is not None else float(later["open"].iloc[0])
                    starts[new.name] = _flat(first, t)
                current, start = new, t
        rest = frame[frame.index > start] if start is not None else frame
        if current.name in starts:
            rest = pd.concat([starts[current.name], rest])
        frames[current.name] = rest
        found[current.name] = current
        if not rolls[name]:  # no roll in the run: the name trades this month throughout
            after = _month(cont, next_month(cont.symbol, current.expiry or ""))
            rolls[name] = [(str(frame.index[-1] + pd.Timedelta(days=1)), current.name, after.name)]
    return frames, found, rolls


def _flat(price: float, at: pd.Timestamp) -> pd.DataFrame:
    """One bar at ``price`` (no volume) at ``at``."""
    cols = {"open": price, "high": price, "low": price, "close": price, "volume": 0.0}
    return pd.DataFrame(cols, index=pd.DatetimeIndex([at]))


def roll_fills(journal: Any) -> dict[tuple[str, str], tuple[float | None, float | None]]:
    """The prices each roll's two legs filled at live (average, None when unfilled), by
    (old month, new month)."""
    if journal is None:
        return {}
    orders, fills = journal.orders(latest=True), journal.fills()
    if not len(orders):
        return {}
    rolled = orders[orders["tag"] == ROLL_TAG].sort_values("seq", kind="mergesort")

    def price(order_id: str) -> float | None:
        mine = fills[fills["order_id"] == order_id] if len(fills) else fills
        if not len(mine):
            return None
        qty = mine["qty"].astype(float)
        return float((mine["price"].astype(float) * qty).sum() / qty.sum())

    legs = list(zip(rolled["order_id"], rolled["symbol"], strict=True))
    return {
        (str(old), str(new)): (price(a), price(b))
        for (a, old), (b, new) in zip(legs[::2], legs[1::2], strict=False)
    }


__all__ = ["ContinuousFutures", "MonthFeed", "replay_frames", "roll_fills"]
