"""What is wrong on IB's side right now: stale streams, a broken market-data farm, the login's
market-data permission. Plain state kept in ``SimState`` (it outlives restarts); the server and
the request handlers act on it. The codes and texts are IB's own."""

from __future__ import annotations

from dataclasses import dataclass, field

from quantnb.sim.market import NS, Market

DELAY_NS = 15 * 60 * NS  # US stocks' delayed data is 15 minutes old
_LOOKBACK_NS = 10 * 86_400 * NS  # far enough back to cross a long weekend
FARM_BROKEN = (2103, "Market data farm connection is broken:usfarm")
FARM_OK = (2104, "Market data farm connection is OK:usfarm")

_NOT_SUBSCRIBED = "Requested market data is not subscribed."
# (permission, requested type is delayed) -> (type served or 0 for nothing, error code, text)
_MARKET_DATA: dict[tuple[str, bool], tuple[int, int, str]] = {
    ("live", False): (1, 0, ""),
    ("live", True): (1, 0, ""),  # IB: live data, when available, always wins over delayed
    ("delayed", False): (0, 354, _NOT_SUBSCRIBED + " Delayed market data is available."),
    ("delayed", True): (3, 10167, _NOT_SUBSCRIBED + " Displaying delayed market data."),
    ("none", False): (0, 354, _NOT_SUBSCRIBED),
    ("none", True): (0, 10168, _NOT_SUBSCRIBED + " Delayed market data is not enabled."),
}


def no_permission(exchange: str) -> str:
    """IB's words for a history or bar request of a login without live data on ``exchange``."""
    return f"No market data permissions for {exchange} STK"


@dataclass(slots=True)
class Faults:
    """Faults that belong to IB's servers rather than to one connection."""

    market_data: str = "live"  # the login's permission: "live", "delayed" or "none"
    stalled: set[str] = field(default_factory=set)  # symbols whose stream went quiet
    stall_all: bool = False
    farm_down: bool = False

    def muted(self, symbols: list[str]) -> frozenset[str]:
        """Symbols whose ticks and bars clients do not hear now."""
        if self.farm_down or self.stall_all:
            return frozenset(symbols)
        return frozenset(self.stalled)

    def bars_allowed(self) -> bool:
        """True when the login may have history and 5-second bars: IB serves them only with a
        live subscription (delayed permission gives ticks, never bars)."""
        return self.market_data == "live"

    def serve(self, requested: int) -> tuple[int, int, str]:
        """What a reqMktData gets under market data type ``requested`` (reqMarketDataType):
        ``(type served, error code, text)``; type 0 means no data, code 0 no notice."""
        served, code, text = _MARKET_DATA[(self.market_data, requested in (3, 4))]
        if served == 3 and requested == 4:
            served = 4
        return served, code, text


def delayed_quote(market: Market, symbol: str) -> tuple[float, float, float]:
    """Bid, ask and last as delayed data shows them now: the close of the last bar that ended
    ``DELAY_NS`` ago or earlier, with today's spread around it."""
    cutoff = market.now_ns() - DELAY_NS
    end = cutoff - market.interval_ns + 1
    # the bar just before the cutoff, unless the market was closed then: look further back
    times, values = market.history(symbol, end - 2 * market.interval_ns, end)
    if not len(times):
        times, values = market.history(symbol, cutoff - _LOOKBACK_NS, end)
    last = market.last[symbol]
    then = float(values[3, -1]) if len(times) else last
    bid, ask = market.quote(symbol)
    shift = then - last
    return round(bid + shift, 2), round(ask + shift, 2), then
