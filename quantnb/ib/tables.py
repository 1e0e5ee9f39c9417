"""Translation between quantnb and IB, kept as data: status, error-code, order-field tables.

Pure: no socket, no client library, so every table is unit-tested on its own.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Final

from quantnb.domain.model import OrderStatus, OrderType, Side, TimeInForce
from quantnb.errors import ConfigError, GatewayError


class ErrorKind(StrEnum):
    """What an IB error code means to us, which decides who hears about it and how loudly."""

    INFO = "info"  # farm status, notices: debug log only
    WARNING = "warning"  # worth a warning, nothing to do
    ORDER_REJECTED = "order_rejected"  # an order of ours was refused
    ORDER_CANCELLED = "order_cancelled"  # an order was cancelled (by us or the server)
    ORDER_REQUEST_REFUSED = "order_request_refused"  # a cancel/modify was refused; order stands
    CONNECTIVITY = "connectivity"  # the gateway lost / regained its link, or refused ours
    MARKET_DATA = "market_data"  # missing permissions, delayed data, too many tickers
    PACING = "pacing"  # historical-data pacing violation or a query IB gave up on
    CONTRACT = "contract"  # unknown or ambiguous contract
    ACCOUNT = "account"  # the gateway is logged in to another account than the session's
    ERROR = "error"  # anything else


# Farm status and other notices: 2100-2199 are all informational, plus a few stray ones.
INFO_CODES: Final = frozenset({2104, 2106, 2107, 2108, 2158, 2119, 2100, 2103, 2105, 2157})
WARNING_CODES: Final = frozenset({399, 10167, 2109, 2110, 2137, 2150, 2161, 2168, 2169, 404, 434})
# an order of ours was refused and is done
ORDER_REJECTION_CODES: Final = frozenset(
    {201, 103, 106, 107, 109, 110, 111, 113, 116, 135, 161, 163, 383, 10149}
)  # fmt: skip
# 202 confirms a cancellation.
ORDER_CANCEL_CODES: Final = frozenset({202})
# A cancel or modification was refused; the order itself is as it was: 104 (modify a filled
# order), 105 (modification does not match the order), 10147/10148 (cancel of an unknown or a
# done order).
ORDER_REQUEST_REFUSED_CODES: Final = frozenset({104, 105, 10147, 10148})
CONNECTIVITY_CODES: Final = frozenset({1100, 1101, 1102, 502, 503, 504, 326, 1300, 2110})
MARKET_DATA_CODES: Final = frozenset({354, 10167, 10168, 101, 10089, 10090, 10186, 10197})
PACING_CODES: Final = frozenset({162, 366, 420, 100})
CONTRACT_CODES: Final = frozenset({200})

# 1101: reconnected but market-data subscriptions are lost; 1102: reconnected with data kept.
DATA_LOST_CODES: Final = frozenset({1101})

_CLASSIFY_ORDER: Final = (
    (CONNECTIVITY_CODES, ErrorKind.CONNECTIVITY),
    (PACING_CODES, ErrorKind.PACING),
    (CONTRACT_CODES, ErrorKind.CONTRACT),
    (ORDER_CANCEL_CODES, ErrorKind.ORDER_CANCELLED),
    (ORDER_REQUEST_REFUSED_CODES, ErrorKind.ORDER_REQUEST_REFUSED),
    (ORDER_REJECTION_CODES, ErrorKind.ORDER_REJECTED),
    (MARKET_DATA_CODES, ErrorKind.MARKET_DATA),
    (INFO_CODES, ErrorKind.INFO),
    (WARNING_CODES, ErrorKind.WARNING),
)


def classify_error(code: int) -> ErrorKind:
    """The kind of an IB error code (unknown codes are ``ERROR``; other 21xx notices ``INFO``)."""
    code = int(code)
    for codes, kind in _CLASSIFY_ORDER:
        if code in codes:
            return kind
    if 2100 <= code < 2200:
        return ErrorKind.INFO
    return ErrorKind.ERROR


# IB order status -> ours. PreSubmitted is working at IB (e.g. a stop not yet triggered);
# ValidationError is ib_async's mark for a warning on a live order; Inactive is a refusal.
ORDER_STATUS: Final[dict[str, OrderStatus]] = {
    "PendingSubmit": OrderStatus.PENDING,
    "ApiPending": OrderStatus.PENDING,
    "PreSubmitted": OrderStatus.SUBMITTED,
    "Submitted": OrderStatus.SUBMITTED,
    "PendingCancel": OrderStatus.SUBMITTED,
    "ValidationError": OrderStatus.SUBMITTED,
    "ApiCancelled": OrderStatus.CANCELLED,
    "Cancelled": OrderStatus.CANCELLED,
    "Filled": OrderStatus.FILLED,
    "Inactive": OrderStatus.REJECTED,
}


def to_order_status(ib_status: str, filled: float = 0.0, remaining: float = 0.0) -> OrderStatus:
    """Our status for an IB status plus fill counts (a working order with fills is partial)."""
    status = ORDER_STATUS.get(ib_status)
    if status is None:
        raise GatewayError(
            f"unknown IB order status {ib_status!r}; known: {', '.join(sorted(ORDER_STATUS))}"
        )
    if not status.is_done and filled > 0 and remaining > 0:
        return OrderStatus.PARTIALLY_FILLED
    return status


ORDER_TYPE_TO_IB: Final[dict[OrderType, str]] = {
    OrderType.MARKET: "MKT",
    OrderType.LIMIT: "LMT",
    OrderType.STOP: "STP",
    OrderType.STOP_LIMIT: "STP LMT",
    OrderType.TRAILING_STOP: "TRAIL",
    OrderType.MARKET_ON_CLOSE: "MOC",
    OrderType.LIMIT_ON_CLOSE: "LOC",
}

# MOO/LOO are MKT/LMT with tif OPG
TIF_TO_IB: Final[dict[TimeInForce, str]] = {t: t.value for t in TimeInForce}

SIDE_TO_IB: Final[dict[Side, str]] = {Side.BUY: "BUY", Side.SELL: "SELL"}
# orders say BUY/SELL, executions say BOT/SLD
IB_TO_SIDE: Final[dict[str, Side]] = {
    "BUY": Side.BUY,
    "SELL": Side.SELL,
    "BOT": Side.BUY,
    "SLD": Side.SELL,
}


def to_ib_order_type(order_type: OrderType | str) -> str:
    """IB ``orderType`` for one of our order types."""
    try:
        return ORDER_TYPE_TO_IB[OrderType(order_type)]
    except (ValueError, KeyError):
        raise ConfigError(
            f"order type {order_type!r} has no IB equivalent; use one of "
            f"{', '.join(t.name for t in ORDER_TYPE_TO_IB)}"
        ) from None


def to_ib_tif(tif: TimeInForce | str) -> str:
    """IB ``tif`` for our time in force."""
    try:
        return TIF_TO_IB[TimeInForce(tif)]
    except (ValueError, KeyError):
        raise ConfigError(
            f"time in force {tif!r} is not supported; use one of {', '.join(TIF_TO_IB)}"
        ) from None


def to_ib_action(side: Side | str) -> str:
    """IB ``action`` (BUY/SELL) for our side."""
    try:
        return SIDE_TO_IB[Side(str(side).upper())]
    except ValueError:
        raise ConfigError(f"side {side!r} is not BUY or SELL") from None


def from_ib_side(action: str) -> Side:
    """Our side for an IB order action (BUY/SELL) or execution side (BOT/SLD)."""
    key = str(action).strip().upper()
    if key not in IB_TO_SIDE:
        raise GatewayError(f"IB side {action!r} is not one of {', '.join(IB_TO_SIDE)}")
    return IB_TO_SIDE[key]
