"""The IB data feed: canonical history (split, paced, cached) and completed live bars, once each.

While the gateway is unreachable history comes from the ``BarCache`` (fallback mode); when it
returns, the gap is backfilled from history and the subscriptions are renewed. Live bars reach
``on_bar`` first; the cache is written afterwards in batches (``flush_interval``).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from quantnb.data.load import to_canonical
from quantnb.data.sample import time_bounds, to_utc
from quantnb.data.validate import REQUIRED
from quantnb.domain.instrument import Instrument
from quantnb.domain.interval import Interval, ib_duration_for, max_ib_duration
from quantnb.domain.model import Bar
from quantnb.errors import (
    DataError,
    GatewayError,
    NotConnectedError,
    PacingError,
    PermissionsError,
)
from quantnb.ib.cache import BarCache
from quantnb.ib.config import IBConfig
from quantnb.ib.connection import ErrorEvent, IBConnection
from quantnb.ib.loop import LoopThread
from quantnb.ib.pacing import SMALL_BAR_SECONDS, PacingGuard
from quantnb.ib.progress import HistoryProgress
from quantnb.ib.tables import DATA_LOST_CODES, ErrorKind
from quantnb.ib.tick_bars import LAST_TICKS, TickBars

# done of planned, time spent and left, and why it waits (no rate: a few requests make none)
_BAR_FORMAT = (
    "{desc}: {percentage:3.0f}%|{bar}| {n_fmt}/{total_fmt} requests "
    "[{elapsed}<{remaining}{postfix}]"
)

log = logging.getLogger(__name__)

TimeArg = dt.datetime | str | None
BarCallback = Callable[[Bar], Any]
# how much history to ask for when no start is given
_DEFAULT_SPAN_BARS = 500
# seconds between cache writes of live bars (per series)
FLUSH_INTERVAL = 5.0
RETRY_DELAY = 15.0  # seconds before a refused subscription is asked again: IB's pacing window
MAX_RETRY_DELAY = 300.0
# the 162 that answers a valid query for a span without bars: an empty answer, not a refusal
_NO_DATA = "query returned no data"
# the 162 that refuses history to a login without a live subscription: asking again won't help
_NO_PERMISSION = "no market data permission"
TICK_BARS_NOTE = (
    "no market data permissions for history; bars are built from delayed ticks (15 min late), "
    "no lookback"
)
FARM_BROKEN, FARM_OK = 2103, 2104  # "Market data farm connection is broken / OK:<farm>"


@dataclass(slots=True)
class _Subscription:
    symbol: str
    interval: Interval
    callbacks: list[BarCallback] = field(default_factory=list)
    bars: Any = None  # the client's live BarDataList
    last: pd.Timestamp | None = None  # start time of the last bar delivered
    latest: Bar | None = None  # last completed bar
    price: float | None = None  # close of the newest update, complete or not
    retry: float = 0.0  # the last delay before asking again after a refusal
    suspect: bool = False  # the stream may have missed updates (a farm flap): check with history
    checking: asyncio.Future[Any] | None = None  # that check, while under way
    ticker: Any = None  # the tick request whose last trades make the bars, when IB serves no bars
    tick_bars: TickBars | None = None


class LiveDataFeed:
    """Implements ``ILiveDataFeed`` over an ``IBConnection``; ``on_bar`` runs on the loop thread."""

    def __init__(
        self,
        connection: IBConnection,
        cache: BarCache | None = None,
        pacing: PacingGuard | None = None,
        *,
        what_to_show: str = "TRADES",
        use_rth: bool = True,
    ) -> None:
        self.connection = connection
        self.cache = cache if cache is not None else BarCache()
        self.pacing = pacing if pacing is not None else PacingGuard()
        self.what_to_show = what_to_show
        self.use_rth = use_rth
        self._subs: dict[str, _Subscription] = {}
        self._recovering: asyncio.Future[Any] | None = None  # catching up after a farm flap
        self._fallback = False
        self._now_task: asyncio.Future[pd.Timestamp] | None = None
        self._time_lock: asyncio.Lock | None = None
        self.time_timeout = 5.0  # seconds to wait for the gateway's clock before asking again
        self.flush_interval = FLUSH_INTERVAL
        self.retry_delay = RETRY_DELAY
        self.progress: bool | None = None  # None: a bar for downloads over 2 s; False: never
        self.history_progress = HistoryProgress()  # the downloads under way and why they wait
        self.pacing.on_wait = self.history_progress.waiting
        self._refused: dict[int, ErrorEvent] = {}  # request id -> the pacing error that ended it
        self._dirty: dict[str, _Subscription] = {}
        self._flush_timer: asyncio.TimerHandle | None = None
        self._tasks: set[asyncio.Future[Any]] = set()  # background work, referenced until done
        self._flushing: asyncio.Future[Any] | None = None  # the scheduled cache write under way
        self._farms_down: set[str] = set()  # market-data farms IB reports broken (2103 to 2104)
        connection.add_listener(
            on_connected=self._on_connected,
            on_disconnected=self._on_disconnected,
            on_error=self._on_error,
            priority=10,
        )

    @classmethod
    def open(
        cls,
        config: IBConfig | None = None,
        *,
        cache_dir: str | Path | None = None,
        enable_reconnect: bool = True,
    ) -> LiveDataFeed:
        """A connected feed on its own loop thread, for history in a notebook or a script.

        ``config``: where to connect (default: from the QUANTNB_IB_* environment). Call
        ``close()`` when done (or use it as a context manager).
        """
        loop = LoopThread(name="quantnb-feed").start()
        conn = IBConnection(config or IBConfig.from_env(), loop, enable_reconnect=enable_reconnect)
        try:
            conn.connect_blocking()
        except BaseException:
            loop.stop()
            raise
        feed = cls(conn, cache=BarCache(cache_dir))
        feed._own_loop = loop
        return feed

    def close(self) -> None:
        """Write the cache, disconnect, and stop the loop thread if ``open()`` started it."""
        loop = getattr(self, "_own_loop", None)
        try:
            if self.connection.loop_thread.is_running():
                self.flush()
        finally:
            self.connection.disconnect_blocking()
            if loop is not None:
                loop.stop()

    def __enter__(self) -> LiveDataFeed:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ---- history ---------------------------------------------------------------------------
    def get_historical_data(
        self, symbol: str, start: TimeArg, end: TimeArg, interval: str = "1d"
    ) -> pd.DataFrame:
        """Bars of ``symbol`` with ``start <= time <= end`` (blocking; see the async variant)."""
        return self._run(self.get_historical_data_async(symbol, start, end, interval))

    async def get_historical_data_async(
        self, symbol: str | Instrument, start: TimeArg, end: TimeArg, interval: str = "1d"
    ) -> pd.DataFrame:
        """Canonical bars from IB (split into requests IB accepts, paced, cached) or the cache.
        ``symbol`` may be an Instrument (future, FX pair, index); its name keys the bars."""
        symbol = self.connection.contracts.register(symbol)
        iv = Interval.parse(interval)
        lo, stop = time_bounds(start, end)
        if self.connection.is_connected():
            try:
                frame = await self._fetch(symbol, iv, lo, stop)
            except (ConnectionError, NotConnectedError) as exc:
                log.debug("history request for %s failed (%s); trying the cache", symbol, exc)
            else:
                await self._store(symbol, iv, frame)
                return frame
        return await self._from_cache(symbol, iv, lo, stop)

    def get_recent_history(self, symbol: str, days: float, interval: str = "1d") -> pd.DataFrame:
        """Completed bars of the last ``days`` days up to the gateway's clock (blocking)."""
        return self._run(self.get_recent_history_async(symbol, days, interval))

    async def get_recent_history_async(
        self, symbol: str, days: float, interval: str = "1d"
    ) -> pd.DataFrame:
        """Bars of the last ``days`` days; from the cache (its newest bar as "now") when offline."""
        if not (isinstance(days, int | float) and days > 0 and math.isfinite(days)):
            raise DataError(f"days={days!r}: a positive number of days, e.g. 30")
        span = pd.Timedelta(days=days)
        if self.connection.is_connected():
            try:
                end = await self.gateway_time_async()
            except (ConnectionError, NotConnectedError, GatewayError) as exc:
                log.debug("no gateway time for %s (%s); trying the cache", symbol, exc)
            else:
                return await self.get_historical_data_async(symbol, end - span, end, interval)
        iv = Interval.parse(interval)
        cached = await self._load(symbol, iv)
        newest = cached.index[-1] if cached is not None and len(cached) else None
        lo = newest - span + pd.Timedelta(seconds=iv.seconds) if newest is not None else None
        return await self._from_cache(symbol, iv, lo, None, cached)

    def gateway_time(self) -> pd.Timestamp:
        """The gateway's clock in UTC (the simulator's market time) (blocking)."""
        return self._run(self.gateway_time_async())

    async def gateway_time_async(self) -> pd.Timestamp:
        """The gateway's clock in UTC. Concurrent callers share one request on the wire.

        The client keeps a single pending current-time request, so two at once would leave the
        first unanswered: requests are serialised, and one that gets no answer is asked again.
        """
        task = self._now_task
        if task is None or task.done():
            task = self._now_task = asyncio.ensure_future(self._ask_time())
        return await asyncio.shield(task)

    async def _ask_time(self) -> pd.Timestamp:
        if self._time_lock is None:
            self._time_lock = asyncio.Lock()
        async with self._time_lock:
            for _attempt in range(2):
                if not self.connection.is_socket_connected():
                    raise NotConnectedError(
                        f"no gateway time: not connected to {self.connection.config.address}"
                    )
                try:
                    value = await asyncio.wait_for(
                        self.connection.ib.reqCurrentTimeAsync(), self.time_timeout
                    )
                except TimeoutError:
                    log.info("no answer to a current-time request in %.1f s; asking again",
                             self.time_timeout)  # fmt: skip
                    continue
                return to_utc(value, "gateway time")
        raise GatewayError(
            f"the IB gateway at {self.connection.config.address} did not tell its time within "
            f"{2 * self.time_timeout:g} s"
        )

    def get_multiple_symbols(
        self, symbols: Iterable[str], start: TimeArg, end: TimeArg, interval: str = "1d"
    ) -> dict[str, pd.DataFrame]:
        """``get_historical_data`` for each symbol, keyed in the order given."""
        return self._run(self.get_multiple_symbols_async(symbols, start, end, interval))

    async def get_multiple_symbols_async(
        self, symbols: Iterable[str], start: TimeArg, end: TimeArg, interval: str = "1d"
    ) -> dict[str, pd.DataFrame]:
        names = [symbols] if isinstance(symbols, str) else list(symbols)
        frames = await asyncio.gather(
            *(self.get_historical_data_async(s, start, end, interval) for s in names)
        )
        return dict(zip(names, frames))

    def get_ticker_info(self, symbol: str) -> dict[str, Any]:
        """Instrument facts from IB's contract details."""
        return self._run(self.get_ticker_info_async(symbol))

    async def get_ticker_info_async(self, symbol: str) -> dict[str, Any]:
        self.connection.require_connected(f"a contract details request for {symbol!r}")
        d = await self.connection.contracts.details(symbol)
        c = d.contract
        return {
            "symbol": c.symbol,
            "name": d.longName,
            "con_id": c.conId,
            "sec_type": c.secType,
            "exchange": c.exchange,
            "primary_exchange": c.primaryExchange,
            "currency": c.currency,
            "min_tick": d.minTick,
            "industry": d.industry,
            "category": d.category,
            "time_zone": d.timeZoneId,
        }

    async def _fetch(
        self, symbol: str, iv: Interval, lo: pd.Timestamp | None, stop: pd.Timestamp | None
    ) -> pd.DataFrame:
        contract = await self.connection.contracts.qualify(symbol)
        max_span = pd.Timedelta(max_ib_duration(iv))
        now = await self.gateway_time_async()
        end = now if stop is None else min(stop, now + pd.Timedelta(seconds=iv.seconds))
        if lo is None:
            lo = end - min(max_span, pd.Timedelta(seconds=iv.seconds * _DEFAULT_SPAN_BARS))
        frames: list[pd.DataFrame] = []
        chunk_end = end
        step = pd.Timedelta(seconds=iv.seconds)
        requests = math.ceil((end - lo) / max_span)
        bar = self._progress(requests, f"{symbol} {iv} history")
        download = self.history_progress.begin(requests, bar)
        try:
            while chunk_end > lo:
                # IB leaves out a bar starting at the end time: ask one bar further (not past now)
                ask_end = max(min(chunk_end + step, now), chunk_end)
                span = min(max_span, ask_end - lo)
                bars = await self._request(contract, symbol, iv, ask_end, span)
                frames.append(_bars_frame(bars))
                chunk_end = ask_end - span
                self.history_progress.step(download)
        finally:
            self.history_progress.end(download)  # closes the bar
        frame = _join(frames)
        # a bar still in progress at the gateway's now is not history yet
        done = frame.index + pd.Timedelta(seconds=iv.seconds) <= now
        frame = frame[(frame.index >= lo) & (frame.index < end) & done]
        out = to_canonical(frame, symbol)
        out.attrs["interval"] = iv.name
        out.attrs["source"] = "history"
        return out

    def _progress(self, requests: int, desc: str) -> Any:
        """A progress bar for a download of several requests; shown once it takes over 2 s."""
        if requests < 2 or self.progress is False:
            return None
        from tqdm.auto import tqdm

        return tqdm(total=requests, desc=desc, unit="request", delay=0 if self.progress else 2.0,
                    leave=False, bar_format=_BAR_FORMAT)  # fmt: skip

    async def _request(
        self, contract: Any, symbol: str, iv: Interval, end: pd.Timestamp, span: pd.Timedelta
    ) -> Any:
        end_text = end.tz_convert("UTC").strftime("%Y%m%d %H:%M:%S") + " UTC"
        duration = ib_duration_for(span, iv)
        what = self.connection.contracts.what_to_show(symbol, self.what_to_show)
        key = (symbol, iv.name, end_text, duration, what, self.use_rth)
        ib = self.connection.ib

        async def request() -> Any:
            token = object()
            self.history_progress.asked(id(token))
            try:
                bars = await ib.reqHistoricalDataAsync(
                    contract,
                    endDateTime=end_text,
                    durationStr=duration,
                    barSizeSetting=iv.ib_bar_size,
                    whatToShow=what,
                    useRTH=self.use_rth,
                    formatDate=2,
                )
            finally:
                self.history_progress.answered(id(token))
            refusal = self._refusal(bars)
            if refusal is not None and _NO_PERMISSION in refusal.message.lower():
                raise PermissionsError(
                    f"{symbol}: {TICK_BARS_NOTE} (IB error {refusal.code}: {refusal.message})"
                )
            if refusal is not None:
                # raised, so the pacing guard never serves the refusal as an answer
                raise PacingError(
                    f"IB refused the history request for {symbol} {iv} ({duration} up to "
                    f"{end_text}) with error {refusal.code}: {refusal.message}. Wait for IB's "
                    "pacing window (up to 10 minutes) and retry, or ask for a shorter range"
                )
            return bars

        bars = await self.pacing.fetch(
            key,
            request,
            group=symbol,
            paced=iv.seconds <= SMALL_BAR_SECONDS,
            weight=2 if self.what_to_show.upper() == "BID_ASK" else 1,
        )
        if bars is None:
            raise GatewayError(f"IB returned no answer to the history request {key}")
        return bars

    def _refusal(self, bars: Any) -> ErrorEvent | None:
        """The error that ended the request behind ``bars``, if IB refused it.

        The client ends a refused request with an empty list and no exception; ``_on_error``
        remembers the error by request id. IB's "no data" answer is an empty result, not a
        refusal.
        """
        event = self._refused.pop(getattr(bars, "reqId", -1), None)
        if event is None or _NO_DATA in event.message.lower():
            return None
        return event

    async def _store(self, symbol: str, iv: Interval, frame: pd.DataFrame) -> None:
        """Write fetched history to the cache in a worker thread (the loop never waits on disk)."""
        await asyncio.to_thread(self.cache.store, symbol, iv, frame, "history")

    async def _load(self, symbol: str, iv: Interval) -> pd.DataFrame | None:
        """The cached bars of a series, delivered ones included, read in a worker thread."""
        await self._flush_symbol(symbol)
        return await asyncio.to_thread(self.cache.load, symbol, iv)

    async def _from_cache(
        self,
        symbol: str,
        iv: Interval,
        lo: pd.Timestamp | None,
        stop: pd.Timestamp | None,
        cached: pd.DataFrame | None = None,
    ) -> pd.DataFrame:
        if cached is None:
            cached = await self._load(symbol, iv)
        self._enter_fallback(f"history of {symbol} {iv} requested")
        if cached is None or not len(cached):
            raise NotConnectedError(
                f"no bars for {symbol} {iv}: the IB gateway at {self.connection.config.address} "
                "is not connected and the bar cache holds none. Start the gateway and retry"
            )
        if lo is not None:
            cached = cached[cached.index >= lo]
        if stop is not None:
            cached = cached[cached.index < stop]
        out = to_canonical(cached[list(REQUIRED)], symbol)
        out.attrs["interval"] = iv.name
        out.attrs["source"] = "cache"
        return out

    # ---- streaming -------------------------------------------------------------------------
    def subscribe(
        self,
        symbols: Iterable[str],
        interval: str = "1m",
        on_bar: BarCallback | None = None,
        since: pd.Timestamp | dt.datetime | str | None = None,
    ) -> None:
        """Stream completed ``interval`` bars of ``symbols`` to ``on_bar`` (blocking)."""
        self._run(self.subscribe_async(symbols, interval, on_bar, since))

    async def subscribe_async(
        self,
        symbols: Iterable[str],
        interval: str = "1m",
        on_bar: BarCallback | None = None,
        since: pd.Timestamp | dt.datetime | str | None = None,
    ) -> None:
        """Live bars: each completed bar newer than ``since`` goes to ``on_bar`` exactly once.

        A symbol that cannot be subscribed (unknown, refused) raises and is not kept.
        """
        iv = Interval.parse(interval)
        items = [symbols] if isinstance(symbols, str | Instrument) else list(symbols)
        names = [self.connection.contracts.register(s) for s in items]
        after = to_utc(since, "since") if since is not None else None
        for symbol in names:
            sub = self._subs.get(symbol)
            if sub is not None and sub.interval != iv:
                await self._cancel(sub)
                sub = None
            created = sub is None
            if sub is None:
                sub = self._subs[symbol] = _Subscription(symbol, iv, last=after)
            added = on_bar is not None and on_bar not in sub.callbacks
            if added:
                sub.callbacks.append(on_bar)  # type: ignore[arg-type]
            if sub.bars is None and sub.ticker is None and self.connection.is_socket_connected():
                try:
                    await self._start(sub)
                except BaseException:
                    if created and self._subs.get(symbol) is sub:
                        del self._subs[symbol]
                    elif added:
                        sub.callbacks.remove(on_bar)  # type: ignore[arg-type]
                    raise
            elif sub.bars is None:
                self._enter_fallback(f"subscription to {symbol} {iv} waits for the gateway")

    def unsubscribe(self, symbols: Iterable[str]) -> None:
        """Stop streaming ``symbols`` (their delivered bars are written to the cache)."""
        self._run(self.unsubscribe_async(symbols))

    async def unsubscribe_async(self, symbols: Iterable[str]) -> None:
        names = [symbols] if isinstance(symbols, str) else list(symbols)
        for symbol in names:
            sub = self._subs.pop(symbol, None)
            if sub is not None:
                await self._cancel(sub)

    def flush(self) -> int:
        """Write every delivered bar not yet in the cache now; returns how many (blocking)."""
        return self._run(self.flush_async())

    async def flush_async(self) -> int:
        return await self._flush_all()

    def get_latest_price(self, symbol: str) -> float | None:
        """Close of the newest update of ``symbol`` (the bar in progress counts)."""
        sub = self._subs.get(symbol)
        if sub is not None and sub.price is not None:
            return sub.price
        bar = self.get_latest_bar(symbol)
        return bar.close if bar is not None else None

    def get_latest_bar(self, symbol: str) -> Bar | None:
        """The newest completed bar of ``symbol`` seen by this feed."""
        sub = self._subs.get(symbol)
        return sub.latest if sub is not None else None

    async def resubscribe_async(self, symbol: str) -> bool:
        """Ask IB for ``symbol``'s stream again (the old request cancelled, the gap backfilled),
        for a stream that went quiet without an error. False when the gateway is not connected
        or IB refused (asked again later)."""
        sub = self._subs.get(symbol)
        if sub is None:
            raise DataError(f"{symbol!r} is not subscribed; subscribed: {sorted(self._subs)}")
        if not self.connection.is_socket_connected():
            return False
        log.warning("asking IB for the %s %s stream again", symbol, sub.interval)
        await self._start(sub)
        return sub.bars is not None

    @property
    def broken_farms(self) -> tuple[str, ...]:
        """Market-data farms IB reports broken now (notice 2103, until 2104). IB keeps the
        subscriptions over such a flap: data resumes on them, nothing is asked again."""
        return tuple(sorted(self._farms_down))

    @property
    def subscriptions(self) -> dict[str, str]:
        """Subscribed symbols and their intervals."""
        return {s: sub.interval.name for s, sub in self._subs.items()}

    def reconnect(self) -> bool:
        """Make sure the gateway is connected (waiting for a reconnect under way); True if so."""
        return self._run(self.reconnect_async())

    async def reconnect_async(self) -> bool:
        conn = self.connection
        if conn.is_connected():
            return True
        if conn.state in ("reconnecting", "connecting"):
            deadline = asyncio.get_running_loop().time() + conn.config.timeout
            while not conn.is_connected() and asyncio.get_running_loop().time() < deadline:
                await asyncio.sleep(0.05)
            return conn.is_connected()
        try:
            await conn.connect()
        except GatewayError as exc:
            self._enter_fallback(str(exc))
            return False
        return conn.is_connected()

    def is_fallback_mode(self) -> bool:
        """True while history comes from the cache because the gateway is unreachable."""
        return self._fallback

    # ---- subscription plumbing -------------------------------------------------------------
    async def _start(self, sub: _Subscription) -> None:
        """Request keep-up-to-date bars covering the gap since the last delivered bar.

        A request still open for ``sub`` (a renewal after 1101, a retry) is cancelled first, so
        the gateway never streams one series twice.
        """
        self._cancel_request(sub)
        contract = await self.connection.contracts.qualify(sub.symbol)
        iv = sub.interval
        step = pd.Timedelta(seconds=iv.seconds)
        max_span = pd.Timedelta(max_ib_duration(iv))
        span = step * 3
        # asked before the bars: a bar that ended by then is complete in the answer
        now = await self.gateway_time_async()
        if sub.last is not None:
            gap = now - sub.last + step * 2
            if gap > max_span:
                await self._backfill_long(sub, now - max_span)
                gap = max_span
            span = max(span, gap)
        bars = await self.connection.ib.reqHistoricalDataAsync(
            contract,
            endDateTime="",
            durationStr=ib_duration_for(span, iv),
            barSizeSetting=iv.ib_bar_size,
            whatToShow=self.connection.contracts.what_to_show(sub.symbol, self.what_to_show),
            useRTH=self.use_rth,
            formatDate=2,
            keepUpToDate=True,
        )
        refusal = self._refusal(bars)
        if refusal is not None and _NO_PERMISSION in refusal.message.lower():
            await self._start_ticks(sub, contract, refusal)
            return
        if refusal is not None:
            # the client ends a refused request with no bars and no error: ask again later
            with contextlib.suppress(Exception):
                self.connection.ib.cancelHistoricalData(bars)
            self._retry_later(sub, refusal)
            return
        self._cancel_request(sub)  # another start for ``sub`` answered meanwhile: keep one
        sub.bars = bars
        sub.retry, sub.suspect = 0.0, False
        n = _complete_count(bars, now, step)
        if sub.last is None and n:
            # a fresh subscription streams from now on; earlier bars are history
            sub.last = _bar_time(bars[n - 1])
            sub.latest = _to_bar(sub.symbol, bars[n - 1])
        self._deliver(sub, bars, n, "history")
        if len(bars):
            sub.price = float(bars[-1].close)
        bars.updateEvent += self._updater(sub)
        log.info("streaming %s %s bars", sub.symbol, iv)

    async def _start_ticks(self, sub: _Subscription, contract: Any, refusal: ErrorEvent) -> None:
        """IB serves this login no bars: build them from delayed ticks (see ``tick_bars``)."""
        log.warning("%s: %s (IB error %d: %s)", sub.symbol, TICK_BARS_NOTE, refusal.code,
                    refusal.message)  # fmt: skip
        self.connection.market_data.use_delayed()
        if sub.tick_bars is None:
            sub.tick_bars = TickBars(sub.symbol, sub.interval.seconds)
        ticker = self.connection.ib.reqMktData(contract, "", False, False)
        sub.ticker = ticker
        ticker.updateEvent += self._tick_updater(sub, ticker)

    def _tick_updater(self, sub: _Subscription, ticker: Any) -> Callable[..., None]:
        def on_ticks(_ticker: Any) -> None:
            if sub.ticker is not ticker:
                return
            trades = [(float(t.price), float(t.size or 0)) for t in ticker.ticks
                      if t.tickType in LAST_TICKS]  # fmt: skip
            if trades:
                self._spawn(self._add_ticks(sub, ticker, trades))

        return on_ticks

    async def _add_ticks(self, sub: _Subscription, ticker: Any, trades: list) -> None:
        """Stamp the trades with the gateway's clock (the client's stamps are the wall clock,
        not the simulator's market time) and pass on each bar they complete."""
        try:
            now = await self.gateway_time_async()
        except (GatewayError, ConnectionError, OSError) as exc:
            log.info("%s: delayed ticks left out, no gateway time (%s)", sub.symbol, exc)
            return
        if sub.ticker is not ticker or sub.tick_bars is None:
            return
        for price, size in trades:
            sub.price = price
            bar = sub.tick_bars.add(now, price, size)
            if bar is not None and (sub.last is None or bar.time > sub.last):
                # not cached: 15-minute-old prices must never pass for the bars of their label
                self._emit(sub, [bar], "live", persist=False)

    async def _backfill_long(self, sub: _Subscription, until: pd.Timestamp) -> None:
        assert sub.last is not None
        lo = sub.last + pd.Timedelta(seconds=sub.interval.seconds)
        if lo >= until:
            return
        frame = await self._fetch(sub.symbol, sub.interval, lo, until)
        await self._store(sub.symbol, sub.interval, frame)
        self._deliver_frame(sub, frame)

    def _updater(self, sub: _Subscription) -> Callable[..., None]:
        step = dt.timedelta(seconds=sub.interval.seconds)

        def on_update(bars: Any, has_new_bar: bool) -> None:
            if bars is not sub.bars:
                return
            n = len(bars)
            if not n:
                return
            sub.price = float(bars[n - 1].close)
            if has_new_bar and n >= 2:
                if sub.checking is not None or self._recovering is not None:
                    return  # delivered once the check is done
                if sub.suspect:
                    self._recovering = self._spawn(self._recover(_bar_time(bars[n - 1])))
                    return
                if _later(bars[n - 1], bars[n - 2], step):
                    sub.checking = self._spawn(self._check_gap(sub, bars))
                    return
                self._deliver(sub, bars, n - 1, "live")

        return on_update

    async def _recover(self, newest: pd.Timestamp) -> None:
        """After a market-data farm flap every stream may have missed updates: fetch the bars
        before ``newest`` (the bar in progress when data came back) of every such stream at once
        and hand them out in time order across symbols, so the bars of one time stay together
        (one symbol's catch-up never runs ahead of another's)."""
        subs = [sub for sub in self._subs.values() if sub.suspect and sub.bars is not None]
        try:
            frames = await asyncio.gather(
                *(self._recovery_frame(sub, newest) for sub in subs), return_exceptions=True
            )
            rows: list[tuple[pd.Timestamp, int, _Subscription, pd.DataFrame]] = []
            for k, (sub, frame) in enumerate(zip(subs, frames, strict=True)):
                sub.suspect = False
                if isinstance(frame, BaseException):
                    log.warning("%s %s: bars before %s not checked with history (%s); left out",
                                sub.symbol, sub.interval, newest, frame)  # fmt: skip
                    continue
                keep = frame[frame.index < newest]
                if sub.last is not None:
                    keep = keep[keep.index > sub.last]
                rows += [(t, k, sub, keep.loc[[t]]) for t in keep.index]
            for _, _, sub, row in sorted(rows, key=lambda r: (r[0], r[1])):
                self._deliver_frame(sub, row)
            for sub in subs:
                step = pd.Timedelta(seconds=sub.interval.seconds)
                if sub.last is None or sub.last < newest - step:
                    sub.last = newest - step  # what the stream left in progress is not passed on
        finally:
            self._recovering = None
        for sub in subs:
            bars = sub.bars
            if bars is not None and len(bars) >= 2:
                self._deliver(sub, bars, len(bars) - 1, "live")
        for sub, frame in zip(subs, frames, strict=True):
            if not isinstance(frame, BaseException) and len(frame):
                await self._store(sub.symbol, sub.interval, frame)

    async def _recovery_frame(self, sub: _Subscription, newest: pd.Timestamp) -> pd.DataFrame:
        step = pd.Timedelta(seconds=sub.interval.seconds)
        lo = sub.last + step if sub.last is not None else newest - step
        return await self._fetch(sub.symbol, sub.interval, lo, newest)

    async def _check_gap(self, sub: _Subscription, bars: Any) -> None:
        """The stream skipped bars, or the farm broke meanwhile: the last update heard of the
        bar then in progress may be partial. Deliver the bars since the last one from history
        instead (none when history cannot tell: a partial bar is never passed on as complete)."""
        step = pd.Timedelta(seconds=sub.interval.seconds)
        newest = _bar_time(bars[len(bars) - 1])  # in progress when the stream was heard again
        frame = None
        try:
            try:
                lo = sub.last + step if sub.last is not None else newest - step
                frame = await self._fetch(sub.symbol, sub.interval, lo, newest)
            except Exception as exc:
                log.warning("%s %s: bars before %s not checked with history (%s); left out",
                            sub.symbol, sub.interval, newest, exc)  # fmt: skip
            if sub.bars is not bars:
                return  # renewed meanwhile, with its own backfill
            sub.suspect = False
            if frame is not None:
                self._deliver_frame(sub, frame[frame.index < newest])
            if sub.last is None or sub.last < newest - step:
                sub.last = newest - step  # what the stream left in progress is not passed on
        finally:
            sub.checking = None
        n = len(bars)
        if n >= 2:
            self._deliver(sub, bars, n - 1, "live")
        if frame is not None and len(frame):
            await self._store(sub.symbol, sub.interval, frame)

    def _deliver(self, sub: _Subscription, bars: Any, n: int, source: str) -> None:
        """Send the completed ``bars[:n]`` newer than the last delivered one, oldest first.

        Walks back from the newest, so an update costs O(new bars), not O(all bars).
        """
        last = sub.last
        out: list[Bar] = []
        i = n
        while i > 0:
            t = _bar_time(bars[i - 1])
            if last is not None and t <= last:
                break
            i -= 1
            out.append(_to_bar(sub.symbol, bars[i], t))
        if out:
            out.reverse()
            self._emit(sub, out, source)

    def _deliver_frame(self, sub: _Subscription, frame: pd.DataFrame) -> None:
        rows = frame[frame.index > sub.last] if sub.last is not None else frame
        out = [
            Bar(sub.symbol, t, r.open, r.high, r.low, r.close, r.volume)
            for t, r in zip(rows.index, rows.itertuples(index=False))
        ]
        self._emit(sub, out, "history", persist=False)

    def _emit(self, sub: _Subscription, bars: list[Bar], source: str, persist: bool = True) -> None:
        """Hand each bar to the callbacks, then buffer it for the cache (written later)."""
        for bar in bars:
            sub.last = bar.time
            sub.latest = bar
            for callback in list(sub.callbacks):
                try:
                    callback(bar)
                except Exception:
                    log.exception("on_bar callback %r failed for %s", callback, bar)
        if persist and bars:
            self.cache.append(sub.symbol, sub.interval, bars, source)
            self._dirty[sub.symbol] = sub
            if self._flush_timer is None:
                loop = asyncio.get_running_loop()
                self._flush_timer = loop.call_later(self.flush_interval, self._flush_due)

    def _flush_due(self) -> None:
        self._flush_timer = None
        self._flushing = self._spawn(self._flush_gradually())

    def _spawn(self, coro: Any) -> asyncio.Future[Any]:
        """Run ``coro`` in the background, keeping a reference until it is done."""
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def _flush_gradually(self) -> None:
        """Write the dirty series in a worker thread, so the loop never waits for the disk."""
        for symbol in list(self._dirty):
            sub = self._dirty.pop(symbol, None)
            if sub is not None:
                await asyncio.to_thread(self._write_sub, sub)

    async def _flush_sub(self, sub: _Subscription) -> int:
        if self._dirty.get(sub.symbol) is sub:
            del self._dirty[sub.symbol]
        return await asyncio.to_thread(self._write_sub, sub)

    def _write_sub(self, sub: _Subscription) -> int:
        try:
            return self.cache.flush(sub.symbol, sub.interval)
        except (OSError, ValueError, DataError) as exc:
            # the bars stay buffered in the cache (load still sees them); retried next time
            log.error("could not write the bar cache of %s %s: %s", sub.symbol, sub.interval, exc)
            return 0

    async def _flush_all(self) -> int:
        if self._flush_timer is not None:
            self._flush_timer.cancel()
            self._flush_timer = None
        if self._flushing is not None and not self._flushing.done():
            # its series have left ``_dirty`` already: wait for the write itself
            await asyncio.gather(asyncio.shield(self._flushing), return_exceptions=True)
        written = 0
        for sub in list(self._dirty.values()):
            written += await self._flush_sub(sub)
        return written

    async def _flush_symbol(self, symbol: str) -> None:
        sub = self._dirty.get(symbol)
        if sub is not None:
            await self._flush_sub(sub)

    async def _cancel(self, sub: _Subscription) -> None:
        self._cancel_request(sub)
        await self._flush_sub(sub)

    def _cancel_request(self, sub: _Subscription) -> None:
        """Forget ``sub``'s keep-up-to-date request and cancel it at the gateway if reachable."""
        bars, sub.bars = sub.bars, None
        ticker, sub.ticker = sub.ticker, None
        if bars is not None and self.connection.is_socket_connected():
            with contextlib.suppress(ConnectionError, OSError):
                self.connection.ib.cancelHistoricalData(bars)
        if ticker is not None and self.connection.is_socket_connected():
            with contextlib.suppress(ConnectionError, OSError):
                self.connection.ib.cancelMktData(ticker.contract)

    async def _resubscribe(self) -> None:
        for sub in list(self._subs.values()):
            if not self.connection.is_socket_connected():
                return
            try:
                await self._start(sub)
            except (TimeoutError, DataError, GatewayError, ConnectionError) as exc:
                log.error("could not resubscribe %s %s: %s", sub.symbol, sub.interval, exc)

    # ---- connection events -----------------------------------------------------------------
    async def _on_connected(self, reconnected: bool) -> None:
        if reconnected:
            self.pacing.clear()  # the gateway's data may have changed while we were away
        if self._subs:
            await self._resubscribe()
        if self._fallback:
            self._fallback = False
            log.info("IB gateway %s is back: left fallback mode (gap backfilled, %d "
                     "subscription(s) renewed)", self.connection.config.address,
                     len(self._subs))  # fmt: skip

    async def _on_disconnected(self) -> None:
        self._farms_down.clear()  # the next connection's notices tell again
        for sub in self._subs.values():
            sub.bars = sub.ticker = None
        if self.connection.state != "stopped":
            self._enter_fallback("connection lost")
        await self._flush_all()  # the cache serves history while the gateway is away

    def _retry_later(self, sub: _Subscription, why: object) -> None:
        delay = min(max(self.retry_delay, sub.retry * 2), MAX_RETRY_DELAY)
        sub.retry = delay
        log.warning("subscription to %s %s refused (%s); asking again in %.3g s", sub.symbol,
                    sub.interval, why, delay)  # fmt: skip
        asyncio.get_running_loop().call_later(delay, lambda: self._spawn(self._retry(sub)))

    async def _retry(self, sub: _Subscription) -> None:
        if self._subs.get(sub.symbol) is not sub or sub.bars is not None:
            return  # unsubscribed or renewed meanwhile
        if not self.connection.is_socket_connected():
            return  # renewed with the others when the connection returns
        try:
            await self._start(sub)
        except Exception as exc:
            self._retry_later(sub, exc)

    def _on_error(self, event: ErrorEvent) -> None:
        if (event.kind is ErrorKind.PACING or event.code == 162) and event.req_id >= 0:
            self._refused[event.req_id] = event
            while len(self._refused) > 100:
                del self._refused[next(iter(self._refused))]
        if event.code in (FARM_BROKEN, FARM_OK):
            farm = event.message.rpartition(":")[2].strip() or "market data"
            if event.code == FARM_BROKEN:
                self._farms_down.add(farm)
                for sub in self._subs.values():
                    sub.suspect = True
                log.warning("IB's market-data farm %s is broken (2103): no data until 2104", farm)
            elif farm in self._farms_down:
                self._farms_down.discard(farm)
                log.info("IB's market-data farm %s is back (2104)", farm)
        if event.code in DATA_LOST_CODES and self._subs:
            log.warning("IB reports market data lost (%d); renewing subscriptions", event.code)
            self._spawn(self._resubscribe())

    def _enter_fallback(self, why: str) -> None:
        if not self._fallback:
            self._fallback = True
            log.warning("IB gateway %s unreachable (%s): fallback mode, history from the bar "
                        "cache", self.connection.config.address, why)  # fmt: skip

    def _run(self, coro: Any) -> Any:
        timeout = max(60.0, self.connection.config.timeout * 6)
        return self.connection.loop_thread.run(coro, timeout=timeout)


# ---- pure helpers ----------------------------------------------------------------------------
def _complete_count(bars: Any, now: pd.Timestamp, step: pd.Timedelta) -> int:
    """How many leading ``bars`` are complete at ``now``: IB's last bar is the one in progress,
    unless it ended by ``now`` (an answer at a bar boundary, as the manual simulator gives)."""
    n = len(bars)
    if n and _bar_time(bars[n - 1]) + step > now:
        n -= 1
    return n


def _later(bar: Any, before: Any, step: dt.timedelta) -> bool:
    """True when ``bar`` starts more than one ``step`` after ``before``: bars were skipped."""
    try:
        return bar.date - before.date > step
    except TypeError:  # dates of another kind: compare as times
        return _bar_time(bar) - _bar_time(before) > pd.Timedelta(step)


_UTC_TIMES: dict[dt.datetime, pd.Timestamp] = {}  # bar datetime -> its UTC Timestamp


def _bar_time(bar: Any) -> pd.Timestamp:
    """A client bar's start time in UTC: datetimes converted, dates at 00:00 UTC."""
    date = bar.date if hasattr(bar, "date") else bar.time
    if isinstance(date, dt.datetime):
        # every symbol's bar of a time step has the same start: convert it once, not per bar
        ts = _UTC_TIMES.get(date)
        if ts is None:
            if len(_UTC_TIMES) >= 256:
                _UTC_TIMES.clear()
            ts = _UTC_TIMES[date] = to_utc(date, "bar time")
        return ts
    if isinstance(date, dt.date):
        return pd.Timestamp(date.year, date.month, date.day, tz="UTC")
    if isinstance(date, int | float | np.integer):
        return pd.Timestamp(int(date), unit="s", tz="UTC")
    return to_utc(str(date), "bar time")


def _to_bar(symbol: str, bar: Any, time: pd.Timestamp | None = None) -> Bar:
    """A client bar as ours; ``time``: its ``_bar_time`` when known already."""
    volume = float(bar.volume) if bar.volume is not None else 0.0
    return Bar(
        symbol,
        _bar_time(bar) if time is None else time,
        float(bar.open),
        float(bar.high),
        float(bar.low),
        float(bar.close),
        max(volume, 0.0),
    )


def _bars_frame(bars: Any) -> pd.DataFrame:
    """Client bars as an OHLCV frame on a UTC index (any client or pandas version)."""
    rows = list(bars)
    index = pd.DatetimeIndex([_bar_time(b) for b in rows], tz="UTC", name="time").as_unit("ns")
    data = {
        name: np.array([float(getattr(b, name)) for b in rows], dtype=np.float64)
        for name in ("open", "high", "low", "close", "volume")
    }
    data["volume"] = np.clip(data["volume"], 0.0, None)  # IB sends -1 when it has no volume
    return pd.DataFrame(data, index=index)


def _join(frames: list[pd.DataFrame]) -> pd.DataFrame:
    frames = [f for f in frames if len(f)]
    if not frames:
        return _bars_frame([])
    both = pd.concat(frames)
    return both[~both.index.duplicated(keep="first")].sort_index()
