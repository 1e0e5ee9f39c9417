"""Interactive Brokers adapters: connection, data feed, broker, and their pure helpers.

Only this package imports the IB client library (through ``quantnb.ib.client``). The pure
modules (config, tables, pacing, cache) import without it; the rest load on first use.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

from quantnb.ib.cache import BarCache
from quantnb.ib.config import IBConfig, is_configured, mask_account
from quantnb.ib.loop import LoopThread
from quantnb.ib.pacing import PacingGuard
from quantnb.ib.tables import ErrorKind, classify_error, to_order_status

if TYPE_CHECKING:
    from quantnb.ib.broker import LiveBroker
    from quantnb.ib.connection import ErrorEvent, IBConnection
    from quantnb.ib.feed import LiveDataFeed

_LAZY = {
    "IBConnection": "quantnb.ib.connection",
    "ErrorEvent": "quantnb.ib.connection",
    "LiveDataFeed": "quantnb.ib.feed",
    "LiveBroker": "quantnb.ib.broker",
}

__all__ = [
    "BarCache",
    "ErrorEvent",
    "ErrorKind",
    "IBConfig",
    "IBConnection",
    "LiveBroker",
    "LiveDataFeed",
    "LoopThread",
    "PacingGuard",
    "classify_error",
    "is_configured",
    "mask_account",
    "to_order_status",
]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'quantnb.ib' has no attribute {name!r}")
