"""Domain values: bars, orders and fills. Plain dataclasses, no I/O.

Facts that never change (a bar, a fill) are frozen; an order is the one mutable record,
because its status moves through a life cycle.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from enum import StrEnum

import pandas as pd


class Side(StrEnum):
    BUY = "BUY"
    SELL = "SELL"

    @property
    def sign(self) -> int:
        return 1 if self is Side.BUY else -1


class OrderType(StrEnum):
    MARKET = "MKT"
    LIMIT = "LMT"
    STOP = "STP"
    STOP_LIMIT = "STP LMT"
    TRAILING_STOP = "TRAIL"
    MARKET_ON_CLOSE = "MOC"
    LIMIT_ON_CLOSE = "LOC"


class TimeInForce(StrEnum):
    DAY = "DAY"
    GTC = "GTC"
    OPG = "OPG"  # the opening auction: market-on-open (MKT) or limit-on-open (LMT)
    GTD = "GTD"  # good till ``Order.good_till``
    IOC = "IOC"  # immediate or cancel: what does not trade at once is cancelled
    FOK = "FOK"  # fill or kill: all at once, or nothing


class OrderStatus(StrEnum):
    PENDING = "pending"  # accepted, waiting for a parent fill or the next bar
    SUBMITTED = "submitted"  # working at the market
    PARTIALLY_FILLED = "partially_filled"
    FILLED = "filled"
    CANCELLED = "cancelled"
    REJECTED = "rejected"
    EXPIRED = "expired"

    @property
    def is_done(self) -> bool:
        return self in DONE_STATES


DONE_STATES = frozenset(
    {OrderStatus.FILLED, OrderStatus.CANCELLED, OrderStatus.REJECTED, OrderStatus.EXPIRED}
)


@dataclass(frozen=True, slots=True)
class Bar:
    """One OHLCV bar; ``time`` is the bar's start, tz-aware UTC."""

    symbol: str
    time: pd.Timestamp
    open: float
    high: float
    low: float
    close: float
    volume: float


@dataclass(slots=True, eq=False)
class Order:
    """An order and its state. ``id`` is our own id (sent to IB as ``orderRef``)."""

    id: str
    symbol: str
    side: Side
    qty: float
    type: OrderType = OrderType.MARKET
    limit: float | None = None
    stop: float | None = None
    trail_amount: float | None = None
    trail_percent: float | None = None
    tif: TimeInForce = TimeInForce.DAY
    created: pd.Timestamp | None = None
    parent_id: str | None = None
    oca_group: str | None = None
    tag: str = ""
    status: OrderStatus = OrderStatus.PENDING
    filled: float = 0.0
    avg_price: float = 0.0
    reason: str = ""
    updated: pd.Timestamp | None = None
    # trailing stops: best price seen since the order started working
    trail_ref: float | None = None
    # stop-limit orders: the stop has been touched and the order now works as a limit
    triggered: bool = False
    # first session day the order could trade; a DAY order expires after it
    day: object = None
    # GTD orders: the moment (tz-aware) the order expires unfilled
    good_till: pd.Timestamp | None = None
    # OCA groups: 1 cancels the others when one fills, 2 reduces them by the filled quantity
    oca_type: int = 1
    # IB algo ("Adaptive" live; a plain order in a backtest and on the simulator) and its priority
    algo: str = ""
    algo_priority: str = ""
    # live: the outsideRth flag the order was sent with (it may trade outside regular hours)
    outside_rth: bool = False

    @property
    def remaining(self) -> float:
        return self.qty - self.filled

    @property
    def is_done(self) -> bool:
        return self.status in DONE_STATES

    @property
    def signed_qty(self) -> float:
        return self.qty * self.side.sign


def market_orders(
    legs: Iterable[tuple[str, float]], tag: str, next_id: Callable[[], str]
) -> list[Order]:
    """Market orders for signed quantities by symbol, tagged with who made them (a roll's two
    legs, a margin call's liquidation): the orders an engine places on its own."""
    return [
        Order(
            id=next_id(),
            symbol=symbol,
            side=Side.BUY if signed > 0 else Side.SELL,
            qty=abs(signed),
            type=OrderType.MARKET,
            tag=tag,
        )
        for symbol, signed in legs
    ]


@dataclass(frozen=True, slots=True)
class Fill:
    """One execution: ``price`` includes slippage; ``commission`` is in account currency."""

    order_id: str
    symbol: str
    side: Side
    qty: float
    price: float
    commission: float
    time: pd.Timestamp
    exec_id: str = ""
    slippage: float = 0.0
    source: str = "backtest"

    @property
    def signed_qty(self) -> float:
        return self.qty * self.side.sign

    @property
    def notional(self) -> float:
        return self.qty * self.price


@dataclass(frozen=True, slots=True)
class Rejection:
    """An order the market or the risk limits refused, recorded and not raised."""

    order_id: str
    symbol: str
    time: pd.Timestamp | None
    reason: str
    details: dict = field(default_factory=dict)
