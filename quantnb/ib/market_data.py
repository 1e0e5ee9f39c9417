"""Which market data a login gets: live when it has the subscription, else delayed, with a note.

IB answers a live-data request of a login without the subscription with error 354 (or 10089,
10090, 10186) "...not subscribed. Delayed market data is available.": the connection then asks
for delayed data (``reqMarketDataType(3)``, again after every reconnect, as the type is per
connection) and notes it per symbol ("AAPL: delayed market data (15 min)"). IB serves history
and bars only with a live subscription (error 162 otherwise): the feed then builds bars from
delayed ticks.
"""

from __future__ import annotations

import asyncio
import logging
import math
from typing import TYPE_CHECKING, Any

from quantnb.ib.tables import ErrorKind

if TYPE_CHECKING:
    from quantnb.ib.connection import ErrorEvent, IBConnection

log = logging.getLogger(__name__)

DELAYED = 3  # reqMarketDataType: 1 live, 2 frozen, 3 delayed, 4 delayed-frozen
NOT_SUBSCRIBED_CODES = frozenset({354, 10089, 10090, 10186})
DELAYED_SHOWN = 10167  # "...Displaying delayed market data."
DELAYED_DISABLED = 10168  # "...Delayed market data is not enabled."
_DELAYED_AVAILABLE = "delayed market data is available"
_NO_BARS = "no market data permissions for history"
DELAYED_NOTE = "delayed market data (15 min): live data is not subscribed"


class MarketDataMode:
    """Watches one connection's market-data errors; switches it to delayed data when IB offers
    only that, and keeps a note per symbol for the status."""

    def __init__(self, connection: IBConnection) -> None:
        self.connection = connection
        self.delayed = False  # asked for delayed data; kept over reconnects
        self.switches = 0  # how often the type was switched: a request made before may retry
        self.notes: dict[str, str] = {}  # symbol -> what its data is, when not live
        connection.add_listener(
            on_connected=self._on_connected, on_error=self._on_error, priority=5
        )

    def summary(self) -> str | None:
        """The notes in one line ("AAPL: delayed market data (15 min)"), None when all is live."""
        return "; ".join(self.notes[s] for s in sorted(self.notes)) or None

    def use_delayed(self) -> None:
        """Ask for delayed data where live is not subscribed (live still wins where it is)."""
        if self.delayed:
            return
        self.delayed = True
        self.switches += 1
        log.warning("live market data is not subscribed: asking IB for delayed data (15 min)")
        self._send_type()

    async def snapshot(self, contract: Any, timeout: float = 3.0) -> float | None:
        """A price of ``contract`` from a tick snapshot; asked again with delayed data if IB
        refused live data meanwhile. None when there is none."""
        ib = self.connection.ib
        for _attempt in range(2):
            switches = self.switches
            try:
                tickers = await asyncio.wait_for(ib.reqTickersAsync(contract), timeout)
            except (TimeoutError, ConnectionError, OSError) as exc:
                log.debug("no snapshot price for %s: %s", contract.symbol, exc)
                return None
            price = _price(tickers[0]) if tickers else None
            if price is not None or self.switches == switches:
                return price
        return None

    # ---- connection events -----------------------------------------------------------------
    async def _on_connected(self, reconnected: bool) -> None:
        if self.delayed:
            self._send_type()

    def _send_type(self) -> None:
        if self.connection.is_socket_connected():
            try:
                self.connection.ib.reqMarketDataType(DELAYED)
            except (ConnectionError, OSError) as exc:  # sent again at the next connect
                log.info("reqMarketDataType not sent: %s", exc)

    def _on_error(self, event: ErrorEvent) -> None:
        what, delayed = read_permission_error(event.code, event.message)
        if what is not None:
            self._note(event, what)
        if delayed:
            self.use_delayed()

    def _note(self, event: ErrorEvent, what: str) -> None:
        symbol = event.symbol or "market data"
        note = f"{symbol}: {what}"
        held = self.notes.get(symbol, "")
        if held == note or (what == DELAYED_NOTE and held.startswith(f"{symbol}: {_NO_BARS}")):
            return  # the note on bars says delayed already, and why there is no lookback
        self.notes[symbol] = note
        log.warning("%s", note)
        from quantnb.ib.connection import ErrorEvent

        notice = ErrorEvent(event.req_id, 0, ErrorKind.MARKET_DATA, note, symbol)
        self.connection._emit_error(notice)


def read_permission_error(code: int, message: str) -> tuple[str | None, bool]:
    """What an IB error says about the login's market data: (the note, or None when it says
    nothing of it; True when delayed data is offered instead of live)."""
    text = message.lower()
    if code in NOT_SUBSCRIBED_CODES and _DELAYED_AVAILABLE in text:
        return DELAYED_NOTE, True
    if code == DELAYED_SHOWN:
        return DELAYED_NOTE, False
    if code == DELAYED_DISABLED or code in NOT_SUBSCRIBED_CODES:
        return f"no market data, live or delayed (IB error {code}: {message})", False
    if code == 162 and "no market data permission" in text:
        return (
            f"{_NO_BARS}; bars are built from delayed ticks "
            f"(15 min late), no lookback (IB error {code}: {message}); for live bars subscribe "
            "to this exchange's data, or share the live account's subscriptions with the paper "
            "account"
        ), False
    return None, False


def _price(ticker: Any) -> float | None:
    for value in (ticker.marketPrice(), ticker.last, ticker.close):
        if value is not None and math.isfinite(value) and value > 0:
            return float(value)
    return None
