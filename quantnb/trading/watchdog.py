"""Stale-stream watchdog: notices a symbol whose bars stop coming while its market is open.

IB can stop streaming a symbol without a word: the connection says "connected", no error
arrives, and the strategy silently stops deciding. ``StreamWatchdog`` judges each symbol's
silence in market time, only while its own market is open (its exchange calendar: the NYSE for
US stocks, CME Globex with the daily halt for futures, FX's week; the regular session, or the
extended one for bars that include it): after ``stale_after`` without a completed
bar it asks for the stream again; after another ``stale_after`` the symbol is *stale*. Nothing
is ever made up for a stale symbol: the strategy gets its bars again once real ones arrive.
While IB's market-data farm is broken (notice 2103 until 2104) a new request cannot help, since
IB keeps the subscriptions over a flap: the watchdog waits and reports instead.

``StreamGuard`` runs it for the live engine on the gateway's clock: IB's time on a real gateway
(the wall clock), the market's time on the simulator, so manual-clock tests are deterministic.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import pandas as pd

from quantnb.domain.calendar import open_since
from quantnb.domain.market_hours import open_since as market_open_since
from quantnb.domain.model import Bar
from quantnb.errors import ConfigError

logger = logging.getLogger(__name__)

OK, RESUBSCRIBING, STALE = "ok", "resubscribing", "stale"
DEFAULT_STALE_AFTER = 2.0  # intervals of silence before the stream is asked for again
MAX_BACKOFF = 8  # a stale symbol is asked for again after stale_after x 1, 2, 4, 8, 8, ...
CHECK_EVERY = 1.0  # wall seconds between the guard's checks
_DAY = 86_400

OpenSince = Callable[[pd.Timestamp], pd.Timestamp | None]


def stale_after_delta(value: Any, interval_seconds: int) -> pd.Timedelta | None:
    """``stale_after`` as a duration: a number is a multiple of the bar interval, a string or a
    Timedelta a duration (``"90s"``, ``"3min"``); None or False turns the watchdog off.

    Daily and longer bars get no watchdog (a session's bar completes only at the next one).
    """
    if value is None or value is False:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float | str | pd.Timedelta):
        raise ConfigError(
            f"stale_after={value!r}: a multiple of the bar interval (e.g. 2.0), a duration such "
            "as '90s', or None for no stale-stream watchdog"
        )
    if isinstance(value, int | float):
        delta = pd.Timedelta(seconds=float(value) * interval_seconds)
    else:
        try:
            delta = pd.Timedelta(value)
        except ValueError:
            raise ConfigError(
                f"stale_after={value!r} is not a duration: write e.g. '90s' or '3min', or a "
                "multiple of the bar interval such as 2.0"
            ) from None
    if pd.isna(delta) or delta <= pd.Timedelta(0):
        raise ConfigError(f"stale_after={value!r}: must be positive, e.g. 2.0 intervals or '90s'")
    if interval_seconds >= _DAY:
        logger.info("no stale-stream watchdog for bars of a day or longer")
        return None
    return delta


@dataclass(slots=True)
class StreamState:
    """What the watchdog knows of one symbol's stream; times in ns since the epoch (UTC), so a
    bar costs a few integer operations."""

    symbol: str
    state: str = OK
    since: int | None = None  # silence is counted from here (market time)
    last_end: int | None = None  # end of the newest completed bar seen
    retries: int = 0  # requests made for the stream since its last bar
    pending: bool = False  # a new request is under way: its history does not prove anything

    def heard(self) -> pd.Timestamp | None:
        """The end of the newest completed bar seen, as a time."""
        return None if self.last_end is None else pd.Timestamp(self.last_end, tz="UTC")


@dataclass(frozen=True, slots=True)
class Verdict:
    """What a check found: symbols to ask for again, and symbols that went stale now."""

    resubscribe: tuple[str, ...] = ()
    stale: tuple[str, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.resubscribe or self.stale)


class StreamWatchdog:
    """Pure logic: fed completed bars and asked at moments of market time; no clock, no I/O."""

    def __init__(
        self,
        symbols: Iterable[str],
        interval_seconds: int,
        stale_after: pd.Timedelta,
        *,
        extended_hours: bool = False,
        hours: OpenSince | None = None,
        calendars: Mapping[str, str] | None = None,
    ) -> None:
        self.interval = pd.Timedelta(seconds=interval_seconds)
        self.stale_after = stale_after
        self._interval_ns = self.interval.value
        self._wait_ns = stale_after.value
        self.extended_hours = extended_hours
        self._hours = hours or (lambda t: open_since(t, extended_hours))
        # symbol -> its trading calendar ("CMES", "FX", ...); the others follow ``hours``
        self.calendars = dict(calendars or {})
        self.streams = {s: StreamState(s) for s in symbols}
        self.stale: frozenset[str] = frozenset()
        self._held = True  # silence counts from the first check on
        self._farm_was_broken = False

    def states(self) -> dict[str, str]:
        """Each symbol's state: ``ok``, ``resubscribing`` or ``stale``."""
        return {s: st.state for s, st in self.streams.items()}

    def hold(self) -> None:
        """No judging until the next check, from which silence counts anew (e.g. while the
        connection is down: the reconnect renews every stream)."""
        self._held = True

    def bar(self, symbol: str, time: pd.Timestamp) -> str | None:
        """A completed bar of ``symbol`` starting at ``time`` arrived. Returns the state it was
        in when this bar ends a silence (``resubscribing`` or ``stale``), else None."""
        st = self.streams.get(symbol)
        if st is None:
            return None
        end = time.value + self._interval_ns
        if st.last_end is None or end > st.last_end:
            st.last_end = end
        if st.state == OK:
            if st.since is None or end > st.since:
                st.since = end
            return None
        if st.pending or (st.since is not None and end <= st.since):
            return None  # history of the silence, served with a new request: not the stream
        was = st.state
        st.state, st.since, st.retries = OK, end, 0
        self._stale_changed()
        return was

    def requested(self, symbol: str, at: pd.Timestamp | None) -> None:
        """A new request for ``symbol`` was answered at ``at`` (None: it failed): only bars
        completing after that show the stream is back."""
        st = self.streams.get(symbol)
        if st is None:
            return
        st.pending = False
        if at is not None and (st.since is None or at.value > st.since):
            st.since = at.value

    def check(self, now: pd.Timestamp, *, farm_broken: bool = False) -> Verdict:
        """Judge every stream at market time ``now``; the caller acts on the verdict."""
        t = now.value
        if self._held or (self._farm_was_broken and not farm_broken):
            self._held = False
            for st in self.streams.values():
                if st.since is None or t > st.since:
                    st.since = t
        self._farm_was_broken = farm_broken
        opens = self._opens(now)
        resubscribe: list[str] = []
        stale: list[str] = []
        for st in self.streams.values():
            opened = opens(st.symbol)
            if opened is None:  # its market is closed: silence is expected
                continue
            start = opened.value if st.since is None else max(st.since, opened.value)
            wait = self._wait_ns
            if st.state == STALE:
                wait *= min(2 ** max(st.retries - 1, 0), MAX_BACKOFF)
            if st.pending or t - start <= wait:
                continue
            st.since = t
            if st.state != STALE and (farm_broken or st.state == RESUBSCRIBING):
                st.state = STALE
                stale.append(st.symbol)
            elif not farm_broken:  # silent, or still stale: ask again, less and less often
                st.state = RESUBSCRIBING if st.state == OK else st.state
                st.retries += 1
                st.pending = True
                resubscribe.append(st.symbol)
        if stale:
            self._stale_changed()
        return Verdict(tuple(resubscribe), tuple(stale))

    def warm(self, now: pd.Timestamp) -> None:
        """Work out each market's hours around ``now`` (its calendar is built once and kept), so
        the first check does not build them on the loop thread while bars come in."""
        opens = self._opens(now)
        try:
            for symbol in self.streams:
                opens(symbol)
        except Exception as exc:  # the checks report it; starting goes on
            logger.info("market hours not worked out ahead: %s", exc)

    def _opens(self, now: pd.Timestamp) -> Callable[[str], pd.Timestamp | None]:
        """When each symbol's market opened, asked once per calendar at ``now``."""
        known: dict[str | None, pd.Timestamp | None] = {}

        def opened(symbol: str) -> pd.Timestamp | None:
            name = self.calendars.get(symbol)
            if name not in known:
                known[name] = (
                    self._hours(now)
                    if name is None
                    else market_open_since(name, now, self.extended_hours)
                )
            return known[name]

        return opened

    def _stale_changed(self) -> None:
        self.stale = frozenset(s for s, st in self.streams.items() if st.state == STALE)


class StreamGuard:
    """Runs a ``StreamWatchdog`` against the live feed: checks every ``every`` wall seconds on
    the gateway's clock, asks the feed for silent streams again, and reports."""

    def __init__(
        self,
        watchdog: StreamWatchdog,
        feed: Any,
        *,
        clock: Callable[[], Awaitable[pd.Timestamp]],
        connected: Callable[[], bool],
        report: Callable[[str, str], Any],
        changed: Callable[[], Any],
        every: float = CHECK_EVERY,
    ) -> None:
        self.watchdog = watchdog
        self.feed = feed
        self.every = every
        self._clock, self._connected = clock, connected
        self._report, self._changed = report, changed
        self._lock: asyncio.Lock | None = None
        self._task: asyncio.Task[None] | None = None

    @property
    def stale_count(self) -> int:
        """How many symbols are stale now (their bars are not waited for)."""
        return len(self.watchdog.stale)

    def start(self) -> None:
        """Check periodically on the running loop until ``stop()``."""
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._run())

    def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()

    def saw(self, bar: Bar) -> None:
        """A completed bar reached the engine (O(1); notes a stream that came back)."""
        was = self.watchdog.bar(bar.symbol, bar.time)
        if was is not None:
            st = self.watchdog.streams[bar.symbol]
            self._report(
                f"{bar.symbol} bars are back (the {bar.time:%Y-%m-%d %H:%M} UTC bar) after the "
                f"stream was {was}; no bar was made up for the silence",
                bar.symbol,
            )
            logger.info("%s stream back after %d request(s)", bar.symbol, st.retries)
            self._changed()

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.every)
            try:
                await self.check()
            except asyncio.CancelledError:
                raise
            except Exception:
                logger.exception("stale-stream check failed; continuing")

    async def check(self) -> Verdict:
        """One check now: judge, ask again for silent streams (waiting for the answers), report."""
        if self._lock is None:
            self._lock = asyncio.Lock()
        async with self._lock:
            if not self._connected():
                self.watchdog.hold()
                return Verdict()
            try:
                now = await self._clock()
            except Exception as exc:  # the gateway did not answer: judge next time
                logger.info("no gateway time for the stale-stream check: %s", exc)
                return Verdict()
            farms = tuple(getattr(self.feed, "broken_farms", ()))
            verdict = self.watchdog.check(now, farm_broken=bool(farms))
            if not verdict:
                return verdict
            for symbol in verdict.stale:
                self._report(self._stale_text(symbol, now, farms), symbol)
            for symbol in verdict.resubscribe:
                await self._resubscribe(symbol, now)
            self._changed()
            return verdict

    async def _resubscribe(self, symbol: str, now: pd.Timestamp) -> None:
        last = self.watchdog.streams[symbol].heard()
        heard = f"since {last:%H:%M} UTC" if last is not None else "yet"
        self._report(
            f"no completed {symbol} bar {heard} while the market is open (checked at "
            f"{now:%H:%M:%S} UTC): asking IB for the stream again",
            symbol,
        )
        at = None
        try:
            if await self.feed.resubscribe_async(symbol):
                at = await self._clock()
        except Exception as exc:
            self._report(f"could not ask IB for the {symbol} stream again: {exc}", symbol)
        self.watchdog.requested(symbol, at)

    def _stale_text(self, symbol: str, now: pd.Timestamp, farms: tuple[str, ...]) -> str:
        last = self.watchdog.streams[symbol].heard()
        heard = f"since {last:%Y-%m-%d %H:%M} UTC" if last is not None else "yet"
        why = (
            f"IB's market-data farm is broken ({', '.join(farms)}; notice 2103): it keeps the "
            "subscription and data should resume with notice 2104"
            if farms
            else "asking for the stream again did not help"
        )
        return (
            f"{symbol} is stale: no completed bar {heard} at {now:%Y-%m-%d %H:%M} UTC while the "
            f"market is open; {why}. The strategy gets no {symbol} bars (none are made up) until "
            "they come back"
        )
